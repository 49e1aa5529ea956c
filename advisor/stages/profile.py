"""The profile stage: how the base model reads the corpus, the corpus's profile, the held-out set, and whether
the whole corpus fits one prompt."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.corpus.evalset import EvalSet, build_eval_set
from advisor.corpus.loading import Corpus
from advisor.corpus.probes import NO_CHAT_TEMPLATE, question_writer
from advisor.corpus.profile import SHIPPED_REFERENCE_TEXT, CorpusProfile, profile_documents, reference_paragraphs
from advisor.corpus.qa import QAPair
from advisor.measure.evidence import ModelCheck
from advisor.measure.summary import RANDOM_WEIGHTS
from advisor.measure.whole_corpus import WholeCorpusFit, whole_corpus_fit
from advisor.stages.context import RunContext
from advisor.stages.models import LoadedModels


@dataclass(frozen=True)
class Profiled:
    model_check: ModelCheck  # whether the base model is trained, and how it reads the corpus
    profile: CorpusProfile
    evalset: EvalSet
    whole: WholeCorpusFit


def profile_stage(ctx: RunContext, corpus: Corpus, pairs: list[QAPair] | None, models: LoadedModels,
                  reference: list[str]) -> Profiled:
    from advisor.models import check_trained

    cfg = ctx.config
    ctx.progress("profile", 0, 1)
    model_check = check_trained(models.base, models.tokenizer, [d.text for d in corpus.documents])
    if not model_check.trained:
        ctx.warn(f"The base model has {model_check.verdict} (perplexity "
                 f"{model_check.perplexity:.0f} against {model_check.uniform_perplexity:.0f} "
                 f"for uniform guessing): {RANDOM_WEIGHTS}.")
    profile = profile_documents(corpus.documents, models.tokenizer,
                                reference_texts=reference or reference_paragraphs(SHIPPED_REFERENCE_TEXT),
                                seed=cfg.seed)
    ctx.progress("profile", 1, 1, result=profile)
    evalset = build_eval_set(corpus.documents, pairs, cfg.goal, eval_fraction=cfg.eval_fraction, seed=cfg.seed,
                             max_eval=cfg.max_eval, write_questions=_question_writer(ctx, models))
    for warning in evalset.warnings:
        ctx.warn(warning)
    return Profiled(model_check, profile, evalset, fit_of(cfg, evalset, models))


def fit_of(config, evalset: EvalSet, models: LoadedModels) -> WholeCorpusFit:
    """Whether every training document fits one prompt with the longest held-out question and the answer."""
    return whole_corpus_fit([d.text for d in evalset.train_documents],
                            max((p.question for p in evalset.pairs), key=len, default=""), models.tokenizer,
                            getattr(models.base.config, "max_position_embeddings", None) or 0,
                            config.max_new_tokens, config.full_context)


def _question_writer(ctx: RunContext, models: LoadedModels):
    """With --model-written-questions, a QuestionWriter on the base model (None when not asked, or when
    the model has no chat template to be asked with: then the run says so)."""
    if not ctx.config.model_written_questions:
        return None
    writer = question_writer(models.base, models.tokenizer)
    if writer is None:
        ctx.warn(NO_CHAT_TEMPLATE)
    return writer
