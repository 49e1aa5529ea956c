"""LoRA training with peft and the transformers Trainer, planned to fit a wall-clock budget."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from finetune.compiled_layers import layers_compiled
from finetune.data import IGNORE_INDEX
from finetune.gpu_batch import checked_gpu_batch, largest_divisor, probe_training
from finetune.loss import accepts_positions, labelled_positions_loss
from finetune.packing import PackedCollator, real_tokens

log = logging.getLogger(__name__)


@dataclass
class LoraSettings:
    rank: int = 8
    alpha: int = 16
    # No dropout on the LoRA path: on a 2-core CPU it cost SmolLM2 a fifth of its step time (a random mask and a
    # copy of every adapted layer's input) and a copy of those inputs kept for the backward pass; the calibration
    # world's verdicts and measures held without it (the note of issue 25).
    dropout: float = 0.0
    learning_rate: float = 5e-4
    epochs: float = 3.0
    max_steps: int | None = None
    min_steps: int = 0  # small data sets get more passes, up to this many steps
    batch_size: int = 4
    seed: int = 0
    target_modules: list[str] | str | None = None  # None: peft's choice for the architecture
    precision: str = "auto"  # "auto": bf16 where the hardware computes it natively (see uses_bf16), "fp32", "bf16"
    micro_batch_size: int | None = None  # examples per forward pass (see micro_batch); None: chosen per device
    gpu_batch: bool = True  # on a CUDA GPU, grow the batch to see the data plan within the budget (finetune.gpu_batch)
    packing: bool | None = None  # each batch's examples packed in rows (finetune.packing); None: on a CUDA GPU
    # Each decoder layer compiled while training (finetune.compiled_layers); None: on one CUDA GPU, from the step
    # after COMPILE_DECISION_STEP where the steps measured so far say it pays within the budget (compile_pays).
    compile_layers: bool | None = None


@dataclass
class TrainResult:
    adapter_dir: str
    steps: int  # optimizer steps that really ran
    planned_steps: int  # what the learning-rate schedule was laid out for (data and budget)
    seconds: float  # the whole call: step timing, training and saving the adapter
    tokens: int  # real tokens trained on, padding excluded
    stopped_by_budget: bool  # the budget cut the data plan short (in planning, or mid-run)
    trainable_parameters: int
    examples: int = 0
    batch_size: int = 0
    steps_wanted: int = 0  # what the data plan (epochs, min/max steps) asked for before the budget
    seconds_per_step: float = 0.0  # measured, the first step (which pays one-off warm-up) left out
    budget_seconds: float = 0.0
    losses: list[dict] = field(default_factory=list)  # {"step", "loss"} as logged
    precision: str = "fp32"  # the arithmetic training ran in: "fp32" or "bf16" (autocast)
    seconds_before_first_step: float = 0.0  # LoRA wrapping and the Trainer's set-up, inside the budget
    resumed_from_step: int = 0  # the checkpoint an interrupted training went on from (0: from the start)
    processes: int = 1  # training processes (DDP under torchrun), each taking its share of every batch
    compiled: bool = False  # the decoder layers ran compiled (settings.compile_layers, where the model has them)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def passes(self) -> float:
        """How many times, on average, each training example was seen."""
        return self.steps * self.batch_size / self.examples if self.examples else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "tokens_per_second": self.tokens_per_second, "passes": self.passes}


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


# Below this many parameters, bfloat16 autocast costs a CPU more than it saves: casting every small matmul's
# inputs outweighs the faster arithmetic. LoRA steps on this machine's AMX CPU, fp32 against bf16: 1.0M
# parameters 0.094 against 0.185 s/step, 3.5M 0.18 against 0.29, 18.6M 0.59 against 0.59 (even), and
# SmolLM2-135M 1.8x faster in bf16 (benchmarks/lora_training.py).
CPU_BF16_MIN_PARAMETERS = 20_000_000


def uses_bf16(precision: str, device: str, parameters: int | None = None) -> bool:
    """Whether training runs under bfloat16 autocast: asked for, or ("auto") where the hardware computes
    bfloat16 natively (a CUDA GPU that supports it; a CPU with AVX-512 BF16 or AMX, for a model of at least
    CPU_BF16_MIN_PARAMETERS `parameters`: None counts as large). Elsewhere fp32, which is exact."""
    import torch

    if precision in ("fp32", "bf16"):
        return precision == "bf16"
    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device == "cpu":
        if parameters is not None and parameters < CPU_BF16_MIN_PARAMETERS:
            return False
        cpu = torch.cpu
        return any(getattr(cpu, check, lambda: False)() for check in ("_is_avx512_bf16_supported",
                                                                         "_is_amx_tile_supported"))
    return False


# On a CPU, passes of 2 examples: SmolLM2-135M in bf16 on the 2-core machine peaked at 3.45 GiB against 4.62 for
# passes of 4, at 285 against 268 real tokens/s (40 s each); passes of 1 were slower (240). A small model keeps its
# whole batch in one pass: the 1M-parameter calibration model took 0.088 s a step in passes of 2, 0.050 in one.
CPU_MICRO_BATCH = 2
CPU_MICRO_BATCH_MIN_PARAMETERS = CPU_BF16_MIN_PARAMETERS


def micro_batch(settings: LoraSettings, device: str, parameters: int | None = None,
                processes: int = 1) -> tuple[int, int]:
    """(examples per forward pass, passes per optimizer step) of each of `processes` training processes, which
    share every batch: the optimizer step sees `batch_size` examples either way. On a CPU, a model of
    CPU_MICRO_BATCH_MIN_PARAMETERS or more (or of unknown size) takes smaller passes, which keep the activations
    (and the full-vocabulary logits) of fewer examples in memory at once, and pad less, at no cost in speed; a GPU,
    or a smaller model, takes its whole share."""
    if settings.batch_size % processes:
        raise ValueError(f"a batch of {settings.batch_size} examples cannot be shared evenly by {processes} "
                         "processes: make the batch size a multiple of the number of processes")
    share = settings.batch_size // processes
    split = device == "cpu" and (parameters is None or parameters >= CPU_MICRO_BATCH_MIN_PARAMETERS)
    size = largest_divisor(share, settings.micro_batch_size or (CPU_MICRO_BATCH if split else share))
    return size, share // size  # the passes add up to the share exactly


def wanted_steps(settings: LoraSettings, examples: int) -> int:
    """The data plan: `epochs` passes, at least `min_steps` (small data sets get more passes), or
    exactly `max_steps`; the time budget may allow fewer."""
    steps_per_epoch = math.ceil(examples / settings.batch_size)
    return settings.max_steps or max(1, settings.min_steps, math.ceil(steps_per_epoch * settings.epochs))


class BudgetPlan:
    """How many steps fit the budget, re-estimated after every step from the measured step times,
    and the learning-rate schedule laid over them (linear warm-up, then linear decay to the last
    planned step), so the schedule runs its course by the end of the budget.

    Nothing is timed before training: the data plan stands until the first step ends, and the first
    step, which pays one-off costs (kernel set-up, allocations), counts only until others are measured."""

    def __init__(self, wanted: int, budget_seconds: float, started: float, reserve: float):
        self.wanted, self.budget, self.started, self.reserve = wanted, budget_seconds, started, reserve
        self.step_seconds: list[float] = []
        self.total = wanted

    @property
    def warmup(self) -> int:
        return max(1, round(0.1 * self.total)) if self.total > 2 else 0

    @property
    def steady_step_seconds(self) -> list[float]:
        return self.step_seconds[1:] or self.step_seconds

    def update(self, done: int, now: float, last_step: float, one_off: bool = False) -> None:
        """After optimizer step `done` ended at `now` and took `last_step` seconds: how many steps fit. A `one_off`
        step (one that compiled the model, say) counts against the budget but not among the step times."""
        if not one_off or not self.step_seconds:
            self.step_seconds.append(last_step)
        steady = self.steady_step_seconds
        mean, slowest = sum(steady) / len(steady), max(steady)
        left = self.budget - (now - self.started) - self.reserve
        # The last step may be as slow as the slowest one seen: it must still end inside the budget.
        more = int((left - slowest) / mean) + 1 if mean > 0 and left >= slowest else 0
        self.total = max(done, 1, min(self.wanted, done + more))

    def lr_factor(self, step: int) -> float:
        """Multiplier of the peak learning rate at optimizer step `step` (0-based)."""
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))

    @property
    def cut_by_budget(self) -> bool:
        return self.total < self.wanted


COMPLETE = "complete.json"  # written into a checkpoint folder last: without it the checkpoint is half-written
SAVE_EVERY_STEPS = 10
# And at most once a minute: a checkpoint costs about as much as several fast steps (the 1M-parameter calibration
# model trained 35% slower saving every 10 steps), and an interruption then loses a minute of training at most.
SAVE_EVERY_SECONDS = 60.0


def latest_checkpoint(checkpoint_dir: str | Path | None) -> tuple[Path, dict] | None:
    """The newest checkpoint whose completeness marker was written, and the marker; None when there is none."""
    import json

    if not checkpoint_dir or not Path(checkpoint_dir).is_dir():
        return None
    complete = []
    for folder in Path(checkpoint_dir).glob("checkpoint-*"):
        try:
            complete.append((int(folder.name.split("-")[1]), folder, json.loads((folder / COMPLETE).read_text())))
        except (OSError, ValueError, IndexError):  # no marker (or a damaged one): half-written, ignored
            continue
    if not complete:
        return None
    _, folder, marker = max(complete, key=lambda item: item[0])
    return folder, marker


def _mark_complete(folder: Path, data: dict) -> None:
    """Writes the completeness marker into a checkpoint folder atomically: a reader sees all of it or none."""
    import json
    import os
    import tempfile

    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=f".{COMPLETE}.", delete=False, encoding="utf-8") as tmp:
        json.dump(data, tmp)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, folder / COMPLETE)


# A GPU's training logs its loss at most this often: logging reads the loss back from the device, which waits for
# every step queued before it, so logging each step of a small model would keep the GPU idle while Python runs.
GPU_LOG_SECONDS = 1.0


def log_due(device: str, since_last_log: float, stopping: bool) -> bool:
    """Whether the step just ended logs its loss (and the progress shown with it): on a CPU every step, whose own
    time dwarfs reading the loss; on a GPU once GPU_LOG_SECONDS have passed since the last log, and at the end."""
    return device != "cuda" or stopping or since_last_log >= GPU_LOG_SECONDS


def _collator(tokenizer, examples: list[dict], packing: bool):
    """Each batch packed in rows (finetune.packing: as long as the longest example, or the batch's longest where that
    computes fewer tokens), or its examples padded to the batch's longest."""
    if packing:
        pad = next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)
        return PackedCollator(pad, max(len(e["input_ids"]) for e in examples))
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)


# On an H200 (benchmarks/results/lora_training-cuda-h200.json, 2026-12-04), the decoder layers compiled made LoRA
# steps 1.42 (SmolLM2-135M) and 1.48 times (SmolLM2-1.7B's shape) as fast, for a compilation of 64-87 s in a fresh
# process (SmolLM2-135M's first compiled step, 16 CPU cores compiling).
GPU_COMPILE_SECONDS = 75.0
GPU_COMPILE_SPEEDUP = 1.4
# Where the choice is made: on this project's 2-core CPU compiled steps were slower (lora_training-cpu-compiled.json).
AUTO_COMPILE_DEVICES = ("cuda",)
# The steps measured uncompiled before the choice: the first pays one-off costs, the next ones give the step's time
# (the GPU probe's extrapolation from passes of 1 and 4 examples to 256 overstated it 9-35 times on the H200).
COMPILE_DECISION_STEP = 4


def compile_pays(eager_seconds: float, budget_seconds: float, compile_seconds: float = GPU_COMPILE_SECONDS,
                 speedup: float = GPU_COMPILE_SPEEDUP) -> bool:
    """Whether compiling the decoder layers trains on more data within the budget, or ends sooner: training that
    takes `eager_seconds` uncompiled (of which the budget allows `budget_seconds`) for longer than compiling costs
    plus the same training compiled. About 260 s of training on an H200 (GPU_COMPILE_SECONDS, GPU_COMPILE_SPEEDUP):
    a small corpus's few epochs end within seconds there, and a compilation would only delay them."""
    return min(eager_seconds, budget_seconds) > compile_seconds * speedup / (speedup - 1)


def _grown_for_gpu(peft_model, collator, examples: list[dict], settings: LoraSettings, budget_seconds: float,
                   bf16: bool, positions_only: bool) -> LoraSettings:
    """The settings with the batch, pass size and learning rate finetune.gpu_batch plans from a probe of this GPU,
    measured with the loss training will take (`positions_only`: labelled_positions_loss, else the model's own)."""
    import torch

    loss_of = (lambda model, batch: labelled_positions_loss(model, batch, bf16=bf16)[0]) if positions_only else None

    probe_passes = functools.partial(probe_training, peft_model.train(), collator, examples, device="cuda",
                                     bf16=bf16, loss_of=loss_of)

    def measure(sizes):
        try:
            return probe_passes(sizes)
        except torch.cuda.OutOfMemoryError as exc:  # a check's pass too large: checked_gpu_batch caps passes
            peft_model.zero_grad(set_to_none=True)
            raise MemoryError(str(exc)) from exc
        finally:
            torch.cuda.empty_cache()

    probe = probe_passes()
    torch.cuda.empty_cache()
    planned = checked_gpu_batch(probe, measure, torch.cuda.mem_get_info()[0], settings, len(examples),
                                budget_seconds, wanted_steps)
    log.info("GPU batch: %d examples a step in passes of %d (%d fit), learning rate %.2g, about %.3f s a step",
             planned.batch_size, planned.micro_batch, planned.fitting, planned.learning_rate, planned.step_seconds)
    return replace(settings, batch_size=planned.batch_size, micro_batch_size=planned.micro_batch,
                   learning_rate=planned.learning_rate)


def train_lora(model, tokenizer, examples: list[dict], settings: LoraSettings, adapter_dir: str | Path,
               *, device: str, budget_seconds: float, on_step=None, checkpoint_dir: str | Path | None = None,
               save_every: int = SAVE_EVERY_STEPS, save_seconds: float = SAVE_EVERY_SECONDS):
    """Wraps `model` with LoRA (in place), trains it on `examples`, saves the adapter as safetensors.

    The whole call keeps to `budget_seconds`, its set-up included: the number of steps (and so the
    learning-rate schedule) is re-planned from every measured step, and no step is started that would
    end past the budget. Runs under bf16 autocast where `uses_bf16` says so. `on_step(step,
    planned_steps, loss)` is called after every optimizer step, with that step's loss.

    With `checkpoint_dir`, a checkpoint (adapter, optimizer, schedule, random states, data position) is
    saved every `save_every` steps, but not within `save_seconds` of the last one, marked complete once written; a call that finds a complete one goes on
    from it, with the time already spent counted against the budget. Returns (peft_model, TrainResult).
    """
    import tempfile

    import torch
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    if not examples:
        raise ValueError("no training examples")
    resume = latest_checkpoint(checkpoint_dir)
    spent = resume[1]["seconds"] if resume else 0.0
    start = time.perf_counter() - spent  # a resumed training's budget counts the time spent before
    torch.manual_seed(settings.seed)
    peft_model = _lora_model(model, settings)
    packing = settings.packing if settings.packing is not None else device == "cuda"
    collator = _collator(tokenizer, examples, packing)
    parameters = sum(p.numel() for p in model.parameters())
    bf16 = uses_bf16(settings.precision, device, parameters)
    positions_only = accepts_positions(peft_model)  # else the model's own loss, over every position
    alone = int(os.environ.get("WORLD_SIZE", "1")) == 1  # not one of several processes (finetune.distributed)
    if resume and "batch_size" in resume[1]:  # the batch the interrupted training chose, for the same data order
        settings = replace(settings, **{k: resume[1][k] for k in ("batch_size", "micro_batch_size", "learning_rate")})
    elif device == "cuda" and settings.gpu_batch and alone:
        settings = _grown_for_gpu(peft_model, collator, examples, settings, budget_seconds, bf16, positions_only)
    # Compiling is chosen once steps have been measured (one process alone: all would have to choose alike).
    auto_compile = settings.compile_layers is None and device in AUTO_COMPILE_DEVICES and not resume and alone
    compiling = contextlib.ExitStack()  # the layers compiled until training ends
    compiled = []  # the step from which they ran compiled
    seen = [torch.tensor(0)]  # this process's real tokens in this call, on the device once training
    seen_before = resume[1].get("tokens", 0) if resume else 0  # by every process, before the interruption

    def tokens_seen() -> int:
        """Real tokens trained on, padding excluded, by every process (each must call it): read from the device."""
        return seen_before + int(trainer.accelerator.gather(seen[0].to(trainer.accelerator.device).reshape(1)).sum())

    plan = BudgetPlan(wanted_steps(settings, len(examples)), budget_seconds, start,
                      reserve=min(2.0, 0.02 * budget_seconds))  # for writing the adapter
    if resume:
        plan.step_seconds, plan.total = list(resume[1]["step_seconds"]), resume[1]["planned_steps"]

    class BudgetAndProgress(TrainerCallback):
        def __init__(self):
            self.last_loss = None
            self.training_started = self.step_started = self.last_log = None
            self.last_save = time.perf_counter()

        def on_train_begin(self, args, state, control, **kwargs):
            self.training_started = self.last_save = self.last_log = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            # Logged just after on_step_end, after every step (a GPU's: see log_due): the loss since the last log,
            # averaged over the processes; the main process tells it.
            self.last_log = time.perf_counter()
            if logs and "loss" in logs and state.is_world_process_zero:
                self.last_loss = float(logs["loss"])
                if on_step:
                    on_step(state.global_step, plan.total, self.last_loss)

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            plan.update(state.global_step, now, now - self.step_started,
                        one_off=bool(compiled) and state.global_step == compiled[0])  # it compiled
            if auto_compile and state.global_step == COMPILE_DECISION_STEP and state.global_step < plan.total:
                steady = plan.steady_step_seconds
                eager_left = (plan.wanted - state.global_step) * sum(steady) / len(steady)
                left = budget_seconds - (now - start)
                if compile_pays(eager_left, left) and compiling.enter_context(layers_compiled(peft_model)):
                    compiled.append(state.global_step + 1)
                log.info("decoder layers %s from step %d: the data plan's other steps would take about %.0f s "
                         "uncompiled, the budget leaves %.0f s", "compiled" if compiled else "not compiled",
                         state.global_step + 1, eager_left, left)
            # Each process has its own clock, but all must lay out the same learning rate, and stop and save at the
            # same step (one that stops or saves alone leaves the others waiting for it forever): the main
            # process's plan holds for all.
            plan.total, too_soon = main_process_value((plan.total, now - self.last_save < save_seconds))
            if state.global_step >= plan.total:
                control.should_training_stop = True
                control.should_save = False  # the adapter is saved next; a checkpoint of the end is not needed
            elif too_soon:
                control.should_save = False
            control.should_log = log_due(device, now - self.last_log, control.should_training_stop)
            return control

        def on_save(self, args, state, control, **kwargs):
            self.last_save = time.perf_counter()
            # Called once the Trainer has written the whole checkpoint, each process its own random state: once all
            # have, it counts, and the main process says so.
            trainer.accelerator.wait_for_everyone()
            tokens = tokens_seen()
            if state.is_world_process_zero:
                _mark_complete(Path(args.output_dir) / f"checkpoint-{state.global_step}",
                               {"step": state.global_step, "seconds": time.perf_counter() - start,
                                "step_seconds": plan.step_seconds, "planned_steps": plan.total,
                                "batch_size": settings.batch_size, "micro_batch_size": settings.micro_batch_size,
                                "learning_rate": settings.learning_rate, "tokens": tokens})

    def main_process_value(value):
        """The main process's `value`, on every process."""
        if trainer.accelerator.num_processes == 1:
            return value
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([value], from_process=0)[0]

    class BudgetTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            seen[0] = seen[0].to(inputs["input_ids"].device) + real_tokens(inputs)  # no wait for the device
            if not positions_only:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            loss, outputs = labelled_positions_loss(model, inputs, num_items_in_batch, bf16=bf16)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                # As the Trainer's own: the count is over every process's labels, and DDP averages the gradients.
                loss = loss * self.accelerator.num_processes
            return (loss, outputs) if return_outputs else loss

        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer, plan.lr_factor)
            return self.lr_scheduler

    scratch = None if checkpoint_dir else tempfile.TemporaryDirectory(prefix="advisor-trainer-")  # the Trainer wants one
    args = TrainingArguments(
        output_dir=str(checkpoint_dir) if checkpoint_dir else scratch.name,
        learning_rate=settings.learning_rate, max_steps=plan.wanted,  # the budget callback stops it sooner
        logging_steps=1, report_to="none",  # log_due overrules it on a GPU
        save_strategy="steps" if checkpoint_dir else "no", save_steps=save_every, save_total_limit=2,
        disable_tqdm=True, seed=settings.seed, use_cpu=device == "cpu", dataloader_pin_memory=False,
        remove_unused_columns=False,  # real tokens are counted by compute_loss, which never waits for the device
        ddp_find_unused_parameters=False,  # on several processes: every LoRA weight takes part in every step
        # Batches of similar lengths: far less padding to compute (examples range from a short
        # question and answer to a full block of corpus text).
        train_sampling_strategy="group_by_length",
        bf16=bf16)
    # Launched by torchrun (finetune.distributed), the Trainer trains on several processes (DDP) by itself; they
    # share each batch, so that an optimizer step sees `batch_size` examples however many there are.
    processes = args.world_size
    args.per_device_train_batch_size, args.gradient_accumulation_steps = micro_batch(settings, device, parameters,
                                                                                     processes)
    progress = BudgetAndProgress()
    trainer = BudgetTrainer(model=peft_model, args=args, train_dataset=examples, data_collator=collator,
                            callbacks=[progress])
    trainer.remove_callback(PrinterCallback)  # library code reports through on_step, never by printing
    try:
        with compiling:
            if settings.compile_layers and compiling.enter_context(layers_compiled(peft_model)):
                compiled.append(1)
            trainer.train(resume_from_checkpoint=str(resume[0]) if resume else None)
    finally:
        if scratch:
            scratch.cleanup()
    # Under mixed precision the Trainer wrapped the model's forward in autocast: unwrapped, the adapted
    # model answers in the same float32 arithmetic as every other arm.
    trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    peft_model.eval()
    tokens = tokens_seen()  # every process takes part, before one of them goes on to write
    adapter_dir = Path(adapter_dir)
    if trainer.is_world_process_zero():  # the other processes hold the same weights: one writes them
        peft_model.save_pretrained(adapter_dir, safe_serialization=True)
        log.info("adapter saved to %s", adapter_dir)
    trainer.accelerator.wait_for_everyone()  # none ends its process group while the adapter is being written
    seconds = time.perf_counter() - start
    losses = [{"step": e["step"], "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e]
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    steady = plan.steady_step_seconds
    result = TrainResult(str(adapter_dir), trainer.state.global_step, plan.total, seconds,
                         tokens, plan.cut_by_budget,
                         trainable, len(examples), settings.batch_size, plan.wanted,
                         sum(steady) / len(steady) if steady else 0.0, budget_seconds, losses,
                         "bf16" if bf16 else "fp32",
                         (progress.training_started or start) - start if not resume else 0.0,
                         resume[1]["step"] if resume else 0, processes, bool(compiled))
    return peft_model, result


def load_adapter(model, adapter_dir: str | Path):
    """The base model with a saved adapter applied, for inference."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir)).eval()


def merged_for_inference(peft_model):
    """Folds the adapter into the weights, as a deployment would: answers cost what the base model's do."""
    return peft_model.merge_and_unload().eval()
