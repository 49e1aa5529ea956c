"""A time budget for Hugging Face Trainer loops (sentence-transformers', TRL's): no step starts that would end past
it, and each logged loss is handed on as progress."""

from __future__ import annotations

import time


def budget_callback(started: float, budget_seconds: float, on_step=None):
    """A transformers.TrainerCallback that stops training before a step that would end past `budget_seconds` after
    `started` (time.perf_counter()): the next step may be as slow as the slowest one after the first, which pays
    one-off costs. `on_step(step, planned, loss)` for each logged loss."""
    from transformers import TrainerCallback

    class Budget(TrainerCallback):
        def __init__(self):
            self.step_started = 0.0
            self.slowest = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            last = now - self.step_started
            self.slowest = max(self.slowest, last) if state.global_step > 1 else 0.0
            if now - started + max(self.slowest, last) > budget_seconds:
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and on_step:
                on_step(state.global_step, state.max_steps, float(logs["loss"]))

    return Budget()
