"""Would a run with much more budget have said the same as the quick run? Verdicts at two budgets, over seeds.

`python -m benchmarks.agreement [--tasks NAME ...] [--seeds N] [--ferry-seeds N] [--factor F] [--out DIR]
[--json PATH]` runs the advisor on each calibration task (seeds 0 to N-1, the shipped tiny model) and on the
bundled ferry sample (the default base model, offline its packaged copy; goal knowledge, as `advisor demo`
runs it), each at the quick budget and at one FACTOR times larger. The long run multiplies the fine-tune's time
budget and its data plan alike (epochs and the minimum optimizer steps): the calibration fine-tunes normally end
when their data plan does, inside their 10-minute budget, so more time alone would buy them nothing. Runs the
budget cut short all the same (a busy machine) are named.

Prints a table of each case and seed (quick verdict, long verdict, the same or not), then the share of pairs
that agree, the seed-to-seed agreement at each budget, and, where the verdicts differ, which figure moved:
each arm's mean on the run's primary metric and the fine-tune's steps, passes and seconds. Writes
benchmarks/results/agreement-<device>.json after every run; a (case, seed, budget) whose report is already in
the run folder with the same settings is read back, not run again, so an interrupted benchmark goes on.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from benchmarks.common import RESULTS, SAMPLE, machine, progress, quiet_libraries, resolve_device, \
    save_results, write_json_atomically

BUDGETS = ("quick", "long")
# What bounds a fine-tune: its time budget and its data plan (finetune.train.wanted_steps). The long run
# multiplies each one that is set.
PLAN = ("budget_minutes", "epochs", "min_train_steps", "max_train_steps")
STEP_COUNTS = ("min_train_steps", "max_train_steps")
# The fine-tune's figures kept for each run (finetune.train.TrainResult.to_dict(), as the report's
# arms["finetune"].details["training"] holds it), and those a changed verdict is explained by.
TRAINING_FIGURES = ("steps", "passes", "seconds", "tokens", "planned_steps", "steps_wanted", "stopped_by_budget")
MOVED_FIGURES = ("steps", "passes", "seconds")
FERRY_BUDGET_MINUTES = 3.0  # the demo's (advisor/demo.py)


@dataclass(frozen=True)
class Case:
    """One corpus the advisor is run on; `run(folder, seed=, device=, on_progress=, **plan)` returns its Report."""

    name: str
    quick: dict  # the quick run's time budget and data plan (PLAN)
    run: Callable


@dataclass
class RunRecord:
    """What one advisor run said and what it measured, enough to compare it with another run."""

    case: str
    seed: int
    budget: str  # "quick" or "long"
    choice: str
    confidence: str
    rule: str
    primary_metric: str
    means: dict[str, float | None]  # arm -> its mean on the primary metric
    training: dict  # the fine-tune's TRAINING_FIGURES
    wall_seconds: float | None
    plan: dict = field(default_factory=dict)  # the run's PLAN
    report: str = ""  # its report.json
    resumed: bool = False  # read back from an earlier invocation's report, not run now
    # Every arm's quality figures ({metric: {"value", "ci95"}}) and latency p50/p95 in ms: what a README table
    # of the run quotes, kept here because run folders are not committed.
    figures: dict = field(default_factory=dict)


# --- the budgets --------------------------------------------------------------------------------------------


def plan_of(options: dict) -> dict:
    """The time budget and data plan of a run given `options`: the advisor's defaults where they say nothing."""
    from advisor.config import AdvisorConfig

    return {name: options.get(name, AdvisorConfig.default(name)) for name in PLAN}


def long_plan(quick: dict, factor: float) -> dict:
    """The quick plan with every bound multiplied by `factor` (step counts rounded up); unset bounds stay unset."""
    def scaled(name, value):
        if value is None:
            return None
        return math.ceil(value * factor) if name in STEP_COUNTS else value * factor

    return {name: scaled(name, value) for name, value in quick.items()}


def settings_of(seed: int, device: str, plan: dict) -> dict:
    """The settings a run's report must show for it to stand for (case, seed, budget) when resuming."""
    return {"seed": seed, "device": device, **plan}


def same_settings(config: dict, wanted: dict) -> bool:
    return all(config.get(name) == value for name, value in wanted.items())


# --- one run's record ---------------------------------------------------------------------------------------


def record_from_report(case: str, seed: int, budget: str, report, *, plan: dict | None = None,
                       path: str = "", resumed: bool = False) -> RunRecord:
    """The figures of one Report this benchmark compares: verdict, primary-metric means, training, wall time."""
    metric = report.evaluation.primary_metric
    means = {arm: (entry.quality.get(metric) or {}).get("value") for arm, entry in report.arms.items()}
    tuned = report.arms.get("finetune")
    training = tuned.training.to_dict() if tuned and tuned.training else {}
    recommendation = report.recommendation
    return RunRecord(case, seed, budget, recommendation.choice, recommendation.confidence, recommendation.rule,
                     metric, means, {key: training.get(key) for key in TRAINING_FIGURES},
                     report.evaluation.wall_seconds,
                     plan if plan is not None else {name: report.config.get(name) for name in PLAN}, path, resumed,
                     figures_of(report))


def figures_of(report) -> dict:
    """Each arm's quality figures (value and 95% interval) and latency p50/p95, from a Report."""
    return {arm: {"quality": {metric: {"value": entry.get("value"), "ci95": entry.get("ci95")}
                              for metric, entry in arm_report.quality.items()},
                  "latency_ms": {key: arm_report.latency_ms.get(key) for key in ("p50", "p95")}}
            for arm, arm_report in report.arms.items()}


# --- aggregation: pure, on records --------------------------------------------------------------------------


def paired(runs: list[RunRecord]) -> list[tuple[RunRecord, RunRecord]]:
    """(quick, long) for each (case, seed) run at both budgets, in the order the quick runs came."""
    long_runs = {(r.case, r.seed): r for r in runs if r.budget == "long"}
    return [(r, long_runs[(r.case, r.seed)]) for r in runs if r.budget == "quick" and (r.case, r.seed) in long_runs]


def agreement(runs: list[RunRecord]) -> dict:
    """How many (case, seed) pairs got the same verdict from the quick run and the long one."""
    pairs = paired(runs)
    same = sum(quick.choice == long.choice for quick, long in pairs)
    return {"pairs": len(pairs), "same": same, "rate": same / len(pairs) if pairs else None}


def seed_agreement(runs: list[RunRecord], budget: str) -> dict:
    """At one budget: for each case run with two seeds or more, whether every seed gave the same verdict."""
    choices: dict[str, dict[int, str]] = {}
    for run in runs:
        if run.budget == budget:
            choices.setdefault(run.case, {})[run.seed] = run.choice
    cases = {case: {"choices": by_seed, "all_same": len(set(by_seed.values())) == 1}
             for case, by_seed in choices.items() if len(by_seed) >= 2}
    same = sum(entry["all_same"] for entry in cases.values())
    return {"cases": cases, "same": same, "count": len(cases), "rate": same / len(cases) if cases else None}


def what_moved(quick: RunRecord, long: RunRecord) -> dict:
    """Each arm's primary-metric mean and the fine-tune's figures at both budgets, and the arm that moved most."""
    arms = {}
    for arm in dict.fromkeys([*quick.means, *long.means]):
        before, after = quick.means.get(arm), long.means.get(arm)
        arms[arm] = {"quick": before, "long": after,
                     "change": after - before if before is not None and after is not None else None}
    changed = [arm for arm, entry in arms.items() if entry["change"] is not None]
    moved_most = max(changed, key=lambda arm: abs(arms[arm]["change"]), default=None)
    return {"metric": long.primary_metric, "arms": arms, "moved_most": moved_most,
            "training": {key: {"quick": quick.training.get(key), "long": long.training.get(key)}
                         for key in TRAINING_FIGURES}}


def differences(runs: list[RunRecord]) -> list[dict]:
    """The (case, seed) pairs whose quick and long verdicts differ, each with what moved between them."""
    return [{"case": quick.case, "seed": quick.seed, "quick": quick.choice, "long": long.choice,
             "quick_confidence": quick.confidence, "long_confidence": long.confidence,
             "quick_rule": quick.rule, "long_rule": long.rule, **what_moved(quick, long)}
            for quick, long in paired(runs) if quick.choice != long.choice]


def cut_by_budget(runs: list[RunRecord]) -> list[str]:
    """The runs whose fine-tune the time budget stopped before its data plan ended."""
    return [f"{run.case} seed {run.seed} {run.budget}" for run in runs if run.training.get("stopped_by_budget")]


def summarize(runs: list[RunRecord]) -> dict:
    return {"agreement": agreement(runs),
            "seed_agreement": {budget: seed_agreement(runs, budget) for budget in BUDGETS},
            "differences": differences(runs), "cut_by_budget": cut_by_budget(runs)}


def _share(same: int, count: int) -> str:
    return f"{same} of {count} ({100 * same / count:.0f}%)" if count else "0 of 0"


def _figure(value) -> str:
    if value is None:
        return "?"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def difference_line(entry: dict) -> str:
    """One changed verdict in words: the verdicts, the arm whose mean moved most, the fine-tune's figures."""
    line = (f"{entry['case']} seed {entry['seed']}: {entry['quick']} ({entry['quick_confidence']}) -> "
            f"{entry['long']} ({entry['long_confidence']})")
    arm = entry["moved_most"]
    if arm:
        moved = entry["arms"][arm]
        line += (f"; {entry['metric']} moved most on {arm}: {_figure(moved['quick'])} -> {_figure(moved['long'])} "
                 f"({moved['change']:+.2f})")
    training = entry["training"]
    units = {"steps": "steps", "passes": "passes", "seconds": "s"}
    figures = [f"{_figure(training[key]['quick'])} -> {_figure(training[key]['long'])} {units[key]}"
               for key in MOVED_FIGURES]
    return line + "; fine-tune " + ", ".join(figures)


def summary_lines(summary: dict) -> list[str]:
    agree = summary["agreement"]
    lines = [f"Quick and long verdicts agree on {_share(agree['same'], agree['pairs'])} (case, seed) pairs."]
    for budget in BUDGETS:
        seeds = summary["seed_agreement"][budget]
        lines.append(f"Seed-to-seed at the {budget} budget: every seed gave the same verdict in "
                     f"{_share(seeds['same'], seeds['count'])} cases run with two seeds or more." if seeds["count"]
                     else f"Seed-to-seed at the {budget} budget: no case was run with two seeds or more.")
    if summary.get("cut_by_budget"):
        lines.append(f"Fine-tunes the time budget stopped before their data plan ended: "
                     f"{', '.join(summary['cut_by_budget'])}.")
    if summary["differences"]:
        lines.append("Where the verdicts differ:")
        lines += [f"  {difference_line(entry)}" for entry in summary["differences"]]
    return lines


# --- the cases and their runs --------------------------------------------------------------------------------


def _advise_on_ferry(folder: Path, **options):
    from advisor.api import advise
    from advisor.config import DEFAULT_BASE_MODEL

    return advise(SAMPLE / "corpus", goal="knowledge", qa=SAMPLE / "qa.jsonl", out=str(folder / "run"),
                  about=[f"Budget agreement run on the bundled sample {SAMPLE.name} with {DEFAULT_BASE_MODEL}."],
                  **options)


def _redecided(task, folder: Path, **options):
    """A task that decides another's run again (advisor.calibration.calibrate.Task.redecides): on that task's
    report for the same seed and budget when this benchmark has made it, else after running it."""
    from advisor.calibration.calibrate import advise_on_task
    from advisor.verdict.report import Report

    path = folder.parents[2] / task.redecides / folder.parent.name / folder.name / "run" / "report.json"
    source = Report.load(path) if path.is_file() else None
    wanted = {"seed": options.get("seed"), **{name: options[name] for name in PLAN if name in options}}
    if source is not None and not same_settings(source.config, wanted):
        source = None
    return advise_on_task(task, folder, source=source, **options)


def calibration_cases(names: list[str] | None) -> list[Case]:
    from advisor.calibration.calibrate import CALIBRATION_OPTIONS, TASKS, advise_on_task

    by_name = {task.name: task for task in TASKS}
    # A task that decides another's run again runs with that one's plan.
    return [Case(task.name, plan_of({**CALIBRATION_OPTIONS, **by_name[task.redecides or task.name].options}),
                 functools.partial(_redecided, task) if task.redecides else functools.partial(advise_on_task, task))
            for task in TASKS if names is None or task.name in names]


def ferry_case() -> Case:
    return Case("ferry", plan_of({"budget_minutes": FERRY_BUDGET_MINUTES}), _advise_on_ferry)


def _plan_words(plan: dict) -> str:
    words = [f"{plan['budget_minutes']:g} min", f"{plan['epochs']:g} epochs",
             f"at least {plan['min_train_steps']} steps"]
    if plan.get("max_train_steps") is not None:
        words.append(f"at most {plan['max_train_steps']} steps")
    return ", ".join(words)


class StagePrinter:
    """Says on stderr when a run enters each stage: the long runs take many minutes."""

    def __init__(self, label: str):
        self.label, self.stage = label, None

    def __call__(self, event) -> None:
        if event.stage != self.stage:
            self.stage = event.stage
            progress(f"  {self.label}: {event.stage}")


def earlier_records(path: Path, device: str, factor: float) -> dict[tuple[str, int, str], RunRecord]:
    """The runs an earlier invocation recorded in `path` on this device at this factor, by (case, seed, budget):
    a fresh checkout has the results file but not the run folders, and goes on from it."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("device") != device or data.get("factor") != factor:
        return {}
    fields = {f for f in RunRecord.__dataclass_fields__}
    return {(run["case"], run["seed"], run["budget"]): RunRecord(**{k: v for k, v in run.items() if k in fields})
            for run in data.get("runs", [])}


def run_once(case: Case, seed: int, budget: str, plan: dict, out: Path, device: str) -> RunRecord:
    """One advisor run into out/<case>/seed-<seed>/<budget>, or its report read back when one with the same
    settings is already there."""
    from advisor.verdict.report import Report

    folder = out / case.name / f"seed-{seed}" / budget
    path = folder / "run" / "report.json"
    label = f"{case.name} seed {seed} {budget}"
    if path.is_file():
        report = Report.load(path)
        if same_settings(report.config, settings_of(seed, device, plan)):
            progress(f"{label}: reusing {path} ({report.recommendation.choice})")
            return record_from_report(case.name, seed, budget, report, plan=plan, path=str(path), resumed=True)
    progress(f"{label} ({_plan_words(plan)}): running into {folder}")
    report = case.run(folder, seed=seed, device=device, on_progress=StagePrinter(label), **plan)
    record = record_from_report(case.name, seed, budget, report, plan=plan, path=str(path))
    progress(f"{label}: {record.choice} ({record.confidence}) in {record.wall_seconds or 0:.0f} s")
    return record


# --- the interface --------------------------------------------------------------------------------------------


def print_results(runs: list[RunRecord], summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    long_runs = {(r.case, r.seed): r for r in runs if r.budget == "long"}
    table = Table(title="The quick run's verdict against a run with much more budget", title_justify="left")
    for header in ("case", "seed", "quick verdict", "long verdict", "same?", "steps quick/long", "wall s quick/long"):
        table.add_column(header, justify="right" if header in ("seed", "steps quick/long", "wall s quick/long")
                         else "left")
    for quick in (r for r in runs if r.budget == "quick"):
        long = long_runs.get((quick.case, quick.seed))
        same = "–" if long is None else "yes" if long.choice == quick.choice else "NO"
        long_steps = _figure(long.training.get("steps")) if long else "–"
        long_wall = f"{long.wall_seconds or 0:.0f}" if long else "–"
        table.add_row(quick.case, str(quick.seed), f"{quick.choice} ({quick.confidence})",
                      f"{long.choice} ({long.confidence})" if long else "not run", same,
                      f"{_figure(quick.training.get('steps'))}/{long_steps}",
                      f"{quick.wall_seconds or 0:.0f}/{long_wall}")
    console = Console(width=120)
    console.print(table)
    for line in summary_lines(summary):
        console.print(line, highlight=False)


def _names(values: list[str] | None) -> list[str] | None:
    return None if values is None else [name for value in values for name in value.split(",") if name]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agreement", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", metavar="NAME",
                        help="calibration tasks to run (names, or comma-separated; default: all)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 for each calibration task (0: none)")
    parser.add_argument("--ferry-seeds", type=int, default=2,
                        help="seeds 0..N-1 for the ferry sample with the default base model (0: skip it; a quick "
                             "run takes about 5 minutes on 2 cores, a long one about 17 at factor 5)")
    parser.add_argument("--factor", type=float, default=5.0,
                        help="the long run's time budget, epochs and minimum steps, as multiples of the quick run's")
    parser.add_argument("--out", type=Path, default=Path("runs/agreement"), help="run folder for every run")
    parser.add_argument("--json", type=Path, help="results file (default benchmarks/results/agreement-<device>.json)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    args = parser.parse_args(argv)
    from advisor.calibration.calibrate import TASKS
    from advisor.errors import AdvisorError

    names = _names(args.tasks)
    unknown = sorted(set(names or []) - {task.name for task in TASKS})
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(t.name for t in TASKS)}")
    if args.seeds < 0 or args.ferry_seeds < 0:
        parser.error("--seeds and --ferry-seeds must be 0 or more")
    if args.factor <= 1:
        parser.error(f"--factor must be above 1, not {args.factor:g}")

    quiet_libraries()
    device = resolve_device(args.device)
    json_path = args.json or RESULTS / f"agreement-{device}.json"
    cases = [(case, args.seeds) for case in calibration_cases(names)] if args.seeds else []
    if args.ferry_seeds:
        cases.append((ferry_case(), args.ferry_seeds))
    if not cases:
        parser.error("nothing to run: --seeds 0 and --ferry-seeds 0")

    started = time.perf_counter()
    about = {"benchmark": "agreement", "device": device, "machine": machine(device), "factor": args.factor,
             "seeds": args.seeds, "ferry_seeds": args.ferry_seeds, "out": str(args.out),
             "cases": {case.name: {"quick": case.quick, "long": long_plan(case.quick, args.factor)}
                       for case, _ in cases}}
    runs: list[RunRecord] = []
    recorded = earlier_records(json_path, device, args.factor)

    def results(complete: bool) -> dict:
        return {**about, "complete": complete, "seconds": time.perf_counter() - started,
                "runs": [asdict(run) for run in runs], "summary": summarize(runs)}

    error = None
    try:
        # Seed by seed, every case at each: a benchmark stopped part-way has compared every case already.
        for seed in range(max(seeds for _, seeds in cases)):
            for case in (case for case, seeds in cases if seed < seeds):
                for budget in BUDGETS:
                    plan = case.quick if budget == "quick" else long_plan(case.quick, args.factor)
                    record = recorded.get((case.name, seed, budget))
                    folder = args.out / case.name / f"seed-{seed}" / budget / "run" / "report.json"
                    if record is not None and record.plan == plan and not folder.is_file():
                        progress(f"{case.name} seed {seed} {budget}: read back from {json_path} ({record.choice})")
                        runs.append(dataclasses.replace(record, resumed=True))
                    else:
                        runs.append(run_once(case, seed, budget, plan, args.out, device))
                    write_json_atomically(results(complete=False), json_path)
    except AdvisorError as exc:  # a missing model, a folder in use: said in one line, what finished is kept
        error = exc
    print_results(runs, summarize(runs))
    save_results(results(complete=error is None), "agreement", device, json_path)
    if error is not None:
        print(f"stopped: {error.title}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
