"""The feedback stage: the fine-tune trained further on people's rated answers (KTO), or rebuilt from the adapter an
earlier run trained on the same ratings; and the rated-answers file it reads."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from advisor.cache import fingerprint
from advisor.errors import ConfigError
from advisor.files import write_json
from advisor.stages.context import RunContext, log
from advisor.stages.models import LoadedModels
from advisor.stages.train import TunedModel

RATED_FILE = "feedback_training.jsonl"  # what `advisor tune --from-feedback` writes into the new run folder


@dataclass(frozen=True)
class RatedQuestion:
    """One line of a --feedback-ratings file: an answer to a question, and whether people rated it good."""

    question: str
    answer: str
    good: bool

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "good": self.good}


def read_rated(path: str | Path) -> tuple[list[RatedQuestion], list[str]]:
    """The rated answers of a --feedback-ratings file, and a line for each line skipped (unreadable, or lacking
    a question, an answer or a true/false "good"). A file that cannot be read is a ConfigError."""
    try:
        lines = Path(path).expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the rated answers {str(path)!r} cannot be read ({getattr(exc, 'strerror', None) or exc})",
                          hint="pass --feedback-ratings a JSONL file, or let `advisor tune RUN_DIR --from-feedback` "
                               "write one") from None
    rated, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            question, answer, good = data["question"], data["answer"], data["good"]
            if not (isinstance(question, str) and question.strip() and isinstance(answer, str) and answer.strip()
                    and isinstance(good, bool)):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            problems.append(f"{Path(path).name} line {number} skipped: not "
                            '{"question": "...", "answer": "...", "good": true|false}')
            continue
        rated.append(RatedQuestion(question, answer, good))
    return rated, problems


def checked_rated(path: str | Path) -> tuple[list[RatedQuestion], list[str]]:
    """read_rated, and a ConfigError naming how many ratings there are and how many are needed when too few."""
    from finetune.feedback import FeedbackUnavailable, check_enough

    rated, problems = read_rated(path)
    try:
        check_enough([r.good for r in rated])
    except FeedbackUnavailable as exc:
        raise ConfigError(f"{exc} ({str(path)!r})",
                          hint="rate more answers (the app's results screen: u, d, p; or advisor feedback RUN_DIR "
                               "--add FILE), then run advisor tune RUN_DIR --from-feedback again") from None
    return rated, problems


def completion(prompt: str, answer: str) -> str:
    """The answer as the model writes it after `prompt`: after a plain "Answer:" with a space first."""
    return answer if not prompt or prompt[-1].isspace() else " " + answer


def feedback_stage(ctx: RunContext, rated: list[RatedQuestion], models: LoadedModels,
                   tuned: TunedModel) -> TunedModel:
    """The fine-tune with a LoRA trained by KTO on `rated`, each answer after the closed-book prompt the
    fine-tuned arm answers from. The new layers go into the fine-tune's weights; `tuned.model` answers as before
    only inside `with <returned>.model.disable_adapter():`."""
    from finetune.feedback import FeedbackTraining, RatedAnswer, load_feedback_adapter, train_on_ratings
    from finetune.train import uses_bf16
    from rag.prompting import build_prompt

    cfg, tokenizer = ctx.config, models.tokenizer
    examples = []
    for item in rated:
        prompt = build_prompt(tokenizer, item.question, None)
        examples.append(RatedAnswer(prompt, completion(prompt, item.answer), item.good))
    settings = cfg.lora_settings()
    bf16 = uses_bf16(settings.precision, models.device, models.base_parameters or None)
    key = fingerprint(tuned.key, [dataclasses.astuple(e) for e in examples], settings.rank, settings.alpha,
                      settings.target_modules, cfg.feedback_learning_rate, cfg.seed, bf16, cfg.feedback_budget_minutes)
    adapter_dir = ctx.run_dir / "feedback_adapter"
    cached = ctx.cache.get("feedback", key)
    if cached is not None and (adapter_dir / "adapter_model.safetensors").is_file():
        ctx.progress("feedback", cached["steps"], cached["steps"], "reused from an earlier run")
        return dataclasses.replace(tuned, model=load_feedback_adapter(tuned.model, adapter_dir), key=key,
                                   feedback=FeedbackTraining.from_dict(cached))
    ctx.progress("feedback", 0, None, f"{len(examples)} rated answers")
    model, training = train_on_ratings(
        tuned.model, tokenizer, examples, adapter_dir, rank=settings.rank, alpha=settings.alpha,
        target_modules=settings.target_modules, budget_seconds=cfg.feedback_budget_minutes * 60,
        learning_rate=cfg.feedback_learning_rate, seed=cfg.seed, bf16=bf16,
        on_step=lambda step, planned, loss: ctx.progress("feedback", step, planned, f"loss {loss:.3f}", loss=loss))
    ctx.progress("feedback", training.steps, training.steps, f"{training.steps} steps on {len(examples)} ratings")
    write_json(ctx.run_dir / "feedback_training.json", training.to_dict())
    log.info("feedback training: %s", json.dumps(training.to_dict()))
    ctx.cache.put("feedback", key, training.to_dict())
    return dataclasses.replace(tuned, model=model, key=key, feedback=training)


def feedback_note(training, left_out: int) -> str:
    """What the training on ratings saw and did, and how the comparison was kept fair."""
    budget = " (stopped by its time budget)" if training.stopped_by_budget else ""
    margin = (f"; last reward margin of good over bad answers {training.margin:+.3f}"
              if training.margin is not None else "")
    weights = (f", good answers weighed {training.desirable_weight:.2g} times" if training.desirable_weight != 1 else
               f", bad answers weighed {training.undesirable_weight:.2g} times" if training.undesirable_weight != 1
               else "")
    return (f"the fine-tune trained further with KTO (TRL) on {training.examples} rated answers ({training.good} "
            f"good, {training.bad} bad{weights}), a LoRA on top, beta {training.beta:g}, "
            f"lr {training.learning_rate:g}: "
            f"{training.steps} steps in {training.seconds:.1f} s{budget}{margin}; the {left_out} held-out "
            "question(s) those ratings answered are left out, so every arm is measured on the others")
