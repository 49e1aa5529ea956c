"""Renders a Report as one self-contained HTML file (inline CSS and SVG, nothing fetched, every text escaped)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

from advisor.verdict.figures import FIGURES
from advisor.verdict.literature import short_names
from advisor.verdict.wording import (CHOICE_TEXT, LATENCY_PARTS, METRIC_LABELS, break_even_text, cost_volumes,
                                     feedback_lines,
                                     evaluation_text, example_items, format_number, hand_over, headline,
                                     interval_text,
                                     is_finite, latency_basis, profile_sections, quality_cell, references,
                                     run_time_text, stated_constraints, total_cost, verdict_title)

if TYPE_CHECKING:  # the report model is read, never imported: it imports its renderer for notebooks
    from advisor.corpus.profile import CorpusProfile
    from advisor.verdict.report import Report

CHART_WIDTH, BAR_HEIGHT, LABEL_WIDTH = 560, 22, 120
EXAMPLES = 20  # questions shown with every arm's answer (report.json keeps them all)
VALUE_ROOM = 150  # right of the longest bar: its value's label


def _profile_html(corpus: CorpusProfile) -> list[tuple[str, list]]:
    """The profile's sections with each line escaped, and file paths in <code>."""
    from markupsafe import Markup, escape

    def line_html(line: str) -> Markup:
        return Markup(str(escape(line)).replace("\x00", "<code>").replace("\x01", "</code>"))

    return [(title, [line_html(line) for line in lines])
            for title, lines in profile_sections(corpus, code=lambda path: f"\x00{path}\x01")]


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    # Autoescape: corpus text and model output are shown as text, never run (a `<script>` in a document stays text).
    env = Environment(loader=PackageLoader("advisor.verdict", "templates"), autoescape=select_autoescape(["j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = format_number
    env.globals.update(METRIC_LABELS=METRIC_LABELS, LATENCY_PARTS=LATENCY_PARTS, CHOICE_TEXT=CHOICE_TEXT,
                       quality_cell=quality_cell, interval_text=interval_text, headline=headline,
                       verdict_title=verdict_title, FIGURES=FIGURES, short_names=short_names,
                       total_cost=total_cost, latency_basis=latency_basis)
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
    training = next(filter(None, (arm.training for arm in report.arms.values())), None)
    losses = training.losses if training else []
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


ARM_COLOURS = ("#5b6575", "#1f6feb", "#1a7f37", "#bf3989", "#9a6700", "#8250df")
COST_POINTS = 48  # points per line: enough for a smooth curve on log axes


def cost_chart(report: Report) -> dict | None:
    """Total cost (one-off plus answers) against the number of questions, on log-log axes: a line per arm,
    the break-even point against RAG, and a year at the user's monthly volume."""
    entries = [(name, arm.cost_usd) for name, arm in report.arms.items()
               if is_finite(arm.cost_usd.get("one_off")) and is_finite(arm.cost_usd.get("per_1k_queries"))]
    if not entries:
        return None
    even = report.costs.break_even.queries if report.costs.break_even else None
    monthly = report.constraints.get("queries_per_month")
    marks = [v for v in (even, 12 * monthly if monthly else None) if v]
    # Decades wide enough that every mark sits inside, a million questions at least.
    low_q = 10.0 ** max(0, min([2, *(math.floor(math.log10(v / 3)) for v in marks if v >= 3)]))
    high_q = 10.0 ** max([6, *(math.ceil(math.log10(3 * v)) for v in marks)])
    questions = [low_q * (high_q / low_q) ** (i / (COST_POINTS - 1)) for i in range(COST_POINTS)]
    positive = [t for _, cost in entries for t in (total_cost(cost, q) for q in questions) if t > 0]
    if not positive:
        return None
    low_usd, high_usd = min(positive), max(positive)
    if high_usd <= low_usd:
        high_usd = low_usd * 10
    right, height, left, bottom = CHART_WIDTH - 45, 220, 70, 30

    def x(q):
        return left + (right - left) * math.log(q / low_q) / math.log(high_q / low_q)

    def y(usd):
        usd = max(usd, low_usd)
        return 10 + (height - bottom - 10) * (1 - math.log(usd / low_usd) / math.log(high_usd / low_usd))

    lines = [{"name": name, "colour": ARM_COLOURS[i % len(ARM_COLOURS)],
              "points": " ".join(f"{x(q):.1f},{y(total_cost(cost, q)):.1f}" for q in questions)}
             for i, (name, cost) in enumerate(entries)]
    ticks = [{"x": x(q), "label": f"{q:,.0f}"} for q in (10.0 ** k for k in range(0, 13)) if low_q <= q <= high_q]
    decades = [10.0 ** k for k in range(math.ceil(math.log10(low_usd)), math.floor(math.log10(high_usd)) + 1)]
    usd_ticks = [{"y": y(v), "label": _usd(v)} for v in (decades if len(decades) >= 2 else [low_usd, high_usd])]
    verticals = []
    for value, label in ((even, "break-even {:,.0f}"), (12 * monthly if monthly else None, "a year at your volume ({:,})")):
        if value and low_q <= value <= high_q:
            at = x(value)
            verticals.append({"x": at, "label": label.format(value), "anchor": "start" if at < (left + right) / 2 else "end",
                              "text_x": at + 4 if at < (left + right) / 2 else at - 4})
    return {"lines": lines, "ticks": ticks, "usd_ticks": usd_ticks, "verticals": verticals, "right": right,
            "height": height, "left": left, "axis_y": height - bottom}


def _usd(value: float) -> str:
    return f"${value:,.0f}" if value >= 1 else f"${value:.2g}"


def render_html(report: Report, *, summary_only: bool = False) -> str:
    """The whole report as one HTML page; `summary_only`: the headline and the table (for notebooks)."""
    metric = report.evaluation.primary_metric
    metrics = sorted({m for arm in report.arms.values() for m in arm.quality},
                     key=lambda m: list(METRIC_LABELS).index(m) if m in METRIC_LABELS else 99)
    return _environment().get_template("report.html.j2").render(
        report=report, rec=report.recommendation, hand_over=hand_over(report), metric=metric, metrics=metrics,
        summary_only=summary_only,
        quality=quality_chart(report, metric) if metric else None, latency=latency_chart(report),
        loss=loss_curve(report), examples=example_items(report)[:EXAMPLES], feedback=feedback_lines(report), chart_width=CHART_WIDTH, bar_height=BAR_HEIGHT,
        label_width=LABEL_WIDTH, cost=cost_chart(report), volumes=cost_volumes(report),
        break_even=break_even_text(report), constraints=stated_constraints(report.constraints),
        cited_works=references(report), profile=_profile_html(report.corpus),
        evaluation_text=evaluation_text(report), run_time=run_time_text(report))
