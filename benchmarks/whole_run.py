"""The whole quick run on the bundled sample: wall time and peak memory of every stage, as a user gets them.

`python -m benchmarks.whole_run [--budget-minutes M] [--out PATH]` runs the advisor's demo (the ferry sample,
the default base model, offline its packaged copy) into a fresh temporary folder, so nothing is reused,
in this process, sampling the resident memory five times a second and attributing it to the stage running.
Prints a table and writes benchmarks/results/whole_run-<device>.json with each stage's seconds and peak
resident memory, the whole run's, the targets (at most 6 minutes, under 3 GB) met or not, and the report's
figures that the README's demo table gives (quality with intervals, latency, the fine-tune's training, the verdict).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import ROOT, machine, progress, quiet_libraries, save_results

TARGET_SECONDS, TARGET_GIB = 6 * 60, 3.0
PAGE = resource.getpagesize()


def resident_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class StageClock:
    """Each stage's first and last progress time and the peak resident memory sampled while it ran."""

    def __init__(self):
        self.stage, self.started = "start", time.perf_counter()
        self.stages: dict[str, dict] = {}
        self.stop = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self.stop.wait(0.2):
            entry = self.stages.setdefault(self.stage, {"seconds": 0.0, "peak_gib": 0.0})
            entry["peak_gib"] = max(entry["peak_gib"], resident_bytes() / 2 ** 30)

    def on_progress(self, event) -> None:
        now = time.perf_counter() - self.started
        entry = self.stages.setdefault(event.stage, {"seconds": 0.0, "peak_gib": 0.0, "began": now})
        if event.stage != self.stage:
            entry.setdefault("began", now)
            self.stage = event.stage
        entry["seconds"] = now - entry["began"]
        if event.total is not None and event.completed == event.total and event.message:
            entry["message"] = event.message


def report_figures(report) -> dict:
    """What the README's demo table shows, taken from the run's report: each arm's quality (value, 95% interval,
    n), p50 latency, the fine-tune's training and the verdict with its rule."""
    arms = {}
    for name, arm in report.arms.items():
        arms[name] = {"quality": {metric: {k: entry.get(k) for k in ("value", "ci95", "n")}
                                  for metric, entry in arm.quality.items()},
                      "p50_ms": arm.latency_ms.get("p50"), "p95_ms": arm.latency_ms.get("p95")}
    training = next((arm.details["training"] for arm in report.arms.values() if "training" in arm.details), {})
    keep = ("steps", "passes", "tokens", "seconds", "precision", "blocks", "pairs", "stopped_by_budget")
    return {"held_out": report.evaluation.get("n"), "primary_metric": report.evaluation.get("primary_metric"),
            "arms": arms, "training": {k: training.get(k) for k in keep},
            "verdict": {"choice": report.recommendation.choice, "confidence": report.recommendation.confidence,
                        "rule": report.recommendation.rule},
            "corpus_tokens": report.corpus.get("tokens")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.whole_run", description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=3.0, help="the fine-tune's budget (the demo's: 3)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    quiet_libraries()
    from advisor.demo import run_demo

    clock = StageClock()
    clock.sampler.start()
    with tempfile.TemporaryDirectory(prefix="advisor-whole-run-") as folder:
        progress(f"running the demo into {folder} (fine-tune budget {args.budget_minutes:g} min)")
        report = run_demo(ROOT / "samples" / "ferry", folder, budget_minutes=args.budget_minutes,
                          on_progress=clock.on_progress)
    clock.stop.set()
    seconds = time.perf_counter() - clock.started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB -> GiB on Linux
    device = report.hardware.get("device", "cpu")
    result = {"benchmark": "whole_run", "device": device, "machine": machine(device),
              "budget_minutes": args.budget_minutes, "seconds": seconds, "peak_gib": peak,
              "stages": {name: {k: v for k, v in entry.items() if k != "began"}
                         for name, entry in clock.stages.items()},
              "recommendation": f"{report.recommendation.choice} ({report.recommendation.confidence})",
              "figures": report_figures(report),
              "targets": {"seconds": TARGET_SECONDS, "peak_gib": TARGET_GIB,
                          "seconds_met": seconds <= TARGET_SECONDS, "peak_met": peak < TARGET_GIB}}
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"The whole quick run on {device}: {seconds:.0f} s (target {TARGET_SECONDS} s), peak "
                        f"{peak:.2f} GiB (target under {TARGET_GIB:g})", title_justify="left")
    for header in ("stage", "seconds", "peak GiB"):
        table.add_column(header, justify="left" if header == "stage" else "right")
    for name, entry in result["stages"].items():
        table.add_row(name, f"{entry['seconds']:.1f}", f"{entry['peak_gib']:.2f}")
    Console(width=120).print(table)
    save_results(result, "whole_run", device, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
