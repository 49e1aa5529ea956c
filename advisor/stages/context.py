"""What every stage of a run is handed: the config, the run folder, the cache, progress, cancellation, warnings."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

from advisor.cache import StageCache
from advisor.config import AdvisorConfig
from advisor.errors import RunCancelled

log = logging.getLogger("advisor")


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress: `stage` is a key of STAGES; `total` is None when unknown. Numbers are
    fields: `completed` of `total` (items, steps), `loss` during training, `elapsed` seconds since the
    stage began (with completed and total, an ETA); a stage that finishes carries its `result`, and `status`
    says what happened: "running", "done" (its last event), "skipped" (`message` says why) or "cancelled"."""

    stage: str
    completed: int
    total: int | None = None
    message: str = ""
    loss: float | None = None
    elapsed: float = 0.0
    # A finished stage's result, by stage: profile -> CorpusProfile, estimate -> Estimate, index -> its figures
    # (dict), train -> Training, an arm -> its mean scores (metric -> mean); None while running or when skipped.
    result: Any = None
    status: str = "running"


ProgressCallback = Callable[[ProgressEvent], None]
CancelSignal = Union[threading.Event, Callable[[], bool]]


@dataclass
class RunContext:
    """The run's settings and services, the same for every stage: `progress` tells the caller (and stops the
    run when it is cancelled), `warn` adds a warning to the report, `cache` keeps stage results by key."""

    config: AdvisorConfig
    run_dir: Path
    cache: StageCache
    on_progress: ProgressCallback = lambda event: None
    cancel: CancelSignal | None = None  # checked at every progress point: each item, training step, batch
    title: Callable[[str], str] = str  # a stage's title, for the cancellation message
    about: list[str] = field(default_factory=list)  # lines the report shows first: what this run is
    warnings: list[str] = field(default_factory=list)
    stage_started: dict[str, float] = field(default_factory=dict)
    stage_ended: dict[str, float] = field(default_factory=dict)

    @property
    def fallback_dir(self) -> Path:
        """Where --offline-fallback builds its stand-in model."""
        return self.run_dir / "fallback-model"

    def progress(self, stage: str, completed: int, total: int | None = None, message: str = "", *,
                 loss: float | None = None, result: Any = None, status: str | None = None) -> None:
        """Tells on_progress; an event with a `result` ends its stage ("done") unless `status` says otherwise."""
        started = self.stage_started.setdefault(stage, time.perf_counter())
        self.stage_ended[stage] = time.perf_counter()
        status = status or ("done" if result is not None else "running")
        self.on_progress(ProgressEvent(stage, completed, total, message, loss, time.perf_counter() - started,
                                       result, status))
        if self.cancelled():
            self.on_progress(ProgressEvent(stage, completed, total, "cancelled", None,
                                           time.perf_counter() - started, None, "cancelled"))
            raise RunCancelled(f"run cancelled during {self.title(stage).lower()}",
                               hint=f"to go on, reusing what finished: advisor run --resume {self.run_dir}")

    def cancelled(self) -> bool:
        if self.cancel is None:
            return False
        return self.cancel.is_set() if isinstance(self.cancel, threading.Event) else bool(self.cancel())

    def warn(self, text: str) -> None:
        log.warning(text)
        self.warnings.append(text)

    def stage_seconds(self) -> dict[str, float]:
        """Each stage's seconds from its first progress event to its last."""
        return {stage: self.stage_ended[stage] - begun for stage, begun in self.stage_started.items()}
