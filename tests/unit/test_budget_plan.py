"""The fine-tune's step plan: fits the budget, follows the measured step times, and its schedule ends with it."""

import time

from finetune.train import BudgetPlan, LoraSettings, wanted_steps


def test_the_data_plan_gives_small_data_more_passes():
    assert wanted_steps(LoraSettings(epochs=3, min_steps=100, batch_size=4), examples=40) == 100
    assert wanted_steps(LoraSettings(epochs=3, min_steps=10, batch_size=4), examples=400) == 300
    assert wanted_steps(LoraSettings(max_steps=7, min_steps=100), examples=400) == 7


def test_the_plan_fits_the_budget_and_follows_measured_steps():
    start = 1000.0
    plan = BudgetPlan(wanted=100, budget_seconds=60.0, started=start, seconds_per_step=5.0, reserve=1.0)
    # Planned at time ~0 with 5 s steps: the last step must end before 60 - 1 s.
    plan.total = plan._affordable(0, start, 5.0)
    assert plan.total == 11 and plan.cut_by_budget
    # Steps turn out to take 2 s: after 5 of them (10 s), 48 s are left for more.
    plan.update(5, start + 10.0, start, last_step=2.0)
    assert plan.total == 5 + int((60 - 10 - 1 - 5.0) / 2.0) + 1
    # Far slower than thought: the plan shrinks to what still fits, never below the steps done.
    plan.update(6, start + 57.0, start, last_step=40.0)
    assert plan.total == 6
    # A budget the data plan fits in is not cut.
    roomy = BudgetPlan(wanted=10, budget_seconds=600.0, started=time.perf_counter(), seconds_per_step=1.0,
                       reserve=2.0)
    assert roomy.total == 10 and not roomy.cut_by_budget


def test_the_schedule_warms_up_then_decays_to_the_last_planned_step():
    plan = BudgetPlan(wanted=20, budget_seconds=600.0, started=time.perf_counter(), seconds_per_step=1.0,
                      reserve=0.0)
    assert plan.total == 20 and plan.warmup == 2
    factors = [plan.lr_factor(step) for step in range(plan.total)]
    assert factors[0] > 0 and factors[0] < factors[1] < factors[2] == 1.0
    assert all(a >= b for a, b in zip(factors[2:], factors[3:])) and 0 < factors[-1] < 0.1
    assert plan.lr_factor(plan.total) == 0.0
