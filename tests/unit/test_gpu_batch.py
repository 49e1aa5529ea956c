"""The GPU's batch: the run's own when its data plan fits the budget, doubled until it does, within memory."""

import math

import pytest

from finetune.gpu_batch import GPU_MAX_BATCH, Probe, largest_fitting, plan_gpu_batch
from finetune.train import LoraSettings, wanted_steps

GIB = 2**30
# A pass costs 10 ms plus 1 ms an example, and 2 GiB plus 1 GiB an example beyond what the weights hold.
PROBE = Probe(sizes=(1, 4), peak_bytes=(3 * GIB, 6 * GIB), seconds=(0.011, 0.014))


def test_the_line_through_the_probe_predicts_memory_and_time():
    assert PROBE.peak_for(10) == pytest.approx(12 * GIB)
    assert PROBE.pass_seconds(64) == pytest.approx(0.074)


def test_the_most_that_fit_leave_the_margin_free():
    # 80% of 20 GiB is 16 GiB: 2 + 14 examples.
    assert largest_fitting(PROBE, 20 * GIB) == 14
    assert largest_fitting(PROBE, 1 * GIB) == 1  # never none: one example is tried, and fails loudly if it must
    assert largest_fitting(PROBE, 1000 * GIB) == GPU_MAX_BATCH


def test_a_plan_that_fits_the_budget_keeps_the_runs_own_batch_and_learning_rate():
    settings = LoraSettings(batch_size=4, learning_rate=5e-4)
    planned = plan_gpu_batch(PROBE, 40 * GIB, settings, examples=121, budget_seconds=180, wanted_steps=wanted_steps)
    assert (planned.batch_size, planned.micro_batch, planned.learning_rate) == (4, 4, 5e-4)


def test_a_budget_too_short_for_the_plan_doubles_the_batch_until_it_fits():
    settings = LoraSettings(batch_size=4, learning_rate=5e-4, epochs=3)
    examples = 100_000  # 75,000 steps of 4 examples at 14 ms: 1,050 s
    planned = plan_gpu_batch(PROBE, 80 * GIB, settings, examples, budget_seconds=600, wanted_steps=wanted_steps)
    # 8 examples a step: 37,500 steps of 18 ms = 675 s, too long; 16: 18,750 steps of 26 ms = 488 s.
    assert planned.batch_size == 16 and planned.micro_batch == 16 and planned.accumulation == 1
    assert planned.learning_rate == pytest.approx(5e-4 * math.sqrt(4))
    steps = wanted_steps(LoraSettings(batch_size=16, epochs=3), examples)
    assert steps * planned.step_seconds <= 600


def test_memory_splits_a_grown_batch_into_passes_that_fit():
    settings = LoraSettings(batch_size=4, epochs=3)
    planned = plan_gpu_batch(PROBE, 10 * GIB, settings, 10**7, budget_seconds=60, wanted_steps=wanted_steps)
    # Nothing fits 60 s: the largest batch, in passes of the most that fit 8 GiB (6 examples, so 4 divide 256).
    assert planned.batch_size == GPU_MAX_BATCH and planned.fitting == 6 and planned.micro_batch == 4
    assert planned.accumulation == GPU_MAX_BATCH // 4


def test_compiling_the_layers_pays_only_where_training_outlasts_the_compilation_and_its_saving():
    from finetune.train import compile_pays

    # 60 s to compile, steps twice as fast: compiled training of E seconds' work takes 60 + E / 2, which is shorter
    # than E beyond 120 s; a budget B cut short trains (B - 60) * 2 against B, more beyond 120 s as well.
    assert not compile_pays(100, 3600, compile_seconds=60, speedup=2)  # a small data plan: compiling delays it
    assert compile_pays(130, 3600, compile_seconds=60, speedup=2)
    assert not compile_pays(3600, 100, compile_seconds=60, speedup=2)  # a short budget: compiling eats it
    assert compile_pays(3600, 130, compile_seconds=60, speedup=2)
    # The H200's figures: a few epochs of a small corpus (seconds) never compile; a long training on a large one does.
    assert not compile_pays(20, 180) and compile_pays(3600, 600)


def _steep_then_flat(sizes):
    """A GPU whose pass takes 0.2 s up to a few hundred examples (launch-bound), measured at `sizes`."""
    return Probe(tuple(sizes), tuple(2 * GIB + 0.01 * GIB * size for size in sizes), (0.2, 0.21))


def test_a_plan_read_off_a_too_steep_probe_is_checked_at_its_size_and_planned_again():
    from finetune.gpu_batch import checked_gpu_batch

    settings = LoraSettings(batch_size=8, learning_rate=5e-4, epochs=3)
    examples = 3000  # 1,125 steps of 8 examples
    # The probe's line from 1 to 4 examples rises 0.1 s an example: a step of 8 at 1 s, nothing fits 300 s.
    steep = Probe(sizes=(1, 4), peak_bytes=(2.01 * GIB, 2.04 * GIB), seconds=(0.2, 0.5))
    assert plan_gpu_batch(steep, 80 * GIB, settings, examples, 300, wanted_steps).batch_size == GPU_MAX_BATCH
    measured = []
    planned = checked_gpu_batch(steep, lambda sizes: measured.append(sizes) or _steep_then_flat(sizes), 80 * GIB,
                                settings, examples, 300, wanted_steps)
    # A pass of 256 takes 0.21 s, so 8 examples about 0.2 s: the run's own batch fits (1,125 steps, 225 s).
    assert measured == [(4, GPU_MAX_BATCH)]
    assert (planned.batch_size, planned.micro_batch, planned.learning_rate) == (8, 8, 5e-4)


def test_a_plan_within_the_probed_sizes_is_not_checked():
    from finetune.gpu_batch import checked_gpu_batch

    planned = checked_gpu_batch(PROBE, lambda sizes: pytest.fail("measured"), 40 * GIB,
                                LoraSettings(batch_size=4, learning_rate=5e-4), 121, 180, wanted_steps)
    assert planned.batch_size == 4


def test_a_check_that_runs_out_of_memory_caps_the_passes_below_its_size():
    from finetune.gpu_batch import CHECKS, checked_gpu_batch

    measured = []

    def measure(sizes):
        measured.append(sizes)
        if sizes[1] > 100:
            raise MemoryError("CUDA out of memory")
        return Probe(tuple(sizes), (2 * GIB, 3 * GIB), (0.5, 1.0))  # a pass of 100 still fits, slowly

    steep = Probe(sizes=(1, 4), peak_bytes=(2.01 * GIB, 2.04 * GIB), seconds=(0.2, 0.5))
    planned = checked_gpu_batch(steep, measure, 80 * GIB, LoraSettings(batch_size=4, epochs=3), 10**7, 60,
                                wanted_steps)
    # 256 planned (nothing fits 60 s) in one pass, which ran out of memory; passes of at most 255, so 128, which
    # runs out too; then at most 127: 64.
    assert CHECKS == 2 and measured == [(4, 256), (4, 128)]
    assert planned.batch_size == GPU_MAX_BATCH and planned.micro_batch == 64
