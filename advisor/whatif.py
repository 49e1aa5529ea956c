"""What if: a finished run's decision made again from its report.json under other constraints or another price."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from advisor.config import Constraints
from advisor.errors import ConfigError
from advisor.runs import finished_report
from advisor.verdict.report import Report

WHATIF_FOLDER = "whatif"  # where --write puts the new report: beside the run's own, never over it
PRICE = "price_per_hour"  # the what-if's one setting that is not a constraint


@dataclass
class WhatIf:
    """The run's report and the what-if's, decided the same way, and what differs between them."""

    before: Report  # the run's evidence decided again under its own constraints and price: what `after` is set against
    after: Report  # under the what-if's constraints and price
    changed: dict[str, tuple]  # constraint (or "price_per_hour") -> (the run's value, the what-if's)
    reasons_added: list[str]
    reasons_removed: list[str]
    cost_changes: list[tuple[str, str, str]]  # (which figure, the run's, the what-if's), worded as the reports do
    not_repriced: list[str]  # costs kept at the run's price, each with why
    stored_differs: bool  # report.json's own verdict is not what this version decides from its evidence

    def change_lines(self) -> list[str]:
        return describe_changes(self.changed)

    @property
    def verdict_changed(self) -> bool:
        return self.before.recommendation.choice != self.after.recommendation.choice

    @property
    def confidence_changed(self) -> bool:
        return self.before.recommendation.confidence != self.after.recommendation.confidence


def what_if(report: Report | str | Path, constraints: dict | None = None,
            price_per_hour: float | None = None) -> WhatIf:
    """The decision on `report`'s evidence (a Report, or a run folder) with `constraints` (advisor.config.Constraints
    fields; those left out keep the run's) and, when given, every cost priced again at `price_per_hour` USD from
    the measured seconds. No model is loaded: the decision is a function of the evidence and the constraints.

    What changed is set against the run's evidence decided again under its own constraints and price, so a
    report written by an earlier version of the decision shows only what the what-if changes."""
    if not isinstance(report, Report):
        report = finished_report(report)
    if price_per_hour is not None and (isinstance(price_per_hour, bool) or not isinstance(price_per_hour, (int, float))
                                       or not math.isfinite(price_per_hour) or price_per_hour < 0):
        raise ConfigError(f"price_per_hour must be a non-negative number of USD, not {price_per_hour!r}")
    own = Constraints.from_dict(report.constraints)
    new = Constraints.from_dict({**report.constraints, **(constraints or {})})  # checked: a ConfigError names a bad one
    run_price = report.evaluation.pricing.get("usd_per_hour")
    before, _ = _decided(report, own, None)
    after, not_repriced = _decided(report, new, price_per_hour)
    changed = {name: (value, getattr(new, name)) for name, value in dataclasses.asdict(own).items()
               if value != getattr(new, name)}
    if price_per_hour is not None and price_per_hour != run_price:
        changed[PRICE] = (run_price, price_per_hour)
    old_texts, new_texts = before.recommendation.reason_texts, after.recommendation.reason_texts
    old_costs, new_costs = cost_figures(before), cost_figures(after)
    if changed:  # the report says what it is before any figure; unchanged, it is the run's own report
        run = f"the run in {report.run_dir}" if report.run_dir else "a run"
        after = dataclasses.replace(after, about=after.about + [
            f"A what-if on {run}: its evidence decided again with no model, with "
            + "; ".join(describe_changes(changed)) + "."])
    stored = report.recommendation
    return WhatIf(
        before, after, changed,
        reasons_added=[text for text in new_texts if text not in old_texts],
        reasons_removed=[text for text in old_texts if text not in new_texts],
        cost_changes=[(what, old_costs.get(what, "not shown"), new_costs.get(what, "not shown"))
                      for what in dict.fromkeys([*old_costs, *new_costs])
                      if old_costs.get(what) != new_costs.get(what)],
        not_repriced=not_repriced,
        stored_differs=(stored.choice, stored.confidence, stored.reason_texts) != (
            before.recommendation.choice, before.recommendation.confidence, old_texts))


def write_what_if(result: WhatIf, out: str | Path | None = None) -> dict[str, Path]:
    """Writes the what-if's report.json, report.md and report.html to `out` (default: RUN_DIR/whatif), never over
    the run's own report; returns their paths."""
    from advisor.verdict.render import write_report

    run_dir = result.after.run_dir
    if out is None and not run_dir:
        raise ConfigError("the report does not say its run folder", hint="say where to write the what-if")
    folder = Path(out).expanduser() if out is not None else Path(run_dir) / WHATIF_FOLDER
    if run_dir and folder.resolve() == Path(run_dir).expanduser().resolve():
        raise ConfigError(f"{str(folder)!r} is the run's own folder: the what-if would overwrite the run's report",
                          hint="write it to another folder")
    return write_report(result.after, folder)


def _decided(report: Report, constraints: Constraints, price: float | None) -> tuple[Report, list[str]]:
    """The report under `constraints` (and at `price`, when given): costs and recommendation made again from its
    evidence; with the costs the report holds no seconds for, each said."""
    from advisor.measure.cost import constraint_costs
    from advisor.measure.projection import repriced
    from advisor.verdict.decide import recommend_from_report

    config = {**report.config, "constraints": dataclasses.asdict(constraints)}
    arms, evaluation, projections, missing = report.arms, report.evaluation, report.costs.projections, []
    usd_per_hour = evaluation.pricing.get("usd_per_hour")
    if price is not None and price != usd_per_hour:
        arms, missing = _repriced_arms(report.arms, usd_per_hour, price)
        config[PRICE] = price
        evaluation = dataclasses.replace(evaluation, pricing={
            **evaluation.pricing, "usd_per_hour": price,
            "source": f"what-if price (the run's: {_value(usd_per_hour)})"})
        projections = repriced(projections, price) if projections else projections
        usd_per_hour = price
    costs = constraint_costs(constraints, arms, usd_per_hour or 0.0)
    if usd_per_hour is None and costs.freshness_usd_per_month is not None:  # no price to redo the one-off work at
        costs.freshness_usd_per_month = None
        missing.append("keeping each option fresh: report.json does not say the price per hour its costs were made at")
    costs = dataclasses.replace(costs, projections=projections, extra=report.costs.extra)
    decided = dataclasses.replace(report, config=config, arms=arms, evaluation=evaluation, costs=costs)
    return dataclasses.replace(decided, recommendation=recommend_from_report(decided)), missing


def _repriced_arms(arms: dict, run_price: float | None, price: float) -> tuple[dict, list[str]]:
    """Each arm's costs at `price` from its measured seconds: the one-off seconds (indexing, training) that
    report.json keeps, and the mean seconds per answer, which it keeps only as the per-1,000-question cost at the
    run's price (that cost is seconds × 1,000 × price / 3,600, so they come back exactly). Costs whose seconds
    cannot be had stay at the run's price, each said."""
    from advisor.measure.cost import ComputeCost

    out, missing = {}, []
    for name, arm in arms.items():
        cost = dict(arm.cost_usd)
        one_off = arm.details.get("one_off_seconds")
        if one_off is None:
            missing.append(f"{name}'s one-off cost: report.json holds no measured seconds for it")
        else:
            cost["one_off"] = ComputeCost(one_off_seconds=one_off).priced(price)["one_off"]
        if run_price:
            per_query = arm.cost_usd["per_1k_queries"] * 3600 / (1000 * run_price)
            cost["per_1k_queries"] = ComputeCost(seconds_per_query=per_query).priced(price)["per_1k_queries"]
        else:
            missing.append(f"{name}'s cost per 1,000 questions: report.json does not say the price it was made at "
                           "(or it was free), so the seconds behind it are unknown")
        out[name] = dataclasses.replace(arm, cost_usd=cost)
    return out, missing


def cost_figures(report: Report) -> dict[str, str]:
    """The report's cost figures by name, worded as report.md words them: each arm's one-off and per-1,000-question
    cost, its month at the user's volume and its month kept fresh, the break-even, the projections."""
    from advisor.verdict.wording import break_even_text, format_number

    figures = {}
    for name, arm in report.arms.items():
        figures[f"{name}: once"] = f"${format_number(arm.cost_usd.get('one_off'), 5)}"
        figures[f"{name}: per 1,000 questions"] = f"${format_number(arm.cost_usd.get('per_1k_queries'), 5)}"
    volume, changes = report.constraints.get("queries_per_month"), report.constraints.get("data_changes")
    for name, usd in (report.costs.monthly_usd or {}).items():
        figures[f"{name}: a month of answers"] = f"${format_number(usd, 2)} (at {volume:,} questions)"
    for name, usd in (report.costs.freshness_usd_per_month or {}).items():
        figures[f"{name}: a month kept fresh"] = f"${format_number(usd, 4)} (data changing {changes})"
    said = break_even_text(report)
    if said:
        figures["break-even against RAG"] = said
    projections = report.costs.projections
    if projections:
        figures["projection: fine-tuning the whole corpus"] = f"${format_number(projections['full_corpus']['usd'], 4)}"
        figures["projection: LoRA on the larger model"] = \
            f"${format_number(projections['larger_model']['lora_usd_here'], 2)}"
    return figures


def describe_changes(changed: dict[str, tuple]) -> list[str]:
    """Each change in words: 'latency limit ms 500 (the run's: 2000)'."""
    return [f"{name.replace('_', ' ')} {_value(new)} (the run's: {_value(old)})"
            for name, (old, new) in changed.items()]


def _value(value) -> str:
    if value is None:
        return "not stated"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)
