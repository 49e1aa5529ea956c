"""Prices measured compute time: one-off apart from per-query costs, monthly totals, break-even, freshness."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from advisor.records import Record

PRICES_FILE = Path(__file__).with_name("prices.toml")


@dataclass(frozen=True)
class PriceTable:
    """Dated prices per hour of hardware, shipped as data (prices.toml) and replaceable by the user's."""

    per_hour: dict[str, float]
    memory_gib: dict[str, float]
    as_of: str
    source: str
    tflops_bf16: dict[str, float] = field(default_factory=dict)  # a card's spec-sheet throughput

    @classmethod
    def load(cls, path: str | Path | None = None) -> "PriceTable":
        import tomllib

        from advisor.errors import ConfigError

        path = Path(path).expanduser() if path else PRICES_FILE
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            table = cls({k: float(v) for k, v in data["per_hour"].items()},
                        {k: float(v) for k, v in data.get("memory_gib", {}).items()},
                        str(data.get("as_of", "undated")), str(data.get("source", str(path))),
                        {k: float(v) for k, v in data.get("tflops_bf16", {}).items()})
        except (OSError, ValueError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"price table {str(path)!r} cannot be used ({exc})",
                              hint="it needs a [per_hour] table of numbers; see advisor/measure/prices.toml") from None
        if "cpu" not in table.per_hour:
            raise ConfigError(f"price table {str(path)!r} has no 'cpu' price")
        return table

    def price(self, device: str) -> float:
        return self.per_hour.get(device, self.per_hour["cpu"])


# Updates a month at each rate of change: what keeping an option fresh multiplies.
UPDATES_PER_MONTH = {"static": 0.0, "monthly": 1.0, "weekly": 52 / 12, "daily": 365 / 12}


@dataclass(frozen=True)
class ComputeCost:
    """Seconds of compute; priced only at the end, so costs add up before rounding."""

    one_off_seconds: float = 0.0
    seconds_per_query: float = 0.0

    def priced(self, usd_per_hour: float) -> dict:
        return {"one_off": self.one_off_seconds * usd_per_hour / 3600,
                "per_1k_queries": self.seconds_per_query * 1000 * usd_per_hour / 3600}


@dataclass
class BreakEven(Record):
    """Questions after which the tuned arm's extra one-off cost is repaid by answers cheaper than the retrieval
    arm's; `queries` None: never repaid."""

    tuned: str  # arm names
    retrieval: str
    queries: float | None
    extra: dict = field(default_factory=dict)


@dataclass
class Costs(Record):
    """The report's costs section: each part only when the user's constraints or the arms call for it."""

    nested = {"break_even": BreakEven}

    monthly_usd: dict[str, float] | None = None  # arm -> USD a month at the user's volume
    break_even: BreakEven | None = None
    freshness_usd_per_month: dict[str, float] | None = None  # arm -> USD a month to redo its one-off work
    projections: dict | None = None  # advisor.measure.projection.project: the whole corpus and a larger model
    extra: dict = field(default_factory=dict)


def monthly_cost(per_1k_queries: float, queries_per_month: int) -> float:
    return per_1k_queries * queries_per_month / 1000


def break_even_queries(tuned: dict, retrieval: dict) -> float | None:
    """Queries after which the fine-tune's extra one-off cost is repaid by cheaper answers than RAG's
    (its prompts carry no passages); None when its answers are not cheaper: never repaid.

    `tuned` and `retrieval` are cost_usd entries: {"one_off", "per_1k_queries"}.
    """
    saving_per_query = (retrieval["per_1k_queries"] - tuned["per_1k_queries"]) / 1000
    if saving_per_query <= 0:
        return None
    return max(0.0, (tuned["one_off"] - retrieval["one_off"]) / saving_per_query)


def freshness_cost(one_off_seconds: float, data_changes: str, usd_per_hour: float) -> float:
    """USD a month to redo the one-off work (re-index or re-train) at the data's rate of change."""
    return one_off_seconds * UPDATES_PER_MONTH[data_changes] * usd_per_hour / 3600


def constraint_costs(constraints, arms: dict, usd_per_hour: float) -> Costs:
    """The costs that follow from the user's constraints (advisor.config.Constraints) and the arms' priced
    figures alone: the monthly totals at their volume, the break-even volume and keeping each option fresh at
    their rate of change. `advisor whatif` recomputes these with no model."""
    from advisor.measure.arms import BASELINE

    costs = Costs()
    if constraints.queries_per_month is not None:
        costs.monthly_usd = {name: monthly_cost(arm.cost_usd["per_1k_queries"], constraints.queries_per_month)
                             for name, arm in arms.items()}
    if "finetune" in arms and "rag" in arms:
        costs.break_even = BreakEven("finetune", "rag", break_even_queries(arms["finetune"].cost_usd,
                                                                               arms["rag"].cost_usd))
    if constraints.data_changes != "static":
        costs.freshness_usd_per_month = {
            name: freshness_cost(arm.details.get("one_off_seconds", 0.0), constraints.data_changes, usd_per_hour)
            for name, arm in arms.items() if name != BASELINE}
    return costs


def report_costs(config, arms: dict, *, tuned_training, corpus_tokens: int, base_parameters: int,
                 usd_per_hour: float, prices: PriceTable, warn: Callable[[str], None]) -> Costs:
    """The report's costs for `config`'s run: at the user's volume and rate of change, the break-even volume,
    and projections to the whole corpus and a larger model from `tuned_training` (advisor.measure.evidence.Training,
    None without a fine-tune; a config that cannot be read is said through `warn`)."""
    from advisor.measure.projection import EXAMPLE_7B, project, read_model_config

    costs = constraint_costs(config.constraints, arms, usd_per_hour)
    larger = dict(EXAMPLE_7B)
    if config.project_to:
        named = read_model_config(config.project_to)
        if named and {"hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size"} <= set(named):
            larger = {**named, "name": config.project_to}
        else:
            warn(f"The config of {config.project_to!r} could not be read (or is not a Llama-style "
                       "decoder): projections use the 7B example instead.")
    if tuned_training is not None and tuned_training.tokens:
        costs.projections = project(
            {"seconds": tuned_training.seconds, "tokens": tuned_training.tokens,
             "parameters": base_parameters},
            corpus_tokens=corpus_tokens, epochs=config.epochs, larger=larger,
            memory_gib=prices.memory_gib, usd_per_hour=usd_per_hour)
    return costs
