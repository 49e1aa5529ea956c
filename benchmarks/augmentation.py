"""The knowledge fine-tune with and without --augment, on the same held-out questions, side by side.

`python -m benchmarks.augmentation [--sample DIR] [--budget-minutes M] [--calibration FILE] [--out PATH]` runs the
advisor twice on the bundled sample (goal knowledge, the default base model, offline its packaged copy): with
the facts restated (the default) and with `--no-augment`, in one run folder, so the second run reuses the first
one's index and base and RAG answers and only the fine-tune differs. For each: the fine-tune's answer containment
and answer log-probability with their intervals, its steps and passes, what augmentation added, and the paired
difference between the two fine-tunes on each metric. Beside them it copies, from the calibration record
(`python -m benchmarks.calibration`, benchmarks/results/calibration.json), the calibration world's plain and
augmented fine-tunes. Prints a table and writes benchmarks/results/augmentation-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, SAMPLE, machine, progress, quiet_libraries, save_results

METRICS = ("answer_containment", "answer_logprob")
CALIBRATION_ARMS = (("knowledge", "plain, 3 passes"), ("knowledge-repeated", "plain, the biography 5 times, 10 passes"),
                    ("knowledge-augmented", "augmented, 10 passes"))


def arm_figures(report, arm: str = "finetune") -> dict:
    """An arm's quality (value, interval, n) on METRICS, with the fine-tune's steps and what augmentation added."""
    entry = report.arms[arm]
    training = entry.training
    figures = {metric: {key: entry.quality[metric].get(key) for key in ("value", "ci95", "n")}
               for metric in METRICS if metric in entry.quality}
    if training:
        figures["training"] = {"steps": training.steps, "steps_wanted": training.steps_wanted,
                               "passes": training.passes, "seconds": training.seconds,
                               "augmentation": training.augmentation}
    return figures


def paired(first, second, metric: str) -> dict | None:
    """The first fine-tune minus the second on the same held-out items, with its bootstrap interval."""
    from advisor.measure.metrics import paired_difference

    if first.evaluation.items_fingerprint != second.evaluation.items_fingerprint:
        return None
    a = first.arms["finetune"].details.get("scores", {}).get(metric)
    b = second.arms["finetune"].details.get("scores", {}).get(metric)
    return paired_difference(a, b) if a and b and len(a) == len(b) else None


def calibration_figures(path: Path) -> dict:
    """The calibration world's fine-tunes, plain and augmented, and the finding that compares them."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = {(row["task"], row["arm"]): row["measured"] for row in data["rows"]}
    out = {}
    for task, what in CALIBRATION_ARMS:
        said = data["verdicts"].get(task, {}).get("report")
        report = Path(said).with_name("report.json") if said else None
        measured = rows.get((task, "finetune"))
        if report and report.is_file():
            from advisor.verdict.report import Report

            quality = Report.load(report).arms["finetune"].quality["exact_match"]
            measured, interval = quality["value"], quality.get("ci95")
        else:
            interval = None
        out[task] = {"what": what, "exact_match": measured, "ci95": interval}
    out["findings"] = [row for row in data["findings"] if "restated" in row["name"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    parser.add_argument("--budget-minutes", type=float, default=3.0, help="the fine-tune's budget (the demo's: 3)")
    parser.add_argument("--calibration", type=Path, default=RESULTS / "calibration.json")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    quiet_libraries()
    from advisor.api import advise

    started = time.perf_counter()
    reports = {}
    with tempfile.TemporaryDirectory(prefix="advisor-augmentation-") as folder:
        for name, augment in (("augmented", True), ("plain", False)):
            progress(f"{name}: the bundled sample, --budget-minutes {args.budget_minutes:g}")
            reports[name] = advise(args.sample / "corpus", goal="knowledge", qa=args.sample / "qa.jsonl",
                                   out=str(Path(folder) / "run"), budget_minutes=args.budget_minutes,
                                   augment=augment)
    sample = {name: arm_figures(report) for name, report in reports.items()}
    sample["rag"] = arm_figures(reports["plain"], "rag")
    sample["augmented_minus_plain"] = {metric: paired(reports["augmented"], reports["plain"], metric)
                                       for metric in METRICS}
    data = {"benchmark": "augmentation", "device": reports["plain"].evaluation.pricing.get("device", "cpu"),
            "machine": machine("cpu"), "budget_minutes": args.budget_minutes, "held_out": reports["plain"].evaluation.n,
            "sample": sample, "calibration": calibration_figures(args.calibration),
            "seconds": time.perf_counter() - started}
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"The fine-tune with and without --augment (the sample: {data['held_out']} questions, "
                        f"a {args.budget_minutes:g}-minute budget)")
    for column in ("fine-tune", "containment [95% CI]", "log-prob per token [95% CI]", "steps (passes)"):
        table.add_column(column)
    for name in ("plain", "augmented"):
        figures = sample[name]
        cells = [f"{figures[m]['value']:.2f} [{figures[m]['ci95'][0]:.2f}, {figures[m]['ci95'][1]:.2f}]"
                 if m in figures and figures[m].get("ci95") else "–" for m in METRICS]
        training = figures.get("training") or {}
        table.add_row(name, *cells, f"{training.get('steps')} of {training.get('steps_wanted')} "
                                    f"({training.get('passes', 0):.2f})")
    Console().print(table)
    for metric, diff in sample["augmented_minus_plain"].items():
        if diff:
            print(f"augmented minus plain, {metric}: {diff['value']:+.3f} [{diff['ci95'][0]:+.3f}, "
                  f"{diff['ci95'][1]:+.3f}] (n={diff['n']})")
    for task, figures in data["calibration"].items():
        if task != "findings":
            print(f"calibration {task} ({figures['what']}): exact match {figures['exact_match']}")
    save_results(data, "augmentation", data["device"], args.out)


if __name__ == "__main__":
    main()
