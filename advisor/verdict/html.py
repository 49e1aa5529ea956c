"""Renders a Report as one self-contained HTML file (inline CSS and SVG, nothing fetched, every text escaped)."""

from __future__ import annotations

from functools import lru_cache

from advisor.verdict.render import (CHOICE_TEXT, LATENCY_PARTS, METRIC_LABELS, example_items, format_number,
                                    headline, interval_text, is_finite, quality_cell, verdict_title)
from advisor.verdict.report import Report

CHART_WIDTH, BAR_HEIGHT, LABEL_WIDTH = 560, 22, 120
VALUE_ROOM = 150  # right of the longest bar: its value's label


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    # Autoescape: corpus text and model output are shown as text, never run (a `<script>` in a document stays text).
    env = Environment(loader=PackageLoader("advisor.verdict", "templates"), autoescape=select_autoescape(["j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = format_number
    env.globals.update(METRIC_LABELS=METRIC_LABELS, LATENCY_PARTS=LATENCY_PARTS, CHOICE_TEXT=CHOICE_TEXT,
                       quality_cell=quality_cell, interval_text=interval_text, headline=headline,
                       verdict_title=verdict_title)
    return env


def _scale(value: float, low: float, high: float) -> float:
    return LABEL_WIDTH + (CHART_WIDTH - LABEL_WIDTH - VALUE_ROOM) * ((value - low) / (high - low) if high > low else 0.0)


def quality_chart(report: Report, metric: str) -> dict | None:
    """Bars with 95% whiskers for one metric, one per arm, laid out in SVG coordinates."""
    entries = [(name, arm.quality[metric]) for name, arm in report.arms.items() if metric in arm.quality]
    if not entries:
        return None
    def finite(*values):
        return [v for v in values if is_finite(v)]

    values = finite(*(v for _, q in entries for v in [q["value"], *(q.get("ci95") or [])]))
    if not values:
        return None
    low, high = min(0.0, *values), max(1.0 if max(values) <= 1 else max(values), *values)
    bars = []
    for row, (name, q) in enumerate(entries):
        if not finite(q["value"]):
            continue
        ci = q.get("ci95") or []
        ci = ci if len(finite(*ci)) == 2 else [q["value"], q["value"]]  # no interval: no whisker
        bars.append({"name": name, "y": 10 + row * (BAR_HEIGHT + 8), "x0": _scale(min(0.0, q["value"]), low, high),
                     "x1": _scale(q["value"], low, high), "lo": _scale(ci[0], low, high),
                     "hi": _scale(ci[1], low, high), "label": format_number(q["value"])})
    return {"bars": bars, "height": 20 + len(entries) * (BAR_HEIGHT + 8), "low": format_number(low, 2),
            "high": format_number(high, 2), "zero": _scale(0.0, low, high)}


def latency_chart(report: Report) -> dict | None:
    """p50 bars with a p95 tick, one per arm."""
    entries = [(name, arm.latency_ms) for name, arm in report.arms.items() if arm.latency_ms.get("p50") is not None]
    if not entries:
        return None
    high = max(lat.get("p95") or lat["p50"] for _, lat in entries) or 1.0
    bars = [{"name": name, "y": 10 + row * (BAR_HEIGHT + 8), "x0": _scale(0, 0, high), "x1": _scale(lat["p50"], 0, high),
             "p95": _scale(lat.get("p95") or lat["p50"], 0, high),
             "label": f"{format_number(lat['p50'], 0)} ms (p95 {format_number(lat.get('p95'), 0)})"}
            for row, (name, lat) in enumerate(entries)]
    return {"bars": bars, "height": 20 + len(entries) * (BAR_HEIGHT + 8), "high": format_number(high, 0)}


def loss_curve(report: Report) -> dict | None:
    """The fine-tune's per-step training loss as an SVG polyline."""
    training = next((arm.details["training"] for arm in report.arms.values() if "training" in arm.details), None)
    losses = (training or {}).get("losses") or []
    if len(losses) < 2:
        return None
    steps, values = [e["step"] for e in losses], [e["loss"] for e in losses]
    low, high = min(values), max(values)
    width, height = CHART_WIDTH - LABEL_WIDTH, 160

    def point(step, loss):
        x = LABEL_WIDTH + width * (step - steps[0]) / ((steps[-1] - steps[0]) or 1)
        y = 10 + (height - 20) * (1 - ((loss - low) / ((high - low) or 1)))
        return f"{x:.1f},{y:.1f}"

    return {"points": " ".join(point(s, v) for s, v in zip(steps, values)), "height": height,
            "low": format_number(low, 2), "high": format_number(high, 2), "first": steps[0], "last": steps[-1]}


def render_html(report: Report, *, summary_only: bool = False) -> str:
    """The whole report as one HTML page; `summary_only`: the headline and the table (for notebooks)."""
    metric = report.evaluation.get("primary_metric")
    metrics = sorted({m for arm in report.arms.values() for m in arm.quality},
                     key=lambda m: list(METRIC_LABELS).index(m) if m in METRIC_LABELS else 99)
    return _environment().get_template("report.html.j2").render(
        report=report, rec=report.recommendation, metric=metric, metrics=metrics, summary_only=summary_only,
        quality=quality_chart(report, metric) if metric else None, latency=latency_chart(report),
        loss=loss_curve(report), examples=example_items(report), chart_width=CHART_WIDTH, bar_height=BAR_HEIGHT,
        label_width=LABEL_WIDTH)
