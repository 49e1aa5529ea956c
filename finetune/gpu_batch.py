"""Examples per training step on a GPU: no more than the budget needs, no more than its free memory holds."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

# On an H200, SmolLM2-135M's LoRA step takes about as long for 256 examples as for 4: its time is launches and Python,
# not arithmetic (ours: 962 real tokens/s at a batch of 4, 4,593 at 16, 9,918 at 64, padded; the bf16 hand loop on
# packed batches 24,513 at 64 and 51,323 at 256, 0.28 and 0.27 s a step: benchmarks/results/gpu_step-cuda-h200.json).
# A GPU sees far more data in a budget with larger batches. The batch doubles from the run's own until the data plan
# fits the budget, at most to this many examples.
GPU_MAX_BATCH = 256
MEMORY_MARGIN = 0.2  # of the free memory, left out of the plan: the allocator's fragmentation, other processes


@dataclass(frozen=True)
class Probe:
    """Training passes (forward and backward, on the longest examples) timed and measured at two sizes."""
    sizes: tuple[int, int]
    peak_bytes: tuple[float, float]  # the most memory each pass held beyond what was held before it
    seconds: tuple[float, float]

    def _line(self, values: tuple[float, float]) -> tuple[float, float]:
        """(fixed, per example) of the straight line through the two sizes' values; the slope at least 1e-9."""
        (a, b), (va, vb) = self.sizes, values
        slope = max((vb - va) / (b - a), 1e-9)
        return max(va - slope * a, 0.0), slope

    def peak_for(self, examples: int) -> float:
        fixed, per_example = self._line(self.peak_bytes)
        return fixed + per_example * examples

    def pass_seconds(self, examples: int) -> float:
        fixed, per_example = self._line(self.seconds)
        return fixed + per_example * examples


@dataclass(frozen=True)
class GpuBatch:
    batch_size: int  # examples per optimizer step
    micro_batch: int  # examples per pass: all of them where memory allows
    learning_rate: float  # the run's, scaled by the square root of the batch's growth
    fitting: int  # the most examples one pass can hold with the margin
    step_seconds: float  # the probe's estimate for one step

    @property
    def accumulation(self) -> int:
        return self.batch_size // self.micro_batch


def largest_fitting(probe: Probe, free_bytes: float, most: int = GPU_MAX_BATCH, margin: float = MEMORY_MARGIN) -> int:
    """The most examples (of the longest length) one pass can hold within `free_bytes` less the margin; at least 1."""
    room = (1 - margin) * free_bytes
    fitting = 1
    while fitting < most and probe.peak_for(fitting + 1) <= room:
        fitting += 1
    return fitting


def plan_gpu_batch(probe: Probe, free_bytes: float, settings, examples: int, budget_seconds: float,
                   wanted_steps, most_fitting: int = GPU_MAX_BATCH) -> GpuBatch:
    """The batch for a GPU: the run's own batch if its data plan fits the budget at the probed speed, else the
    smallest doubling of it whose plan fits (more examples a step, fewer steps), else the largest one memory allows
    within GPU_MAX_BATCH; passes as large as memory holds (at most `most_fitting`). Larger batches take a learning
    rate scaled by the square root of their growth. `wanted_steps(settings, examples)` is the data plan's number of
    steps."""
    fitting = largest_fitting(probe, free_bytes, most=most_fitting)
    candidates, batch = [], settings.batch_size
    while True:
        candidates.append(batch)
        if batch >= GPU_MAX_BATCH:
            break
        batch = min(2 * batch, GPU_MAX_BATCH)

    def step_seconds(batch: int) -> float:
        micro = largest_divisor(batch, fitting)
        return batch // micro * probe.pass_seconds(micro)

    chosen = next((b for b in candidates
                   if wanted_steps(replace(settings, batch_size=b), examples) * step_seconds(b) <= budget_seconds),
                  candidates[-1])
    scale = math.sqrt(chosen / settings.batch_size)
    return GpuBatch(chosen, largest_divisor(chosen, fitting), settings.learning_rate * scale, fitting,
                    step_seconds(chosen))


def largest_divisor(total: int, most: int) -> int:
    """The largest pass size of at most `most` (and at least 1) that divides `total` examples evenly."""
    size = max(1, min(total, most))
    while total % size:
        size -= 1
    return size


# Timed passes of each size after its warm-up, the fastest kept: on an H200 one pass of each size, the first of the
# second size (its kernels' one-off set-up) included, made the line through them rise 9-35 times too steeply, a step
# of 256 examples estimated at 2.2-8.9 s against 0.25 s measured (the note of issue 25, session 13).
TIMED_PASSES = 2


def probe_training(model, collate, examples: list[dict], sizes: tuple[int, int] = (1, 4), *, device: str,
                   bf16: bool, memory=None, loss_of=None) -> Probe:
    """Times and measures forward and backward passes of `model` on batches of the longest `examples`, of each of two
    `sizes`: each size's first pass warms its kernels up, then TIMED_PASSES are measured (the fastest time, the
    highest peak). Leaves no gradient behind.
    `memory`: (reset, peak) callables; by default CUDA's peak-allocation counters. `loss_of(model, batch)`: the loss
    training takes (by default the model's own), whose memory is the one to measure."""
    import contextlib

    import torch

    if memory is None:
        def reset():
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            return torch.cuda.memory_allocated()

        def peak(before):
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() - before

        memory = (reset, peak)
    reset, peak = memory
    longest = max(examples, key=lambda e: len(e["input_ids"]))  # memory's worst case: every example as long
    peaks, seconds = [], []
    for size in sizes:
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in collate([longest] * size).items()}
        measured = []
        for timed in range(1 + TIMED_PASSES):  # the first pass only warms up
            before = reset()
            started = time.perf_counter()
            autocast = torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            with autocast:
                loss = loss_of(model, batch) if loss_of else model(**batch).loss
            loss.backward()
            model.zero_grad(set_to_none=True)
            if timed:
                held = float(peak(before))
                measured.append((time.perf_counter() - started, held))
        seconds.append(min(m[0] for m in measured))
        peaks.append(max(m[1] for m in measured))
    return Probe(tuple(sizes), tuple(peaks), tuple(seconds))


# Passes timed at the planned size, each re-planning from them, at most: a plan read off the probe's line between 1 and
# 4 examples extrapolates to up to 256, where a GPU turns from launch-bound to compute-bound in between.
CHECKS = 2


def checked_gpu_batch(probe: Probe, measure, free_bytes: float, settings, examples: int, budget_seconds: float,
                      wanted_steps) -> GpuBatch:
    """The plan of plan_gpu_batch, checked: where its passes are larger than the probe's largest, `measure(sizes)`
    (a Probe of those two sizes, as probe_training times them) times a pass of the planned size beside the probe's
    largest, and the batch is planned again from that line, which spans the sizes the plan can choose from; up to
    CHECKS times. A measuring pass that runs out of memory (`measure` raises MemoryError) caps passes below its
    size."""
    most, planned = GPU_MAX_BATCH, plan_gpu_batch(probe, free_bytes, settings, examples, budget_seconds, wanted_steps)
    for _ in range(CHECKS):
        if planned.micro_batch <= max(probe.sizes):
            break
        try:
            probe = measure((max(probe.sizes), planned.micro_batch))
        except MemoryError:
            most = planned.micro_batch - 1
        planned = plan_gpu_batch(probe, free_bytes, settings, examples, budget_seconds, wanted_steps,
                                 most_fitting=most)
    return planned
