"""Where a LoRA training step's time goes on a GPU: the bf16 hand loop with one lever changed at a time.

`python -m benchmarks.gpu_step [--model PATH | --shape-only PATH] [--device cuda|cpu] [--seconds N] [--batch N]
[--out PATH]` trains SmolLM2's LoRA (benchmarks.lora_training's set-up, the bundled ferry sample) with the plain
bf16 loop: padded batches, then packed (finetune.packing, as the advisor's fine-tune packs on a GPU), then packed with
one more lever each: a fused AdamW, no wait for the device after every step, four times the examples a step, the
model compiled by torch.compile, or its decoder layers alone (finetune.compiled_layers; the first steps, which
compile, are timed apart). On a GPU, each variant's share of a step the device is busy (its kernels' time over the wall
clock, from two profiled steps) says whether the step waits on the device or on Python and launches. Prints a table and
writes benchmarks/results/gpu_step-<device>.json: which levers pay for the step's fixed cost on this device.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.common import (RESULTS, add_weights_arguments, chosen_weights, machine, progress, quiet_libraries,
                               resolve_device, write_json_atomically)
from benchmarks.lora_training import HandLoop, kernel_microseconds, load_workload

WARM_UP_STEPS = 3
VARIANTS = {
    "padded": {},
    "packed": {"packed": True},
    "packed, fused AdamW": {"packed": True, "fused": True},
    "packed, no wait each step": {"packed": True, "sync": False},
    "packed, 4x the batch": {"packed": True, "batch_factor": 4},
    "packed, compiled": {"packed": True, "compiled": True},
    "packed, layers compiled": {"packed": True, "compiled_layers": True},
}


def time_variant(work, options: dict, batch: int, seconds: float) -> dict:
    options = dict(options)
    batch *= options.pop("batch_factor", 1)
    loop = HandLoop(work, autocast=work.device == "cuda", batch=batch, **options)
    started = time.perf_counter()
    loop.run(steps=WARM_UP_STEPS)
    warm_up = time.perf_counter() - started
    window = loop.run(seconds=seconds)
    busy = device_busy_share(loop) if work.device == "cuda" else None
    return {"batch": batch, "warm_up_seconds": warm_up, "steps": window.steps, "seconds": window.seconds,
            "device_busy_share": busy,
            "seconds_per_step": window.seconds / max(window.steps, 1),
            "real_tokens_per_second": window.real_tokens / window.seconds,
            "padding_fraction": 1 - window.real_tokens / window.padded_tokens if window.padded_tokens else 0.0}


def device_busy_share(loop, steps: int = 2) -> float:
    """The share of `steps` steps' wall-clock time the GPU spent running kernels (their summed time: overlapping
    kernels would count twice, which one stream's steps rarely have)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        started = time.perf_counter()
        loop.run(steps=steps)
        wall = time.perf_counter() - started
    return kernel_microseconds(prof.key_averages()) / 1e6 / wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_step", description=__doc__.splitlines()[0])
    add_weights_arguments(parser)
    parser.add_argument("--seconds", type=float, default=8.0, help="each variant's window after its warm-up")
    parser.add_argument("--batch", type=int, default=64, help="examples a step (default: 64)")
    parser.add_argument("--only", nargs="*", choices=list(VARIANTS), help="these variants alone")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    quiet_libraries()
    device = resolve_device(args.device)
    weights = chosen_weights(args)
    work = load_workload(weights, device)
    rows = []
    for name, options in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        try:
            row = {"variant": name, **time_variant(work, options, args.batch, args.seconds)}
        except Exception as exc:  # noqa: BLE001  (one lever that fails here must not cost the others' figures)
            row = {"variant": name, "failed": f"{type(exc).__name__}: {exc}"[:500]}
        progress(str(row))
        rows.append(row)
        report = {"benchmark": "gpu_step", "device": device, "machine": machine(device),
                  "weights": {"path": weights.path, "note": weights.note}, "parameters": work.parameters,
                  "seconds": args.seconds, "warm_up_steps": WARM_UP_STEPS, "rows": rows}
        out = args.out or RESULTS / f"gpu_step-{device}.json"
        write_json_atomically(report, out)  # after each variant: a run cut short keeps the ones it timed
    print(f"{'variant':28} {'batch':>5} {'real tok/s':>10} {'s/step':>7} {'padding':>7} {'warm-up s':>9} "
          f"{'GPU busy':>8}")
    for row in rows:
        if "failed" in row:
            print(f"{row['variant']:28} failed: {row['failed'][:120]}")
        else:
            print(f"{row['variant']:28} {row['batch']:5d} {row['real_tokens_per_second']:10.0f} "
                  f"{row['seconds_per_step']:7.3f} {100 * row['padding_fraction']:6.0f}% {row['warm_up_seconds']:9.1f} "
                  + (f"{100 * row['device_busy_share']:7.0f}%" if row["device_busy_share"] is not None else f"{'':>8}"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
