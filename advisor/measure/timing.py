"""Latency summaries."""

from __future__ import annotations

import numpy as np


def latency_summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    ms = np.asarray(seconds) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "n": len(ms)}
