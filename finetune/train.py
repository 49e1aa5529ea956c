"""LoRA training with peft and the transformers Trainer, stopped by a wall-clock budget."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class LoraSettings:
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    learning_rate: float = 5e-4
    epochs: float = 3.0
    max_steps: int | None = None
    min_steps: int = 0  # small data sets get more passes, up to this many steps
    batch_size: int = 4
    seed: int = 0
    target_modules: list[str] | str | None = None  # None: peft's choice for the architecture


@dataclass
class TrainResult:
    adapter_dir: str
    steps: int
    planned_steps: int
    seconds: float
    tokens: int
    stopped_by_budget: bool
    trainable_parameters: int
    losses: list[dict] = field(default_factory=list)  # {"step", "loss"} as logged

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "tokens_per_second": self.tokens_per_second}


def _lora_model(model, settings: LoraSettings):
    from peft import LoraConfig, TaskType, get_peft_model

    def config(targets):
        return LoraConfig(task_type=TaskType.CAUSAL_LM, r=settings.rank, lora_alpha=settings.alpha,
                          lora_dropout=settings.dropout, target_modules=targets)

    try:
        return get_peft_model(model, config(settings.target_modules))
    except ValueError:
        # peft knows no default target modules for this architecture: adapt every linear layer.
        return get_peft_model(model, config("all-linear"))


def train_lora(model, tokenizer, examples: list[dict], settings: LoraSettings, adapter_dir: str | Path,
               *, device: str, budget_seconds: float, on_step=None):
    """Wraps `model` with LoRA (in place), trains it on `examples`, saves the adapter as safetensors.

    `on_step(step, planned_steps, loss_or_None)` is called after every optimizer step.
    Returns (peft_model, TrainResult).
    """
    import torch
    import tempfile

    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    if not examples:
        raise ValueError("no training examples")
    torch.manual_seed(settings.seed)
    peft_model = _lora_model(model, settings)
    steps_per_epoch = math.ceil(len(examples) / settings.batch_size)
    planned = settings.max_steps or max(1, settings.min_steps, math.ceil(steps_per_epoch * settings.epochs))

    class BudgetAndProgress(TrainerCallback):
        def __init__(self):
            self.start = None
            self.stopped_by_budget = False
            self.last_loss = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.last_loss = float(logs["loss"])

        def on_step_end(self, args, state, control, **kwargs):
            if on_step:
                on_step(state.global_step, planned, self.last_loss)
            if time.perf_counter() - self.start > budget_seconds and state.global_step < planned:
                self.stopped_by_budget = True
                control.should_training_stop = True
            return control

    callback = BudgetAndProgress()
    scratch = tempfile.TemporaryDirectory(prefix="advisor-trainer-")  # the Trainer wants one; we save no checkpoints
    args = TrainingArguments(
        output_dir=scratch.name, per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, max_steps=planned, lr_scheduler_type="linear",
        warmup_steps=max(1, planned // 10), logging_steps=1, save_strategy="no", report_to="none",
        disable_tqdm=True, seed=settings.seed, use_cpu=device == "cpu", dataloader_pin_memory=False,
        remove_unused_columns=False, include_num_input_tokens_seen=True,
        bf16=device == "cuda" and torch.cuda.is_bf16_supported())
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    trainer = Trainer(model=peft_model, args=args, train_dataset=examples, data_collator=collator,
                      callbacks=[callback])
    trainer.remove_callback(PrinterCallback)  # library code reports through on_step, never by printing
    start = time.perf_counter()
    try:
        trainer.train()
    finally:
        scratch.cleanup()
    seconds = time.perf_counter() - start
    peft_model.eval()
    adapter_dir = Path(adapter_dir)
    peft_model.save_pretrained(adapter_dir, safe_serialization=True)
    losses = [{"step": e["step"], "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e]
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    result = TrainResult(str(adapter_dir), trainer.state.global_step, planned, seconds,
                         int(trainer.state.num_input_tokens_seen or 0), callback.stopped_by_budget,
                         trainable, losses)
    return peft_model, result


def load_adapter(model, adapter_dir: str | Path):
    """The base model with a saved adapter applied, for inference."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir)).eval()


def merged_for_inference(peft_model):
    """Folds the adapter into the weights, as a deployment would: answers cost what the base model's do."""
    return peft_model.merge_and_unload().eval()
