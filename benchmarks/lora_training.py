"""LoRA training throughput: the project's `train_lora` against plain training loops (and TRL when installed).

`python -m benchmarks.lora_training [--model PATH | --shape-only PATH] [--device cpu|cuda|auto] [--seconds N]
[--repeats N] [--out PATH]` trains the same LoRA (rank 8, alpha 16, every linear layer) on the same examples
(the bundled ferry sample: corpus text blocks of 256 tokens and its question/answer pairs) with each recipe for
a fixed wall-clock window, recipes interleaved within every repeat after a warm-up, prints a table and writes
benchmarks/results/lora_training-<device>.json. Only the advisor's corpus reader, `finetune`, `rag.prompting`,
torch, transformers, peft (and trl when present) are imported, so it runs on a bare GPU machine without the
advisor's other dependencies.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import importlib.metadata
import importlib.util
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.corpus.qa import load_qa  # the advisor's core imports only numpy beyond the standard library
from advisor.corpus.loading import load_corpus
from finetune.compiled_layers import layers_compiled
from finetune.data import IGNORE_INDEX, training_examples
from finetune.packing import PackedCollator, real_tokens
from finetune.train import LoraSettings, train_lora, uses_bf16
from rag.prompting import build_prompt, encode_prompt

from benchmarks.common import (RESULTS, SAMPLE, Weights, add_weights_arguments, chosen_weights, load_causal_lm,
                               machine, matrix_rates, progress, quiet_libraries, resolve_device, spread,
                               write_json_atomically)

MAX_LEN = 256
# Epochs enough that the window, not the data plan, ends every run: on a GPU ours then grows its batch
# (finetune.gpu_batch) as a large corpus would make it.
SETTINGS = LoraSettings(rank=8, alpha=16, batch_size=4, target_modules="all-linear", epochs=100)
# Examples per step for the other recipes: the advisor's, or on a GPU the batch ours chose in its first run.
STEP_BATCH = SETTINGS.batch_size
# The model 10 times larger (--larger): SmolLM2-1.7B's shape (1.71 B parameters), random weights.
LARGER_SHAPE = {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24, "num_attention_heads": 32,
                "num_key_value_heads": 32, "vocab_size": 49152, "max_position_embeddings": 8192,
                "tie_word_embeddings": True, "rms_norm_eps": 1e-5, "rope_theta": 130000}
DEFAULT_SECONDS = {"cpu": 30.0, "cuda": 20.0}
# None of these may load: the GPU machine has none of them (checked at the end of every run).
HEAVY_MODULES = ("chromadb", "langchain_text_splitters", "gguf", "textual", "sentence_transformers")


# ---- the workload every recipe trains on ---------------------------------------------------------------------

@dataclass
class Workload:
    base: Any  # the model every run deep-copies; never trained itself
    tokenizer: Any
    examples: list[dict]
    blocks: int  # how many of the examples are corpus text blocks (the rest are question/answer pairs)
    device: str
    parameters: int


def load_workload(weights: Weights, device: str) -> Workload:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(weights.path)
    model = load_causal_lm(weights, device, base_dtype(device))
    pairs = [(build_prompt(tokenizer, pair.question), pair.answer) for pair in load_qa(SAMPLE / "qa.jsonl")]
    texts = [document.text for document in load_corpus(SAMPLE / "corpus").documents]
    examples, blocks = training_examples(tokenizer, texts, pairs, MAX_LEN, encode_prompt)
    return Workload(model, tokenizer, examples, blocks, device, sum(p.numel() for p in model.parameters()))


def base_dtype(device: str):
    """The base model's weights as the advisor loads them on `device` (advisor.models.load_generator), which its
    fine-tune then trains on: bf16 on a CUDA GPU that has it (peft keeps the LoRA weights in fp32), else fp32."""
    import torch

    return torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32


def lora_config():
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.CAUSAL_LM, r=SETTINGS.rank, lora_alpha=SETTINGS.alpha,
                      lora_dropout=SETTINGS.dropout, target_modules=SETTINGS.target_modules)


def synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


# ---- measuring a run -------------------------------------------------------------------------------------------

@dataclass
class Window:
    """One timed run of a recipe."""
    seconds: float
    steps: int
    real_tokens: int  # padding excluded
    padded_tokens: int  # what the model computed on
    extra: dict = field(default_factory=dict)


class ForwardLog:
    """Every forward pass through a model's decoder: when it began, its tokens with and without padding.

    Hooked on the decoder (not the top model, whose forward peft calls directly, bypassing hooks), so it
    counts the same way for every recipe, whoever builds the batches.
    """

    def __init__(self, model):
        self.starts: list[float] = []
        self.padded: list[int] = []
        self._real: list[Any] = []  # tensors, summed at the end: no device sync per step
        model.get_decoder().register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.starts.append(time.perf_counter())
        self.padded.append(ids.numel())
        # Packed batches carry position ids instead of a mask (ours, TRL's): their padding is told apart by those.
        self._real.append(real_tokens({"input_ids": ids, "attention_mask": kwargs.get("attention_mask"),
                                       "position_ids": kwargs.get("position_ids")}))

    def __len__(self) -> int:
        return len(self.starts)

    def tokens(self, since: int = 0) -> tuple[int, int]:
        """(real, padded) tokens of the forward passes from number `since` on."""
        return int(sum(int(r) for r in self._real[since:])), sum(self.padded[since:])


class HandLoop:
    """A plain PyTorch loop: AdamW over the LoRA weights, batches grouped by length as the Trainer groups them,
    padded by the same collator `train_lora` uses on a CPU; optionally under bf16 autocast. The levers a GPU step
    may take (benchmarks/gpu_step.py): `packed` batches (finetune.packing, as ours on a GPU), a `fused` AdamW, no
    wait for the device after every step (`sync`), the model `compiled` by torch.compile or its decoder layers
    (`compiled_layers`, as finetune.compiled_layers compiles them for ours), `batch` examples a step."""

    def __init__(self, work: Workload, autocast: bool, *, packed: bool = False, fused: bool = False,
                 sync: bool = True, compiled: bool = False, compiled_layers: bool = False, batch: int | None = None):
        import torch
        from peft import get_peft_model
        from torch.utils.data import DataLoader
        from transformers import DataCollatorForSeq2Seq
        from transformers.trainer_pt_utils import LengthGroupedSampler

        self.work = work
        model = copy.deepcopy(work.base) if autocast else copy.deepcopy(work.base).float()  # fp32: fp32 weights
        self.log = ForwardLog(model)
        torch.manual_seed(SETTINGS.seed)
        self.model = get_peft_model(model, lora_config()).train()
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad],
                                           lr=SETTINGS.learning_rate, **({"fused": True} if fused else {}))
        self.forward = torch.compile(self.model) if compiled else self.model
        self.compiled_layers = contextlib.ExitStack()  # for the loop's lifetime: nothing else runs this model
        if compiled_layers:
            self.compiled_layers.enter_context(layers_compiled(self.model))
        self.sync = sync
        batch = batch or STEP_BATCH
        sampler = LengthGroupedSampler(batch, lengths=[len(e["input_ids"]) for e in work.examples],
                                       generator=torch.Generator().manual_seed(SETTINGS.seed))
        collate = PackedCollator(work.tokenizer.pad_token_id or 0, MAX_LEN) if packed else \
            DataCollatorForSeq2Seq(work.tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)
        loader = DataLoader(work.examples, batch_size=batch, sampler=sampler, collate_fn=collate)
        self.batches = itertools.chain.from_iterable(itertools.repeat(loader))  # epoch after epoch
        self.precision = (lambda: torch.autocast(work.device, dtype=torch.bfloat16)) if autocast \
            else contextlib.nullcontext

    def step(self) -> None:
        batch = {k: v.to(self.work.device) if hasattr(v, "to") else v for k, v in next(self.batches).items()}
        with self.precision():
            loss = self.forward(**batch).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.sync:
            synchronize(self.work.device)  # so the clock sees the step end, as a loop that logs its loss would

    def run(self, *, seconds: float | None = None, steps: int | None = None) -> Window:
        """Steps until `steps` are done or `seconds` have passed (the last step started inside the window)."""
        first, done = len(self.log), 0
        start = time.perf_counter()
        while (steps is None or done < steps) and (seconds is None or time.perf_counter() - start < seconds):
            self.step()
            done += 1
        synchronize(self.work.device)
        elapsed = time.perf_counter() - start
        real, padded = self.log.tokens(since=first)
        return Window(elapsed, done, real, padded)


# ---- the recipes ---------------------------------------------------------------------------------------------

def train_ours(work: Workload, seconds: float, compile_layers: bool = False) -> dict[str, Window]:
    """`finetune.train.train_lora` with the window as its budget, on a fresh copy of the base model; with
    `compile_layers`, its decoder layers compiled (compile_warm_up pays the compilation before the timed windows;
    each call's first step's time is "first_step_seconds").

    Two rows: the whole call (what a user gets from the budget: LoRA wrapping, the Trainer's setup, the steps,
    saving the adapter) and its training steps alone.
    """
    name = "ours_compiled" if compile_layers else "ours"
    model = copy.deepcopy(work.base)
    log = ForwardLog(model)
    step_ends: list[float] = []
    called = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lora-bench-adapter-") as adapter_dir:
        # ours as the advisor trains (compiled on a GPU only where the budget repays it: never in a short window)
        settings = dataclasses.replace(SETTINGS, compile_layers=True if compile_layers else None)
        _, result = train_lora(model, work.tokenizer, work.examples, settings, adapter_dir, device=work.device,
                               budget_seconds=seconds, on_step=lambda *_: step_ends.append(time.perf_counter()))
    real, padded = log.tokens()
    global STEP_BATCH
    STEP_BATCH = result.batch_size  # the others train at the batch ours chose (on a CPU, the advisor's)
    extra = {"budget_seconds": seconds, "budget_overshoot_seconds": result.seconds - seconds, "batch_size": result.batch_size,
             "planned_steps": result.planned_steps, "seconds_per_step": result.seconds_per_step,
             "trainer_real_tokens": result.tokens, "hook_real_tokens": real}
    whole = Window(result.seconds, result.steps, result.tokens, padded, extra)
    if not step_ends or not len(log):
        return {name: whole}
    loop_seconds = step_ends[-1] - log.starts[0]
    extra["setup_seconds"] = log.starts[0] - called  # LoRA wrapping and the Trainer's setup
    extra["first_step_seconds"] = step_ends[0] - log.starts[0]  # its one-off costs: kernel set-up, compilation
    extra["compiled"] = int(result.compiled)
    return {name: whole, f"{name}: steps only": Window(loop_seconds, result.steps, result.tokens, padded)}


def train_by_hand(autocast: bool) -> Callable[[Workload, float], dict[str, Window]]:
    def train(work: Workload, seconds: float) -> dict[str, Window]:
        name = "hand_autocast" if autocast else "hand_fp32"
        return {name: HandLoop(work, autocast).run(seconds=seconds)}
    return train


def train_with_trl(packing: bool, best: bool = False) -> Callable[[Workload, float], dict[str, Window]]:
    """TRL's SFTTrainer with its defaults (bf16, gradient checkpointing, ...), or at its best (`best`: bf16, packing, no
    gradient checkpointing), LoRA, ours' batch, max length 256; the window is timed from the start of training
    (dataset preparation and setup excluded)."""
    def train(work: Workload, seconds: float) -> dict[str, Window]:
        import datasets
        from datasets import Dataset
        from transformers import PrinterCallback, TrainerCallback
        from trl import SFTConfig, SFTTrainer

        datasets.disable_progress_bars()

        class StopAfterWindow(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                self.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                self.end = time.perf_counter()
                control.should_training_stop = self.end - self.start >= seconds
                return control

        model = copy.deepcopy(work.base)
        log = ForwardLog(model)
        window = StopAfterWindow()
        with tempfile.TemporaryDirectory(prefix="lora-bench-trl-") as out:
            tuned = {"bf16": True, "gradient_checkpointing": False} if best else {}
            config = SFTConfig(output_dir=out, per_device_train_batch_size=STEP_BATCH, max_length=MAX_LEN,
                               packing=packing, max_steps=10**6, learning_rate=SETTINGS.learning_rate,
                               save_strategy="no", report_to="none", disable_tqdm=True, seed=SETTINGS.seed,
                               use_cpu=work.device == "cpu", dataloader_pin_memory=False, **tuned)
            dataset = Dataset.from_list([{"input_ids": e["input_ids"]} for e in work.examples])
            trainer = SFTTrainer(model=model, args=config, processing_class=work.tokenizer, train_dataset=dataset,
                                 peft_config=lora_config())
            trainer.add_callback(window)
            trainer.remove_callback(PrinterCallback)  # its closing summary would break up the progress lines
            first = len(log)
            trainer.train()
        real, padded = log.tokens(since=first)
        name = "trl_best" if best else "trl_packing" if packing else "trl_sft"
        return {name: Window(window.end - window.start, trainer.state.global_step, real, padded,
                             {"bf16": config.bf16, "gradient_checkpointing": config.gradient_checkpointing})}
    return train


# Why bf16 recipes are left out on this device (set by main once the matrix rates are measured): a CPU without bf16
# matrix units (no AVX-512 BF16, no AMX) emulates bf16 hundreds of times slower than it computes fp32, and one step
# would outlast the window many times over. The advisor trains in fp32 there (finetune.train.uses_bf16).
NO_BF16: str | None = None


def bf16_missing() -> str | None:
    return NO_BF16


def trl_missing() -> str | None:
    missing = [m for m in ("trl", "datasets") if importlib.util.find_spec(m) is None]
    return f"skipped: {' and '.join(missing)} not installed" if missing else None


@dataclass
class Recipe:
    name: str
    about: str
    precision: Callable[[str], str]  # device -> "fp32" or "bf16": which matrix rate bounds it
    train: Callable[[Workload, float], dict[str, Window]]
    unavailable: Callable[[], str | None] = lambda: None


def _ours_precision(device: str) -> str:
    return "bf16" if uses_bf16(SETTINGS.precision, device) else "fp32"


RECIPES = [
    Recipe("ours", "finetune.train.train_lora, budget = the window (Trainer, grouped by length)", _ours_precision,
           train_ours),
    Recipe("ours_compiled",
           "ours with each decoder layer compiled (finetune.compiled_layers; compiled in an untimed warm-up)",
           _ours_precision, lambda work, seconds: train_ours(work, seconds, compile_layers=True)),
    Recipe("hand_fp32", "plain loop: AdamW, length-grouped batches, DataCollatorForSeq2Seq", lambda d: "fp32",
           train_by_hand(autocast=False)),
    Recipe("hand_autocast", "the same loop under bf16 autocast", lambda d: "bf16", train_by_hand(autocast=True),
           bf16_missing),
    Recipe("trl_sft", "TRL SFTTrainer defaults", lambda d: "bf16", train_with_trl(packing=False),
           lambda: bf16_missing() or trl_missing()),
    Recipe("trl_packing", "TRL SFTTrainer defaults, packing=True", lambda d: "bf16", train_with_trl(packing=True),
           lambda: bf16_missing() or trl_missing()),
    Recipe("trl_best", "TRL SFTTrainer at its best: bf16, packing, no gradient checkpointing", lambda d: "bf16",
           train_with_trl(packing=True, best=True), lambda: bf16_missing() or trl_missing()),
]


# ---- the device's limit, the warm-up and the profile -----------------------------------------------------------

def cpu_seconds_used() -> tuple[float, float] | None:
    """(CPU seconds every process on the machine has used, CPU seconds this process has used); Linux only."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK"), time.process_time()


def others_cpu_seconds(before, after) -> float:
    """CPU seconds other processes took between two `cpu_seconds_used` readings: on a small machine they slow
    every recipe, and CPU threads that wait on each other most of all."""
    if before is None or after is None:
        return 0.0
    return max(0.0, (after[0] - before[0]) - (after[1] - before[1]))


def profile_hand_loop(work: Workload, steps: int = 3, top: int = 10) -> list[dict]:
    """The ops that take the time in `steps` steps of the fp32 hand loop (after one unprofiled step), by self
    CPU time on CPU and self CUDA time on CUDA, as a share of all profiled time."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    loop = HandLoop(work, autocast=False)
    loop.run(steps=1)
    cuda = work.device == "cuda"
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
        loop.run(steps=steps)
    events = prof.key_averages()
    if cuda:  # kernels hold the device time; the ops that launched them give readable names
        total = kernel_microseconds(events)
        ranked = [(e.key, e.self_device_time_total) for e in events if e.device_type == DeviceType.CPU]
    else:
        total = sum(e.self_cpu_time_total for e in events)
        ranked = [(e.key, e.self_cpu_time_total) for e in events]
    ranked.sort(key=lambda item: item[1], reverse=True)
    return [{"name": name, "percent": round(100 * t / total, 2)} for name, t in ranked[:top] if total]


def kernel_microseconds(events) -> float:
    """The device time of a profile's kernels (`prof.key_averages()`), summed, in microseconds."""
    from torch.autograd import DeviceType

    return sum(e.self_device_time_total for e in events if e.device_type != DeviceType.CPU)


def warm_up(work: Workload, bf16: bool) -> None:
    """One bf16 autocast step where bf16 is measured (the fp32 kernels were warmed by the profile), and the
    Trainer's imports, which only the first `train_lora` would pay for."""
    from transformers import Trainer, TrainingArguments  # noqa: F401

    if bf16:
        HandLoop(work, autocast=True).run(steps=1)


def compile_warm_up(work: Workload, recipes: list[Recipe], seconds: float) -> float | None:
    """Where ours_compiled is among `recipes`: one untimed call of it, a window long, which compiles the decoder
    layers in its first step (torch.compile keeps what it compiled for the process), and again for the other kind of
    batch if one comes (with an attention mask or without), so that the timed windows measure compiled steps; returns
    the first step's seconds (what a user's first compiled training pays once)."""
    if not any(r.name == "ours_compiled" for r in recipes):
        return None
    try:
        windows = train_ours(work, seconds, compile_layers=True)
    except Exception:  # noqa: BLE001  (the recipe's own run reports why it fails)
        return None
    return windows["ours_compiled"].extra.get("first_step_seconds")


# ---- figures, table and JSON -----------------------------------------------------------------------------------

def figures(window: Window, ours: Window | None, limits: dict[str, float], precision: str) -> dict[str, float]:
    real_rate = window.real_tokens / window.seconds if window.seconds > 0 else 0.0
    values = {
        "real_tokens_per_second": real_rate,
        "padded_tokens_per_second": window.padded_tokens / window.seconds if window.seconds > 0 else 0.0,
        "steps": window.steps,
        "padding_fraction": 1 - window.real_tokens / window.padded_tokens if window.padded_tokens else 0.0,
        "seconds_per_step": window.seconds / window.steps if window.steps else float("nan"),
        "utilisation_percent_6N": 100 * real_rate / limits[f"{precision}_6N"],
        "utilisation_percent_4N": 100 * real_rate / limits[f"{precision}_4N"],
    }
    if ours is not None and ours.seconds > 0 and ours.real_tokens:
        values["ratio_to_ours"] = real_rate / (ours.real_tokens / ours.seconds)
    return values | {k: v for k, v in window.extra.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def print_report(report: dict) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        Console = Table = None

    def median(row, key, fmt):
        value = row["figures"].get(key, {}).get("median")
        return "" if value is None else format(value, fmt)

    headers = ["recipe", "precision", "real tok/s (min-max)", "padded tok/s", "steps", "padding", "s/step",
               "x ours", "util % (6N)", "util % (4N)"]
    rows = []
    for row in report["rows"]:
        if "skipped" in row:
            rows.append([row["name"], "", row["skipped"]] + [""] * (len(headers) - 3))
            continue
        real = row["figures"]["real_tokens_per_second"]
        rows.append([row["name"], row["precision"], f"{real['median']:.0f} ({real['min']:.0f}-{real['max']:.0f})",
                     median(row, "padded_tokens_per_second", ".0f"), median(row, "steps", ".0f"),
                     f"{100 * row['figures']['padding_fraction']['median']:.0f}%",
                     median(row, "seconds_per_step", ".2f"), median(row, "ratio_to_ours", ".2f"),
                     median(row, "utilisation_percent_6N", ".1f"), median(row, "utilisation_percent_4N", ".1f")])
    s = report["settings"]
    title = (f"LoRA training throughput on {report['machine'].get('gpu', report['device'])}: "
             f"{report['weights']['note']}, {s['repeats']} repeat(s) x {s['seconds']:.0f} s windows, medians")
    limits = report["limits"]
    notes = [f"weights: {report['weights']['path']} ({report['parameters'] / 1e6:.1f} M parameters)",
             (f"matmul: fp32 {report['matrix_flops']['fp32'] / 1e12:.2f} TFLOP/s, "
              f"bf16 {report['matrix_flops']['bf16'] / 1e12:.2f} TFLOP/s -> limit at 6N FLOP/token: "
              f"fp32 {limits['fp32_6N']:.0f}, bf16 {limits['bf16_6N']:.0f} tok/s")]
    if report.get("compile_seconds") is not None:
        notes.append(f"ours_compiled: its first step, which compiles the decoder layers, took "
                     f"{report['compile_seconds']:.1f} s (in the warm-up; once per process)")
    ours = next((r for r in report["rows"] if r["name"] == "ours" and "figures" in r), None)
    if ours:
        f = ours["figures"]
        notes.append(f"ours: budget overshoot {f['budget_overshoot_seconds']['median']:+.2f} s (median; max "
                     f"{f['budget_overshoot_seconds']['max']:+.2f} s); setup before the first step "
                     f"{f.get('setup_seconds', {}).get('median', float('nan')):.1f} s of each call")
    disturbed = [f"{row['name']} repeat {i + 1} ({w['extra']['others_cores']:.2f} cores)"
                 for row in report["rows"] if ":" not in row["name"]  # a sub-row shares its recipe's call
                 for i, w in enumerate(row.get("repeats", [])) if w["extra"].get("others_cores", 0) > 0.1]
    if disturbed:
        notes.append("warning: other processes kept over a tenth of a core busy during " + ", ".join(disturbed)
                     + ": those figures understate the device")
    profile = report.get("profile_hand_fp32") or []
    notes.append("profile of 3 hand_fp32 steps: " + ", ".join(f"{p['name']} {p['percent']:.0f}%" for p in profile))

    if Console is None:
        print(title)
        print(" | ".join(headers))
        for r in rows:
            print(" | ".join(str(c) for c in r))
    else:
        table = Table(title=title, title_justify="left")
        for h in headers:
            table.add_column(h, justify="left" if h in ("recipe", "precision") else "right")
        for r in rows:
            table.add_row(*r)
        Console(width=160).print(table)
    print("\n".join(notes))
    larger = report.get("larger_model")
    for row in (larger or {}).get("rows", []):
        if "figures" in row:
            print(f"larger model ({larger['parameters'] / 1e9:.2f} B parameters), {row['name']}: "
                  f"{median(row, 'real_tokens_per_second', '.0f')} real tok/s, "
                  f"{median(row, 'utilisation_percent_6N', '.1f')}% of the {row['precision']} limit (6N)")
        else:
            print(f"larger model, {row['name']}: {row['skipped']}")
    if (larger or {}).get("compile_seconds") is not None:
        print(f"larger model, ours_compiled: its compiling first step took {larger['compile_seconds']:.1f} s")


def time_larger_model(weights: Weights, device: str, seconds: float, repeats: int, rates: dict[str, float]) -> dict:
    """Ours, the bf16 hand loop and TRL at its best on SmolLM2-1.7B's shape (random weights, the same tokenizer and
    examples): {"parameters", "shape", "limits", "rows"}."""
    import shutil

    from transformers import LlamaConfig

    with tempfile.TemporaryDirectory(prefix="lora-bench-larger-") as folder:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
            if (Path(weights.path) / name).is_file():
                shutil.copy(Path(weights.path) / name, folder)
        LlamaConfig(**LARGER_SHAPE).save_pretrained(folder)
        progress(f"the larger model: {folder} (SmolLM2-1.7B's shape, random weights)")
        work = load_workload(Weights(folder, random=True), device)
    limits = {f"{p}_{k}N": rates[p] / (k * work.parameters) for p in rates for k in (6, 4)}
    chosen = [r for r in RECIPES if r.name in ("ours", "ours_compiled", "hand_autocast", "trl_best")]
    compiling = compile_warm_up(work, chosen, seconds)
    windows, failures = run_recipes(work, seconds, repeats, chosen)
    return {"parameters": work.parameters, "shape": LARGER_SHAPE, "limits": limits, "compile_seconds": compiling,
            "rows": table_rows(windows, failures, device, limits, chosen)}


# ---- the conductor --------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lora_training", description=__doc__.splitlines()[0])
    add_weights_arguments(parser)
    parser.add_argument("--seconds", type=float, help="each recipe's window (default: 30 on CPU, 20 on CUDA)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int,
                        help=f"examples per step for every recipe (default: {SETTINGS.batch_size}, the advisor's; on a "
                             "GPU, the batch ours grows to)")
    parser.add_argument("--larger", action="store_true",
                        help="also time ours, the bf16 hand loop and TRL at its best on a model 10 times larger "
                             "(SmolLM2-1.7B's shape, random weights)")
    parser.add_argument("--recipes", nargs="+", choices=[r.name for r in RECIPES],
                        help="these recipes alone (default: all); ours runs first whenever chosen")
    parser.add_argument("--out", type=Path, help="JSON path (default: benchmarks/results/lora_training-<device>.json)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or (args.seconds is not None and args.seconds <= 0):
        parser.error("--repeats must be at least 1 and --seconds positive")
    for folder in filter(None, [args.model, args.shape_only]):
        if not (Path(folder) / "config.json").is_file():
            parser.error(f"{folder!r} has no config.json")
    return args


def run_recipes(work: Workload, seconds: float, repeats: int, recipes: list[Recipe] | None = None):
    """Every available recipe once per repeat, interleaved (so all see the same drift in clocks and temperatures).
    Returns ({row: [(repeat, window)]}, {recipe: why it failed})."""
    failures: dict[str, str] = {}
    windows: dict[str, list[tuple[int, Window]]] = {}
    for repeat in range(repeats):
        for recipe in recipes or RECIPES:
            if recipe.unavailable() or recipe.name in failures:
                continue
            try:
                before, called = cpu_seconds_used(), time.perf_counter()
                for row, window in recipe.train(work, seconds).items():
                    others = others_cpu_seconds(before, cpu_seconds_used())
                    window.extra["others_cores"] = others / (time.perf_counter() - called)
                    windows.setdefault(row, []).append((repeat, window))
                    progress(f"repeat {repeat + 1}/{repeats} {row}: {window.real_tokens / window.seconds:.0f} "
                             f"real tok/s, {window.steps} steps in {window.seconds:.1f} s")
            except Exception as exc:  # noqa: BLE001  (one broken recipe must not cost the others' figures)
                failures[recipe.name] = f"failed: {type(exc).__name__}: {exc}"
                progress(f"repeat {repeat + 1}/{repeats} {recipe.name}: {failures[recipe.name]}")
    return windows, failures


def table_rows(windows, failures, device: str, limits: dict[str, float], recipes: list[Recipe] | None = None) -> list[dict]:
    """One row per recipe (or per row a recipe reports), its figures as min/median/max over the repeats."""
    ours_by_repeat = dict(windows.get("ours", []))
    rows = []
    for recipe in recipes or RECIPES:
        why_not = recipe.unavailable() or failures.get(recipe.name)
        if why_not:
            rows.append({"name": recipe.name, "about": recipe.about, "skipped": why_not})
            continue
        precision = recipe.precision(device)
        for row, runs in windows.items():
            if row != recipe.name and not row.startswith(f"{recipe.name}:"):
                continue
            per_repeat = [figures(w, ours_by_repeat.get(repeat), limits, precision) for repeat, w in runs]
            keys = dict.fromkeys(k for values in per_repeat for k in values)
            rows.append({"name": row, "about": recipe.about, "precision": precision,
                         "figures": {k: spread([v[k] for v in per_repeat if k in v]) for k in keys},
                         "repeats": [dataclasses.asdict(w) for _, w in runs]})
    return rows


def main(argv=None) -> int:
    global SETTINGS  # every recipe reads the one LoRA set-up; --batch-size changes it for all of them alike
    args = parse_args(argv)
    if args.batch_size:  # a batch given is every recipe's, ours included: no growing on a GPU
        SETTINGS = dataclasses.replace(SETTINGS, batch_size=args.batch_size, gpu_batch=False)
    quiet_libraries()
    device = resolve_device(args.device)
    seconds = args.seconds or DEFAULT_SECONDS[device]
    weights = chosen_weights(args)
    out = args.out or RESULTS / f"lora_training-{device}.json"

    started = time.perf_counter()
    progress(f"loading {weights.path} ({weights.note}) on {device}")
    work = load_workload(weights, device)
    progress("timing matrix multiplies")
    rates = matrix_rates(device)
    limits = {f"{p}_{k}N": rates[p] / (k * work.parameters) for p in rates for k in (6, 4)}
    global NO_BF16
    if device == "cpu" and not uses_bf16("auto", device):
        NO_BF16 = (f"skipped: this CPU has no bf16 matrix units (bf16 matmul {rates['bf16'] / 1e9:.1f} GFLOP/s against "
                   f"fp32 {rates['fp32'] / 1e9:.0f}); the advisor trains in fp32 here")
    progress("warm-up: profiling 3 hand_fp32 steps" + ("" if NO_BF16 else ", one bf16 step"))
    try:
        profile = profile_hand_loop(work)
    except Exception as exc:  # noqa: BLE001  (the profile is a detail: the throughput figures must still come)
        profile = [{"name": f"profile failed: {type(exc).__name__}: {exc}", "percent": 0.0}]
    warm_up(work, bf16=not NO_BF16)

    chosen = [r for r in RECIPES if not args.recipes or r.name in args.recipes]
    compiling = compile_warm_up(work, chosen, seconds)
    windows, failures = run_recipes(work, seconds, args.repeats, chosen)
    rows = table_rows(windows, failures, device, limits, chosen)
    larger = time_larger_model(weights, device, seconds, args.repeats, rates) if args.larger else None

    report = {
        "benchmark": "lora_training", "device": device, "machine": machine(device),
        "weights": {"path": weights.path, "random": weights.random, "note": weights.note},
        "parameters": work.parameters,
        "settings": {"seconds": seconds, "repeats": args.repeats, "max_len": MAX_LEN,
                     "lora": dataclasses.asdict(SETTINGS), "examples": len(work.examples), "blocks": work.blocks,
                     "base_dtype": str(base_dtype(device)).removeprefix("torch."),
                     "pairs": len(work.examples) - work.blocks,
                     "example_tokens": sum(len(e["input_ids"]) for e in work.examples), "sample": str(SAMPLE),
                     "order": "interleaved: every recipe once per repeat, in table order",
                     "warm_up": "one hand_fp32 step, 3 profiled hand_fp32 steps" + ("" if NO_BF16 else
                                                                                     ", one hand_autocast step")
                     + ("" if compiling is None else ", one ours_compiled call (its compilation)"),
                     "flops_per_token": "6N (forward + backward); 4N also given: frozen base weights need no "
                                        "weight gradients, so LoRA's backward is nearer 2N than 4N"},
        "matrix_flops": rates, "limits": limits, "profile_hand_fp32": profile, "rows": rows,
        "compile_seconds": compiling,  # the first compiled step, in the warm-up: paid once per process
        **({"larger_model": larger} if larger else {}),
        "seconds_total": time.perf_counter() - started,
        "heavy_modules_imported": sorted(m for m in HEAVY_MODULES if m in sys.modules),
    }
    write_json_atomically(report, out)
    print_report(report)
    print(f"wrote {out} ({report['seconds_total']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
