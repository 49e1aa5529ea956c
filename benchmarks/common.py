"""What every benchmark shares: the sample and the weights it runs on, the machine it describes, spreads over
repeats, quiet libraries, and JSON written atomically. Standard library only at import (torch when called)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "ferry"
RESULTS = ROOT / "benchmarks" / "results"
# Where the advisor keeps its dequantized copy of the packaged SmolLM2 (advisor/gguf_cache.py, not imported here).
CONVERTED_MODELS = Path.home() / ".cache" / "ft-rag-advisor" / "gguf"
SHAPE_ONLY_NOTE = "random weights of the same shape: throughput only"


@dataclass
class Weights:
    path: str
    random: bool  # built from config.json alone

    @property
    def note(self) -> str:
        return SHAPE_ONLY_NOTE if self.random else "pretrained weights"


def default_weights() -> Weights:
    """The advisor's dequantized copy of the packaged SmolLM2-135M-Instruct, if a run has made one."""
    folders = sorted(CONVERTED_MODELS.glob("SmolLM2-135M-Instruct.Q4_1-*/model.safetensors"),
                     key=lambda p: p.stat().st_mtime)
    if not folders:
        raise SystemExit(f"no converted SmolLM2 under {CONVERTED_MODELS} (run the advisor's demo once), "
                         "or pass --model FOLDER or --shape-only FOLDER")
    return Weights(str(folders[-1].parent), random=False)


def add_weights_arguments(parser, shape_only_note: str = "") -> None:
    """--model or --shape-only, and --device: how each benchmark that loads a causal LM is told which and where."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="a local Hugging Face model folder (default: the advisor's converted SmolLM2)")
    source.add_argument("--shape-only", metavar="PATH", help="a folder with config.json and tokenizer files: random "
                                                             "weights of that shape" + shape_only_note)
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")


def chosen_weights(args) -> Weights:
    """The weights add_weights_arguments' options name: --shape-only's, --model's, else default_weights()."""
    if args.shape_only:
        return Weights(args.shape_only, random=True)
    return Weights(args.model, random=False) if args.model else default_weights()


def load_causal_lm(weights: Weights, device: str, dtype):
    """The causal LM of `weights` in `dtype` on `device`: pretrained, or random weights of its shape (seed 0), drawn
    on the device (a 1.7B model's random weights take a CPU long)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if weights.random:
        torch.manual_seed(0)
        with torch.device(device):
            return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(weights.path), dtype=dtype)
    return AutoModelForCausalLM.from_pretrained(weights.path, dtype=dtype).to(device)


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def machine(device: str) -> dict:
    import torch

    info = {"platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version()}
    for package in ("torch", "transformers", "peft", "accelerate", "trl"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            info[package] = importlib.metadata.version(package)
    if device == "cuda":
        info |= {"gpu": torch.cuda.get_device_name(), "cuda": torch.version.cuda,
                 "bf16_supported": torch.cuda.is_bf16_supported()}
    return info


def write_json_atomically(data: dict, path: Path) -> None:
    """Writes `data` as JSON at `path` whole or not at all, with the day it was measured (`measured_on`)."""
    import datetime

    data = {**data, "measured_on": data.get("measured_on") or datetime.date.today().isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False, encoding="utf-8") as tmp:
        json.dump(data, tmp, indent=2)
    os.chmod(tmp.name, 0o644)  # a temporary file starts private; the results are not
    os.replace(tmp.name, path)


def matrix_rates(device: str) -> dict[str, float]:
    """FLOP/s of a square matmul in fp32 and in bf16 (sized to keep the device busy), timed by torch.utils.benchmark."""
    import torch
    from torch.utils import benchmark

    size, seconds = (8192, 1.0) if device == "cuda" else (1024, 2.0)
    rates = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
        timer = benchmark.Timer("a @ b", globals={"a": a, "b": b}, num_threads=torch.get_num_threads())
        rates[name] = 2 * size**3 / timer.blocked_autorange(min_run_time=seconds).median
    return rates


def resolve_device(choice: str) -> str:
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    return choice


def quiet_libraries() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecation notices, once per model copy


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def save_results(data: dict, name: str, device: str, out: Path | None = None) -> Path:
    """Writes a benchmark's JSON (by default benchmarks/results/<name>-<device>.json) and says where."""
    path = out or RESULTS / f"{name}-{device}.json"
    write_json_atomically(data, path)
    seconds = data.get("seconds")
    print(f"wrote {path}" + (f" ({seconds:.0f} s in all)" if isinstance(seconds, (int, float)) else ""))
    return path
