"""Paired comparisons of the arms on the same held-out items: differences with bootstrap intervals, oriented so
that positive is better, and how many items would settle one that is not yet settled."""

from __future__ import annotations

import math

from advisor.measure.arms import BASELINE
from advisor.measure.metrics import METRICS, Metric, paired_difference


def compare_arms(per_item: dict[str, list[float]], metric: Metric, seed: int) -> dict:
    """Paired differences, oriented so that a positive value is an improvement: every arm against the
    base model, then every pair of the other arms in their order ("rag_vs_finetune")."""
    sign = 1.0 if metric.higher_is_better else -1.0
    names = [name for name in per_item if per_item[name]]
    others = [name for name in names if name != BASELINE]
    pairs = [(name, BASELINE) for name in others if BASELINE in names]
    pairs += [(a, b) for i, a in enumerate(others) for b in others[i + 1:]]
    out = {}
    for a, b in pairs:
        if len(per_item[a]) == len(per_item[b]):
            diff = paired_difference([sign * v for v in per_item[a]], [sign * v for v in per_item[b]], seed=seed)
            out[f"{a}_vs_{b}"] = {"metric": metric.name, "improvement": diff["value"],
                                  "ci95": diff["ci95"], "n": diff["n"]}
    return out


def between(comparisons: dict, a: str, b: str) -> dict | None:
    """a against b, whichever way round it was computed."""
    if f"{a}_vs_{b}" in comparisons:
        return comparisons[f"{a}_vs_{b}"]
    other = comparisons.get(f"{b}_vs_{a}")
    if other is None:
        return None
    low, high = other["ci95"]
    return {**other, "improvement": -other["improvement"], "ci95": [-high, -low]}


def significant(comparison: dict | None) -> bool:
    """Measurably better: the whole interval above zero (no interval, as with too few items: never); for a loss or
    a likelihood (a metric that is not a share of items), by at least its `meaningful` difference too. Per-token
    figures of two nearly identical models (a fine-tune of a few steps against its base) differ on every item by
    about the same thousandth of a nat, so their interval clears zero: measurable, and worth nothing."""
    if comparison is None or not math.isfinite(comparison["ci95"][0]) or comparison["ci95"][0] <= 0:
        return False
    metric = METRICS.get(comparison.get("metric"))
    return metric is None or metric.share or comparison["improvement"] >= metric.meaningful


def items_to_resolve(comparison: dict) -> int | None:
    """Held-out items at which this difference, if it holds, would clear its interval (the interval
    narrows as one over the square root of n); None when it is already resolved, or zero."""
    low, high, n, diff = *comparison["ci95"], comparison["n"], comparison["improvement"]
    if not (math.isfinite(low) and math.isfinite(high)) or diff == 0 or low > 0 or high < 0:
        return None
    half_width = (high - low) / 2
    return math.ceil(n * (half_width / abs(diff)) ** 2) if half_width > 0 else None
