"""A finished run's reasoning, step by step, and two runs side by side: text read from report.json alone."""

from __future__ import annotations

from advisor.verdict.report import FIGURES, Reason, Report
from advisor.verdict.wording import (METRIC_LABELS, evaluation_text, format_number, headline, is_finite, quality_cell,
                                     reason_text, references, stated_constraints)


def _verdict(comparison: dict) -> str:
    low, high = comparison.get("ci95") or [None, None]
    if not (is_finite(low) and is_finite(high)):
        return "too few items to tell"
    if low > 0:
        return "measurably better"
    if high < 0:
        return "measurably worse"
    return "no measurable difference"


def _comparison_line(key: str, comparison: dict) -> str:
    low, high = comparison.get("ci95") or [None, None]
    interval = f"[{low:+.3f}, {high:+.3f}]" if is_finite(low) and is_finite(high) else "no interval"
    improvement = comparison["improvement"]
    shown = f"{improvement:+.3f}" if is_finite(improvement) else "n/a"
    return (f"{key.replace('_vs_', ' against ')}: {shown} {interval}, "
            f"n={comparison['n']}: {_verdict(comparison)}")


def explain(report: Report) -> list[tuple[str, list[str]]]:
    """The steps from the measurements to the recommendation, each a title and its lines."""
    evaluation, metric = report.evaluation, report.evaluation.primary_metric
    # The report's own words: probes hold out their wording only, their facts are trained on and indexed.
    steps = [("What was measured", [
        evaluation_text(report),
        f"The first measure read is {METRIC_LABELS.get(metric, metric)}"
        + (f": {evaluation.primary_metric_meaning}." if evaluation.primary_metric_meaning else "."),
        *[f"{name}: {quality_cell(arm.quality.get(metric))}" for name, arm in report.arms.items()]])]
    check = report.models.base_check
    if check:
        steps.append(("Can the base model be measured at all", [
            f"Perplexity {format_number(check.perplexity, 1)} on the corpus against "
            f"{format_number(check.uniform_perplexity, 0)} for uniform guessing: {check.verdict}."
            + ("" if check.trained else " Nothing below measures anything.")]))
    primary = {k: c for k, c in report.comparisons.items() if c.get("metric") == metric and "(" not in k}
    steps.append(("Each option against the others, on the same items (positive = better)",
                  [_comparison_line(k, c) for k, c in primary.items()] or ["no paired comparisons"]))
    secondary = {k: c for k, c in report.comparisons.items() if k not in primary}
    if secondary:
        steps.append(("Further evidence, read when the first measure cannot separate the options",
                      [_comparison_line(k, c) for k, c in secondary.items()]))
    stated = stated_constraints(report.constraints)
    steps.append(("Your constraints", ["; ".join(stated) + "." if stated else "none stated"]))
    rec = report.recommendation
    steps.append(("The decision", [headline(report) + ".", *([f"Rule: {rec.rule}"] if rec.rule else []),
                                   *[f"- {_reason_line(reason)}" for reason in rec.reasons]]))
    if rec.counter_arguments:
        steps.append(("What would change it", [f"- {line}" for line in rec.counter_arguments]))
    if rec.next_steps:
        steps.append(("Next steps", [f"- {line}" for line in rec.next_steps]))
    if report.warnings:
        steps.append(("Caveats", [f"- {warning}" for warning in report.warnings]))
    cited_works = references(report)
    if cited_works:
        steps.append(("Published evidence cited", [f"- {w['short']}: {w['finding']}. {w['url']}" for w in cited_works]))
    return steps


def _reason_line(reason: Reason) -> str:
    return reason_text(reason) + (f" [figures: {FIGURES[reason.figure]}]" if reason.figure else "")


def compare(first: Report, second: Report) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Notes on whether two runs can be compared, and (what, first run, second run) rows."""
    notes = []
    if first.evaluation.items_fingerprint == second.evaluation.items_fingerprint:
        notes.append("Both runs scored the same held-out items: their figures compare item for item.")
    else:
        notes.append("The runs scored different held-out items: differences mix the change you made with the "
                     "change of questions.")
    metric = first.evaluation.primary_metric
    if metric != second.evaluation.primary_metric:
        notes.append(f"They read different first measures ({metric} and {second.evaluation.primary_metric}).")
    rows = [("recommendation", headline(first), headline(second)),
            ("base model", str(first.config.get("base_model")), str(second.config.get("base_model"))),
            ("corpus", f"{first.config.get('corpus')} ({first.corpus.documents} documents)",
             f"{second.config.get('corpus')} ({second.corpus.documents} documents)"),
            ("held-out items", str(first.evaluation.n), str(second.evaluation.n))]
    for name in dict.fromkeys([*first.arms, *second.arms]):
        arms = [run.arms.get(name) for run in (first, second)]
        rows.append((f"{name}: {METRIC_LABELS.get(metric, metric)}",
                     *[quality_cell(arm.quality.get(metric)) if arm else "not measured" for arm in arms]))
        rows.append((f"{name}: p50 / p95 ms",
                     *[f"{format_number(arm.latency_ms.get('p50'), 0)} / {format_number(arm.latency_ms.get('p95'), 0)}"
                       if arm else "–" for arm in arms]))
    return notes, rows
