"""The typed evidence the measurements hand to the decision and the report: the base-model check, forgetting,
the evaluation's facts and each arm's summary."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from advisor.measure.estimate import Estimate
from advisor.measure.whole_corpus import WholeCorpusFit
from advisor.records import Record


@dataclass
class ArmReport:
    quality: dict[str, dict]  # metric -> {"value", "n", "ci95", ["warning"]}
    latency_ms: dict[str, float]  # p50, p95 (+ n, parts)
    cost_usd: dict[str, float]  # one_off, per_1k_queries
    label: str = ""  # how sentences name the arm ("RAG", "the LoRA fine-tune")
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def training(self) -> "Training | None":
        """The fine-tune behind a tuned arm (details["training"]); None for the others."""
        data = self.details.get("training")
        return Training.from_dict(data) if data else None


@dataclass
class Training(Record):
    """What the LoRA fine-tune did: finetune.train.TrainResult.to_dict() (training.json), with the corpus blocks
    and QA pairs it saw; the report keeps it in each tuned arm's details."""

    adapter_dir: str = ""
    steps: int = 0  # optimizer steps that really ran
    planned_steps: int = 0  # what the learning-rate schedule was laid out for (data and budget)
    seconds: float = 0.0
    tokens: int = 0  # real tokens, padding excluded
    stopped_by_budget: bool = False  # the budget cut the data plan short
    trainable_parameters: int = 0
    examples: int = 0
    batch_size: int = 0
    steps_wanted: int = 0  # what the data plan asked for before the budget
    seconds_per_step: float = 0.0
    budget_seconds: float = 0.0
    losses: list[dict] = field(default_factory=list)  # {"step", "loss"}
    precision: str = "fp32"
    seconds_before_first_step: float = 0.0
    resumed_from_step: int = 0
    processes: int = 1  # training processes (DDP), which shared each batch
    compiled: bool = False  # its decoder layers ran compiled (torch.compile)
    tokens_per_second: float = 0.0
    passes: float = 0.0  # times each example was seen, on average
    blocks: int = 0  # corpus text blocks among the examples
    pairs: int = 0  # training QA pairs among them
    augmentation: dict | None = None  # --augment: advisor.corpus.augment.Augmented.about(), examples and tokens
    extra: dict = field(default_factory=dict)

    @property
    def cut_short(self) -> bool:
        """The budget stopped the fine-tune before the steps its data plan asked for."""
        return self.stopped_by_budget and (self.steps_wanted or self.steps) > self.steps

    def seen_text(self) -> str:
        """How much of its data it saw, in words: '1.7 passes over the data', or under one pass the share seen
        once ('40%', '0.3%': never '0.0 passes')."""
        return (f"{self.passes:.1f} passes over the data" if self.passes >= 1
                else f"{seen_share(self.passes)} of the data seen once")


def seen_share(fraction: float) -> str:
    """A share under one as a percentage precise enough not to read as none: '40%', '2.5%', 'under 0.1%'."""
    if fraction >= 0.1:
        return f"{fraction:.0%}"
    return f"{fraction:.1%}" if fraction >= 0.001 else "under 0.1%"


@dataclass
class ModelCheck(Record):
    """Whether the base model is trained at all (advisor.models.check_trained): its perplexity on the corpus and
    how spread out its next-token predictions are, each against uniform guessing."""

    perplexity: float = math.nan
    uniform_perplexity: float = math.nan
    entropy_share_of_uniform: float | None = None
    trained: bool = True
    verdict: str = "trained"
    extra: dict = field(default_factory=dict)

    @property
    def surprised_but_confident(self) -> bool:
        """A trained model far from the corpus (perplexity at least half the uniform one): a new format, most often."""
        return self.trained and self.perplexity >= 0.5 * self.uniform_perplexity


@dataclass
class Forgetting:
    """Per-paragraph (NLL, tokens) of the reference text under the base weights, then under the tuned ones."""

    before: list = field(default_factory=list)
    after: list = field(default_factory=list)

    @property
    def measured(self) -> bool:
        return bool(self.before)


@dataclass
class Evaluation(Record):
    """What was measured on: the held-out set, the metrics read first, the whole-corpus fit, the run's time and
    the price of compute."""

    nested = {"full_context": WholeCorpusFit, "estimate": Estimate}

    kind: str = ""  # "qa", "probes" or "documents"
    n: int = 0
    items_fingerprint: str = ""
    made: dict | None = None  # how the held-out set was made (advisor.corpus.evalset.EvalSet.about)
    primary_metric: str = ""
    primary_metric_meaning: str = ""
    style_metric: str | None = None  # goal both: the style half's metric
    style_n: int | None = None
    train_pairs: int = 0
    train_documents: int = 0
    full_context: WholeCorpusFit | None = None
    not_measured: dict | None = None  # a planned arm left out -> why (the whole corpus's: full_context)
    wall_seconds: float | None = None
    estimate: Estimate | None = None  # made before the slow stages
    stage_seconds: dict | None = None
    pricing: dict = field(default_factory=dict)  # usd_per_hour, device, source
    extra: dict = field(default_factory=dict)
