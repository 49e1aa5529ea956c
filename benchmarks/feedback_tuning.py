"""Training on ratings (`advisor tune --from-feedback`) against the fine-tune it refines, with scripted ratings.

`python -m benchmarks.feedback_tuning [--run RUN_DIR] [--learning-rate LR] [--out PATH]`: rates every arm's answer
to every held-out question of a finished run the way a careful person might, good when it states the reference
answer (containment; exact for the calibration world, whose answers are one word or number), then tunes the
run's fine-tune on those ratings and measures it. Without --run it first makes the calibration world's knowledge
task (seconds) and tunes at that world's learning rate (3e-3); with --run (say `make demo`'s, runs/demo/run) on a
copy of it, at the default rate. Prints the fine-tune and the rated fine-tune side by side, with the paired
difference, and writes benchmarks/results/feedback_tuning-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, progress, quiet_libraries, save_results

WORLD_LEARNING_RATE = 3e-3  # the calibration world's own (advisor.calibration.calibrate.CALIBRATION_OPTIONS)


def rate(run_dir: Path, exact: bool) -> dict:
    """Every arm's answer to every held-out question rated, as advisor.add_feedback takes them; what was added."""
    import advisor
    from advisor.corpus.qa import normalize_answer

    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    entries = []
    for arm, data in report["arms"].items():
        for sample in data["details"]["samples"]:
            reference, answer = normalize_answer(sample["reference"]), normalize_answer(sample["answer"])
            good = reference == answer if exact else f" {reference} " in f" {answer} "
            entries.append({"question": sample["question"], "arm": arm, "answer": sample["answer"],
                            "rating": "up" if good else "down"})
    _, added, _ = advisor.add_feedback(run_dir, entries)
    return {"ratings": len(added), "good": sum(entry.good for entry in added)}


def main() -> None:
    import advisor
    from advisor.calibration.calibrate import run_calibration
    from advisor.measure.comparisons import between

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a finished run folder (default: the calibration world's task)")
    parser.add_argument("--learning-rate", type=float, help="the ratings' LoRA rate (default: see above)")
    parser.add_argument("--out", type=Path, help="where to write the JSON")
    args = parser.parse_args()
    quiet_libraries()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="advisor-feedback-bench-") as scratch:
        if args.run:
            run_dir, world = Path(scratch) / "run", False
            shutil.copytree(args.run, run_dir)
        else:
            progress("making the calibration world's knowledge task")
            run_calibration(Path(scratch) / "world", tasks=("knowledge",))
            run_dir, world = Path(scratch) / "world" / "knowledge" / "run", True
        rated = rate(run_dir, exact=world)
        progress(f"{rated['ratings']} ratings ({rated['good']} good); training on them")
        tuned = advisor.tune_from_feedback(run_dir, learning_rate=args.learning_rate
                                           or (WORLD_LEARNING_RATE if world else None))
    metric = tuned.evaluation.primary_metric
    pair = between(tuned.comparisons, "finetune_feedback", "finetune") or {}
    data = {"what": "calibration world, knowledge task" if world else str(args.run), "metric": metric,
            **rated, "arms": {arm: {key: tuned.arms[arm].quality[metric].get(key) for key in ("value", "ci95", "n")}
                              for arm in ("finetune", "finetune_feedback")},
            "rated_minus_plain": {key: pair.get(key) for key in ("improvement", "ci95", "n")},
            "notes": list(tuned.arms["finetune_feedback"].notes), "choice": tuned.recommendation.choice,
            **machine("cpu"),
            "seconds": time.perf_counter() - started}
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"The fine-tune, and trained further on {rated['ratings']} scripted ratings ({data['what']})")
    for column in ("arm", metric, "95% CI", "n"):
        table.add_column(column)
    for arm, figures in data["arms"].items():
        low, high = figures["ci95"]
        table.add_row(arm, f"{figures['value']:.3f}", f"[{low:.3f}, {high:.3f}]", str(figures["n"]))
    Console().print(table)
    print(f"rated minus plain: {pair.get('improvement', float('nan')):+.3f} {pair.get('ci95')}; verdict "
          f"{data['choice']}")
    save_results(data, "feedback_tuning", "cpu", args.out)


if __name__ == "__main__":
    main()
