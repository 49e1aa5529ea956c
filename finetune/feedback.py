"""Trains a LoRA on top of a fine-tuned model from people's thumbs up and down (TRL's KTOTrainer), within a time
budget."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

MIN_EXAMPLES = 8  # rated answers at least: fewer teach a preference nothing a reader could measure
MIN_EACH = 2  # of each kind, good and bad: KTO weighs what people liked against what they did not
EPOCHS = 3.0  # passes over the ratings, as the budget allows
BATCH = 4  # KTO estimates its KL term from the other answers of a batch: at least 2
BETA = 0.1  # TRL's default: how far from the fine-tune the trained model may move
# For a LoRA on a small model: TRL's default (1e-6) is a full fine-tune's. At 5e-4 (the SFT LoRA's), 59 ratings of
# SmolLM2-135M's answers on the ferry sample collapsed every answer to one capitalised word.
LEARNING_RATE = 5e-5


class FeedbackUnavailable(RuntimeError):
    """The training libraries are missing, or there are too few ratings; the message says which and how many."""


@dataclass(frozen=True)
class RatedAnswer:
    """One training example: the prompt the fine-tuned model answers from, an answer, and whether it was good."""

    prompt: str
    answer: str
    good: bool


@dataclass
class FeedbackTraining:
    adapter_dir: str
    examples: int
    good: int
    bad: int
    steps: int  # optimizer steps that ran
    planned_steps: int  # what the epochs asked for
    seconds: float  # set-up, training and saving
    stopped_by_budget: bool
    learning_rate: float
    beta: float = BETA
    desirable_weight: float = 1.0  # the good answers' losses weighed up when they are fewer than the bad ones'
    undesirable_weight: float = 1.0
    losses: list[dict] = field(default_factory=list)  # {"step", "loss"} as logged
    margin: float | None = None  # the last logged reward margin: good answers' reward over bad ones'

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FeedbackTraining":
        return cls(**data)


def check_enough(labels: list[bool]) -> None:
    """Raises FeedbackUnavailable naming how many ratings there are and how many are needed; `labels`: each rated
    answer's, True for good."""
    good = sum(labels)
    bad = len(labels) - good
    if len(labels) < MIN_EXAMPLES or min(good, bad) < MIN_EACH:
        raise FeedbackUnavailable(
            f"{len(labels)} rated answer(s) to train on ({good} good, {bad} bad); training on ratings needs at "
            f"least {MIN_EXAMPLES}, with at least {MIN_EACH} good and {MIN_EACH} bad")


def class_weights(good: int, bad: int) -> tuple[float, float]:
    """(desirable_weight, undesirable_weight) that weigh the good and the bad answers alike in all, as the KTO paper
    advises (Ethayarajh et al. 2024: desirable_weight x good over undesirable_weight x bad in [1, 4/3]); the larger
    side keeps weight 1."""
    if good and bad and good < bad:
        return bad / good, 1.0
    if good and bad and bad < good:
        return 1.0, good / bad
    return 1.0, 1.0


def _trainer_parts():
    try:
        import datasets  # noqa: F401  (the trainer reads its data from a datasets.Dataset)
        from trl import KTOConfig, KTOTrainer
    except ImportError as exc:
        raise FeedbackUnavailable(f"training on ratings needs the 'adapt' extras ({exc.name} is missing): "
                                  "pip install 'ft-rag-advisor[adapt]'") from None
    return KTOConfig, KTOTrainer


def train_on_ratings(model, tokenizer, examples: list[RatedAnswer], out_dir: str | Path, *, rank: int, alpha: int,
                     target_modules, budget_seconds: float, learning_rate: float = LEARNING_RATE,
                     epochs: float = EPOCHS,
                     seed: int = 0, bf16: bool = False, on_step=None):
    """`model` (the fine-tune, adapter merged) with a new LoRA trained by KTO on `examples`: the answers rated good
    made likelier and the bad ones less likely than under the fine-tune itself, the reference (the new adapter
    switched off). The LoRA layers go into `model` in place; answer with the returned PeftModel, and read the
    fine-tune inside `with peft_model.disable_adapter():`. No step starts that would end past `budget_seconds`;
    `on_step(step, planned, loss)` after each step. Returns (PeftModel, FeedbackTraining); the adapter is saved in
    `out_dir`."""
    import datasets
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import PrinterCallback

    from finetune.trainer_budget import budget_callback

    KTOConfig, KTOTrainer = _trainer_parts()
    check_enough([e.good for e in examples])
    start = time.perf_counter()
    data = Dataset.from_list([{"prompt": e.prompt, "completion": e.answer, "label": e.good} for e in examples])
    good = sum(e.good for e in examples)
    desirable, undesirable = class_weights(good, len(examples) - good)
    lora = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=target_modules,
                      task_type="CAUSAL_LM")
    device = str(next(model.parameters()).device)
    model.train()
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # progress goes through on_step, never by printing
    try:
        with tempfile.TemporaryDirectory(prefix="advisor-feedback-") as scratch:
            args = KTOConfig(output_dir=scratch, num_train_epochs=epochs, per_device_train_batch_size=BATCH,
                             learning_rate=learning_rate, beta=BETA, desirable_weight=desirable,
                             undesirable_weight=undesirable, warmup_steps=0.1, seed=seed, logging_steps=1,
                             save_strategy="no", report_to="none", disable_tqdm=True, use_cpu=device == "cpu",
                             dataloader_pin_memory=False, bf16=bf16, max_length=1024,
                             activation_checkpointing=False)  # ratings are few and short: memory is no issue
            trainer = KTOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                                 peft_config=lora,
                                 callbacks=[budget_callback(start, budget_seconds, on_step)])
            trainer.remove_callback(PrinterCallback)
            trainer.train()
    finally:
        if bars:
            datasets.enable_progress_bars()
    peft_model = trainer.model.eval()
    out_dir = Path(out_dir)
    peft_model.save_pretrained(str(out_dir))
    history = trainer.state.log_history
    losses = [{"step": entry["step"], "loss": entry["loss"]} for entry in history if "loss" in entry]
    margins = [entry["rewards/margins"] for entry in history if "rewards/margins" in entry]
    steps = trainer.state.global_step
    return peft_model, FeedbackTraining(str(out_dir), len(examples), good, len(examples) - good, steps,
                                        trainer.state.max_steps, time.perf_counter() - start,
                                        steps < trainer.state.max_steps, learning_rate, BETA, desirable,
                                        undesirable, losses, float(margins[-1]) if margins else None)


def load_feedback_adapter(model, adapter_dir: str | Path):
    """The PeftModel an earlier train_on_ratings saved, on `model` (the same fine-tune)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir)).eval()
