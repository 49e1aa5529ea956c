"""The fine-tune's step plan: fits the budget, follows the measured step times, and its schedule ends with it."""

import time

import pytest

from finetune.train import GPU_LOG_SECONDS, BudgetPlan, LoraSettings, log_due, wanted_steps


def test_the_data_plan_gives_small_data_more_passes():
    assert wanted_steps(LoraSettings(epochs=3, min_steps=100, batch_size=4), examples=40) == 100
    assert wanted_steps(LoraSettings(epochs=3, min_steps=10, batch_size=4), examples=400) == 300
    assert wanted_steps(LoraSettings(max_steps=7, min_steps=100), examples=400) == 7


def test_the_plan_fits_the_budget_and_follows_measured_steps():
    start = 1000.0
    plan = BudgetPlan(wanted=100, budget_seconds=60.0, started=start, reserve=1.0)
    assert plan.total == 100  # nothing measured yet: the data plan stands
    # The first step pays one-off set-up (8 s); it is the only one measured, so it counts.
    plan.update(1, start + 8.0, last_step=8.0)
    assert plan.total == 1 + int((60 - 8 - 1 - 8.0) / 8.0) + 1 and plan.cut_by_budget
    # Then steps take 2 s: the first one no longer counts, and 5 more steps (18 s in) leave 41 s.
    for done in range(2, 7):
        plan.update(done, start + 8.0 + 2.0 * (done - 1), last_step=2.0)
    assert plan.steady_step_seconds == [2.0] * 5
    assert plan.total == 6 + int((60 - 18 - 1 - 2.0) / 2.0) + 1
    # Far slower than thought: the plan shrinks to what still fits, never below the steps done.
    plan.update(7, start + 57.0, last_step=39.0)
    assert plan.total == 7
    # A budget the data plan fits in is not cut.
    roomy = BudgetPlan(wanted=10, budget_seconds=600.0, started=start, reserve=2.0)
    roomy.update(1, start + 1.0, last_step=1.0)
    assert roomy.total == 10 and not roomy.cut_by_budget


def test_the_schedule_warms_up_then_decays_to_the_last_planned_step():
    plan = BudgetPlan(wanted=20, budget_seconds=600.0, started=time.perf_counter(), reserve=0.0)
    assert plan.total == 20 and plan.warmup == 2
    factors = [plan.lr_factor(step) for step in range(plan.total)]
    assert factors[0] > 0 and factors[0] < factors[1] < factors[2] == 1.0
    assert all(a >= b for a, b in zip(factors[2:], factors[3:])) and 0 < factors[-1] < 0.1
    assert plan.lr_factor(plan.total) == 0.0
    plan.total = 5  # a shorter plan after the first steps: warm-up and decay follow it
    assert plan.warmup == 1 and plan.lr_factor(4) == 0.25 and plan.lr_factor(5) == 0.0


def test_bf16_is_used_where_asked_or_where_the_hardware_computes_it(monkeypatch):
    import torch

    from finetune.train import uses_bf16

    assert uses_bf16("bf16", "cpu") and not uses_bf16("fp32", "cuda")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not uses_bf16("auto", "cpu") and not uses_bf16("auto", "mps")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert uses_bf16("auto", "cpu") and uses_bf16("auto", "cpu", 135_000_000)
    # A small model trains faster in fp32 even where the CPU computes bfloat16 natively; asked for, it gets bf16.
    assert not uses_bf16("auto", "cpu", 1_000_000) and uses_bf16("bf16", "cpu", 1_000_000)


def test_a_cpu_takes_the_batch_in_smaller_passes_that_add_up_to_it():
    from finetune.train import micro_batch

    assert micro_batch(LoraSettings(batch_size=4), "cpu") == (2, 2)
    assert micro_batch(LoraSettings(batch_size=4), "cuda") == (4, 1)
    assert micro_batch(LoraSettings(batch_size=3), "cpu") == (1, 3)  # 2 does not divide 3
    assert micro_batch(LoraSettings(batch_size=1), "cpu") == (1, 1)
    assert micro_batch(LoraSettings(batch_size=8, micro_batch_size=8), "cpu") == (8, 1)
    # A model under 20M parameters takes its whole batch in one pass on a CPU too (twice as fast at 1M).
    assert micro_batch(LoraSettings(batch_size=4), "cpu", 1_000_000) == (4, 1)
    assert micro_batch(LoraSettings(batch_size=4), "cpu", 135_000_000) == (2, 2)


def test_processes_share_each_batch_so_that_a_step_sees_batch_size_examples():
    from finetune.train import micro_batch

    assert micro_batch(LoraSettings(batch_size=8), "cuda", processes=2) == (4, 1)
    assert micro_batch(LoraSettings(batch_size=8), "cpu", 135_000_000, processes=2) == (2, 2)
    assert micro_batch(LoraSettings(batch_size=4), "cpu", processes=4) == (1, 1)
    with pytest.raises(ValueError, match="cannot be shared evenly by 3 processes"):
        micro_batch(LoraSettings(batch_size=4), "cpu", processes=3)


def test_a_gpu_logs_its_loss_once_a_second_and_at_the_end_a_cpu_every_step():
    assert log_due("cpu", 0.01, stopping=False)
    assert not log_due("cuda", 0.2, stopping=False)  # reading the loss back would wait for the GPU each step
    assert log_due("cuda", GPU_LOG_SECONDS, stopping=False) and log_due("cuda", 0.2, stopping=True)


def test_a_step_that_compiles_counts_against_the_budget_but_not_among_the_step_times():
    start = 1000.0
    plan = BudgetPlan(wanted=1000, budget_seconds=600.0, started=start, reserve=1.0)
    for done in range(1, 5):
        plan.update(done, start + 2.0 * done, last_step=2.0)
    plan.update(5, start + 8.0 + 80.0, last_step=80.0, one_off=True)  # compiling: 80 s once
    plan.update(6, start + 88.0 + 1.0, last_step=1.0)
    assert plan.steady_step_seconds == [2.0, 2.0, 2.0, 1.0]  # the 80 s step is not one to expect again
    # 511 s left less the reserve: the last step may be as slow as 2 s, the rest take 1.75 s on average.
    assert plan.total == 6 + int((600 - 89 - 1 - 2.0) / 1.75) + 1
