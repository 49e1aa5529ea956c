"""The user's ratings in a report: read from the run folder's feedback.jsonl, summed up per arm, and the decision
made again with them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from advisor.measure.feedback import (FEEDBACK_FILE, FeedbackError, FeedbackEvidence, Preference, Rating,
                                      append_feedback, now, parse_feedback, read_feedback, summarize)
from advisor.verdict.report import Report


def feedback_of(run_dir: str | Path, arms: list[str]) -> FeedbackEvidence | None:
    """The evidence of the run folder's ratings on `arms`; None when there are none."""
    entries, problems = read_feedback(Path(run_dir) / FEEDBACK_FILE)
    evidence = summarize(entries, arms, problems)
    return None if evidence.empty and not problems else evidence


def with_feedback(report: Report, run_dir: str | Path | None = None) -> Report:
    """The report with its run folder's ratings as evidence and the recommendation made again with them."""
    from advisor.verdict.decide import recommend_from_report

    feedback = feedback_of(run_dir or report.run_dir or ".", list(report.arms))
    rated = dataclasses.replace(report, feedback=feedback)
    return dataclasses.replace(rated, recommendation=recommend_from_report(rated))


def checked_entries(entries: list[Rating | Preference], arms: list[str]) -> tuple[list, list[str]]:
    """The entries that name arms of this report, and a line for each one left out."""
    kept, problems = [], []
    for number, entry in enumerate(entries, 1):
        named = [entry.arm] if isinstance(entry, Rating) else [entry.better, entry.worse]
        unknown = [name for name in named if name not in arms]
        if unknown:
            problems.append(f"entry {number} skipped: this run has no arm {unknown[0]!r} (its arms: "
                            f"{', '.join(arms)})")
        else:
            kept.append(entry)
    return kept, problems


def add_feedback(run_dir: str | Path, entries: list) -> tuple[Report, list, list[str]]:
    """Appends `entries` (Rating, Preference, or their dicts as feedback.jsonl lines hold them) to the finished
    run's feedback.jsonl, stamped with the time, and writes its report again with every rating weighed. Returns
    the report, the entries added, and a line for each one left out (unreadable, or naming an arm the run lacks)."""
    from advisor.verdict.render import write_report

    run_dir = Path(run_dir)
    report = dataclasses.replace(Report.load(run_dir / "report.json"), run_dir=str(run_dir))  # where it is now
    parsed, problems = [], []
    for number, entry in enumerate(entries, 1):
        try:
            parsed.append(entry if isinstance(entry, (Rating, Preference)) else parse_feedback(entry))
        except FeedbackError as exc:
            problems.append(f"entry {number} skipped: {exc}")
    kept, unknown = checked_entries(parsed, list(report.arms))
    if kept:
        append_feedback(run_dir / FEEDBACK_FILE, [entry if entry.at else dataclasses.replace(entry, at=now())
                                                  for entry in kept])
    report = with_feedback(report, run_dir)
    write_report(report, run_dir)
    return report, kept, problems + unknown
