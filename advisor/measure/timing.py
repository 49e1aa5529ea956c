"""Wall-clock timing and latency summaries."""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np


@contextmanager
def stopwatch(into: dict, key: str):
    """Adds the block's elapsed seconds to into[key]."""
    start = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - start


def latency_summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    ms = np.asarray(seconds) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "n": len(ms)}
