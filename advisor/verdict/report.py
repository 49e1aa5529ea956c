"""The report model: JSON is the source of truth; Markdown (and later HTML) render from it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

from advisor.corpus.profile import CorpusProfile
from advisor.measure.arms import CHOICES
from advisor.measure.feedback import FeedbackEvidence
from advisor.measure.cost import Costs
from advisor.measure.evidence import ArmReport, Evaluation, ModelCheck
from advisor.measure.hardware import Hardware
from advisor.records import Record
from advisor.verdict.figures import FIGURES

# 2: Recommendation.basis, counter_arguments, next_steps (version 1 reads as measured, none).
# 3: each reason is {"text", "figure", "sources"} and the recommendation names its rule (2 reads as bare texts).
SCHEMA_VERSION = 3
CONFIDENCES = ("low", "medium", "high")
BASES = ("measured", "default")

@dataclass
class Reason:
    """One reason: its text, the report section whose figures it rests on, and the published work it cites."""

    text: str
    figure: str = ""  # a key of FIGURES, or "" when it rests on no figure of the report
    sources: list[str] = field(default_factory=list)  # keys of advisor.verdict.literature.SOURCES

    def __post_init__(self):
        if self.figure and self.figure not in FIGURES:
            raise ValueError(f"unknown figure {self.figure!r} for a reason")

    @classmethod
    def of(cls, value: "Reason | str | dict") -> "Reason":
        """A reason from what report.json holds: a dict (schema 3) or bare text (schemas 1 and 2)."""
        if isinstance(value, Reason):
            return value
        return cls(value) if isinstance(value, str) else cls(**value)


@dataclass
class Recommendation:
    choice: str
    confidence: str
    reasons: list[Reason]
    # "measured": the run's figures decided; "default": nothing could be measured (say, a base model with
    # random weights), so `choice` is the published default for the goal, not a verdict on this corpus.
    basis: str = "measured"
    counter_arguments: list[str] = field(default_factory=list)  # what would change the answer
    next_steps: list[str] = field(default_factory=list)  # what to run next, at full scale
    rule: str = ""  # the rule that set the choice, in words

    def __post_init__(self):
        if self.choice not in CHOICES or self.confidence not in CONFIDENCES or self.basis not in BASES:
            raise ValueError(f"bad recommendation {self.choice!r}/{self.confidence!r}/{self.basis!r}")
        self.reasons = [Reason.of(reason) for reason in self.reasons]

    @property
    def reason_texts(self) -> list[str]:
        return [reason.text for reason in self.reasons]

    @property
    def sources(self) -> list[str]:
        """Every source the reasons cite, once, in the order first cited."""
        return list(dict.fromkeys(key for reason in self.reasons for key in reason.sources))


@dataclass
class ModelsUsed(Record):
    """The models a run used: each {"name", "path", "origin", "note"}, and the base model's check."""

    nested = {"base_check": ModelCheck}

    base: dict | None = None
    embedding: dict | None = None
    base_check: ModelCheck | None = None
    extra: dict = field(default_factory=dict)

    def named(self) -> dict[str, dict]:
        """Role -> model, for the roles the run filled."""
        return {role: entry for role, entry in (("base", self.base), ("embedding", self.embedding), *self.extra.items())
                if isinstance(entry, dict) and "name" in entry}


@dataclass
class Report:
    config: dict
    corpus: CorpusProfile
    arms: dict[str, ArmReport]
    recommendation: Recommendation
    models: ModelsUsed = field(default_factory=ModelsUsed)
    hardware: Hardware = field(default_factory=Hardware)
    evaluation: Evaluation = field(default_factory=Evaluation)
    comparisons: dict = field(default_factory=dict)
    costs: Costs = field(default_factory=Costs)  # monthly totals, break-even, freshness, projections
    feedback: FeedbackEvidence | None = None  # people's ratings of the answers (feedback.jsonl), when any
    warnings: list[str] = field(default_factory=list)
    about: list[str] = field(default_factory=list)  # what this run is, said before any figure
    run_dir: str | None = None
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self):  # the sections as records, from whichever schema's dicts they came as
        self.corpus = CorpusProfile.from_dict(self.corpus)
        self.models = ModelsUsed.from_dict(self.models)
        self.evaluation = Evaluation.from_dict(self.evaluation)
        self.hardware = Hardware.from_dict(self.hardware)
        self.costs = Costs.from_dict(self.costs)
        if self.feedback is not None:
            self.feedback = FeedbackEvidence.from_dict(self.feedback)

    @property
    def constraints(self) -> dict:
        """The constraints the user stated, as the run's settings hold them ({} for none)."""
        return self.config.get("constraints") or {}

    def to_dict(self) -> dict:
        data = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        data = {name: value.to_dict() if isinstance(value, Record) else asdict(value) if is_dataclass(value)
                else value for name, value in data.items()}
        data["arms"] = {name: asdict(arm) for name, arm in self.arms.items()}
        if data["feedback"] is None:  # a report nobody rated keeps the layout it always had
            del data["feedback"]
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        data = dict(data)
        data["arms"] = {name: ArmReport(**arm) for name, arm in data["arms"].items()}
        data["recommendation"] = Recommendation(**data["recommendation"])
        return cls(**data)

    def _repr_html_(self) -> str:
        """In a notebook: the headline, the reasons and the side-by-side table."""
        from advisor.verdict.html import render_html

        return render_html(self, summary_only=True)

    @classmethod
    def load(cls, path: str | Path) -> "Report":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
