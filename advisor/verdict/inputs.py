"""What the decision weighs, typed: each arm's evidence, the run's inputs, the goal's prior and the metrics read."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from advisor.corpus.personal_data import personal_data_counts
from advisor.corpus.profile import CorpusProfile
from advisor.measure.arms import label
from advisor.measure.evidence import ArmReport, ModelCheck, Training
from advisor.measure.feedback import FeedbackEvidence
from advisor.measure.metrics import METRICS, Metric


@dataclass(frozen=True)
class ArmEvidence:
    """What the decision reads of one arm: mean scores, latency, cost and one-off times."""

    label: str
    means: dict[str, float]  # metric -> mean over the held-out items
    p50_ms: float
    p95_ms: float
    one_off_usd: float
    per_1k_usd: float
    one_off_seconds: float = 0.0
    training: Training | None = None  # the fine-tune's figures (steps, passes, budget), for tuned arms

    def __post_init__(self):  # the figures as a record, from training.json's dict too
        if isinstance(self.training, dict):
            object.__setattr__(self, "training", Training.from_dict(self.training) if self.training else None)

    @property
    def training_seconds(self) -> float | None:
        return self.training.seconds if self.training else None

    def value(self, metric: str) -> float | None:
        value = self.means.get(metric)
        return None if value is None or math.isnan(value) else value

    @classmethod
    def from_report(cls, name: str, arm: ArmReport) -> "ArmEvidence":
        return cls(arm.label or label(name), {m: q["value"] for m, q in arm.quality.items() if q.get("value") is not None},
                   arm.latency_ms.get("p50", float("nan")), arm.latency_ms.get("p95", float("nan")),
                   arm.cost_usd["one_off"], arm.cost_usd["per_1k_queries"],
                   arm.details.get("one_off_seconds", 0.0), arm.training)


@dataclass(frozen=True)
class DecisionInputs:
    """Everything the decision weighs, typed: built from the measurements, never from report text."""

    goal: str
    metric: "Metric"
    comparisons: dict  # "a_vs_b" -> {"improvement", "ci95", "n"} on `metric`
    arms: dict[str, ArmEvidence]
    model_check: ModelCheck  # check_trained's verdict on the base model
    n_eval: int
    likelihood: dict = field(default_factory=dict)  # the same pairs on the answer's log-probability
    constraints: object = None  # advisor.config.Constraints, or None
    corpus_tokens: int | None = None  # the profile's size of the corpus, in the base model's tokens
    personal_data: dict[str, int] = field(default_factory=dict)  # the profile's findings: kind -> how many
    style_consistency: tuple[str, float] | None = None  # the profile's verdict (consistent, mixed, varied) and score
    novelty_ratio: float | None = None  # base-model perplexity on the corpus over that on general text
    feedback: FeedbackEvidence | None = None  # people's ratings of the answers, when any

    @classmethod
    def from_measurements(cls, goal: str, metric: "Metric", comparisons: dict, arms: dict[str, ArmReport],
                          model_check: ModelCheck | dict, n_eval: int, likelihood: dict | None = None,
                          constraints=None, profile: CorpusProfile | dict | None = None,
                          feedback: FeedbackEvidence | None = None) -> "DecisionInputs":
        profile = CorpusProfile.from_dict(profile)
        consistency = profile.style.get("consistency") or {}
        ratio = (profile.novelty or {}).get("ratio")
        return cls(goal, metric, comparisons, {name: ArmEvidence.from_report(name, arm) for name, arm in arms.items()},
                   ModelCheck.from_dict(model_check), n_eval, likelihood or {}, constraints, profile.tokens,
                   personal_data_counts(profile.personal_data),
                   (consistency["verdict"], consistency["score"]) if "score" in consistency else None,
                   ratio if isinstance(ratio, (int, float)) and math.isfinite(ratio) else None, feedback)


# What published evidence favours when the measurements cannot tell the arms apart: (arm, why, sources).
GOAL_PRIOR = {
    "knowledge": ("rag", "for new facts, retrieval has consistently beaten unsupervised fine-tuning",
                  ["ovadia2023", "soudani2024"]),
    "style": ("finetune", "style, tone and format are what fine-tuning changes best; putting examples "
                          "in the prompt rarely holds a format as reliably", ["vendor_guidance"]),
}


SMALL_EVAL = 20  # below this many held-out items, no verdict gets more than low confidence


SMALL_CORPUS_TOKENS = 50_000  # below this, a corpus is little for a fine-tune to learn from


def primary_metric(goal: str, has_qa: bool, format_regex: str | None) -> Metric:
    """What the decision reads first; for goal 'both', its knowledge half's (the style half reads STYLE_DOCUMENTS)."""
    if has_qa and format_regex:
        return METRICS["format_match"]
    if format_regex and goal == "style":
        return METRICS["format_match"].meaning_for(
            "the share of the complete lines each arm writes, continuing a held-out document from its opening, that "
            "match your --format-regex")
    if has_qa and goal in ("knowledge", "both"):
        return METRICS["answer_containment"]
    if has_qa:
        return METRICS["token_f1"]
    return METRICS["doc_nll_per_token"]


STYLE_DOCUMENTS = METRICS["doc_nll_per_token"]  # the style half of goal 'both': held-out documents


# The answer's likelihood under each arm: it moves before generated answers do, so it is the
# second line of evidence when generation scores cannot tell the arms apart.
ANSWER_LIKELIHOOD = METRICS["answer_logprob"]
