"""The user's ratings in a report: read from the run folder's feedback.jsonl, summed up per arm, and the decision
made again with them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from advisor.measure.feedback import FEEDBACK_FILE, FeedbackEvidence, Preference, Rating, read_feedback, summarize
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
