"""The answers stages: one arm answers the held-out set and is scored, or its scores are reused."""

from __future__ import annotations

import dataclasses

from advisor.cache import documents_fingerprint, fingerprint, model_fingerprint
from advisor.corpus.evalset import EvalSet
from advisor.measure.arms import BASELINE, Arm, ArmKind
from advisor.measure.evaluate import AnswerBook, ArmRun, measure_arm, qa_metrics
from advisor.measure.whole_corpus import WholeCorpusFit
from advisor.stages.context import RunContext
from advisor.stages.index import BuiltIndex
from advisor.stages.models import LoadedModels
from advisor.stages.feedback import feedback_note
from advisor.stages.train import TunedModel, card_seconds, training_note


def arm_of(ctx: RunContext, kind: ArmKind, models: LoadedModels, index: BuiltIndex, tuned: TunedModel | None,
           evalset: EvalSet, whole: WholeCorpusFit, rated_held_out: int = 0) -> Arm:
    """The arm of `kind`, answering with the base weights or the tuned ones, with its retriever, one-off cost,
    notes and cache key."""
    notes = ["reference arm: the base model alone, answering closed-book"] if kind.name == BASELINE else []
    one_off = 0.0
    if kind.retrieval:
        notes.append(index.note(ctx.config))
        one_off += index.stats["seconds"]
    if kind.tuned:
        notes.append(training_note(tuned.training, ctx.config))
        priced = card_seconds(tuned.training, models.device)
        one_off += priced
        if priced > tuned.training.seconds:
            notes.append(f"the one-off cost counts the fine-tune's {tuned.training.seconds:.1f} s on each of its "
                         f"{tuned.training.processes} GPUs")
    if kind.from_feedback:
        notes.append(feedback_note(tuned.feedback, rated_held_out))
        one_off += tuned.feedback.seconds
    passages = whole.passages if kind.whole_corpus else None
    if passages:
        notes.append(f"all {len(passages)} training documents in every prompt "
                     f"({whole.prompt_tokens:,} tokens of the model's {whole.context_window:,})")
    key = fingerprint(tuned.key if kind.tuned else models.key, index.key if kind.retrieval else None,
                      documents_fingerprint(evalset.train_documents) if passages else None, evalset.fingerprint(),
                      # continuations are compared with the true text in its embedding
                      model_fingerprint(models.embedding.path) if evalset.documents else None)
    return Arm(kind, tuned.model if kind.tuned else models.base, index.retriever if kind.retrieval else None, key,
               one_off_seconds=one_off, notes=notes, passages=passages)


def answers_stage(ctx: RunContext, kind: ArmKind, models: LoadedModels, index: BuiltIndex,
                  tuned: TunedModel | None, evalset: EvalSet, whole: WholeCorpusFit,
                  rated_held_out: int = 0, book: AnswerBook | None = None) -> tuple[Arm, ArmRun] | None:
    """The arm of `kind` and its scores; None for the whole-corpus arm when the corpus does not fit the window
    (the progress event says why). With `book`, the run's answers so far: a prompt an earlier arm asked the same
    weights is answered from it."""
    if kind.whole_corpus and not whole.fits:
        why = f"skipped: {whole.why_not()}"
        ctx.progress(kind.name, 0, 0, why, status="skipped")
        return None
    arm = arm_of(ctx, kind, models, index, tuned, evalset, whole, rated_held_out)
    return arm, measured(ctx, arm, evalset, models, book, tuned.key if kind.tuned else models.key)


def measured(ctx: RunContext, arm: Arm, evalset: EvalSet, models: LoadedModels, book: AnswerBook | None = None,
             model_key: str | None = None) -> ArmRun:
    """Scores one arm, or reuses its scores from an earlier run with the same inputs."""
    from rag.embedding import embed_texts

    cfg = ctx.config
    cached = ctx.cache.get(f"arm-{arm.name}", arm.key)
    if cached is not None:
        run = ArmRun.from_dict(cached)
        ctx.progress(arm.name, evalset.n, evalset.n, "reused from an earlier run", result=run.means())
        return run
    ctx.progress(arm.name, 0, evalset.n)
    run = measure_arm(arm, evalset, models.tokenizer, max_new_tokens=cfg.max_new_tokens,
                      metrics=qa_metrics(cfg.format_regex), format_regex=cfg.format_regex,
                      embed=lambda texts: embed_texts(models.embedder, texts), book=book, model_key=model_key,
                      on_item=lambda done, total: ctx.progress(arm.name, done, total))
    ctx.cache.put(f"arm-{arm.name}", arm.key, dataclasses.asdict(run))
    ctx.progress(arm.name, evalset.n, evalset.n, result=run.means())
    return run


