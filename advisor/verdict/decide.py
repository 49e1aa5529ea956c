"""Turns measured lifts, their intervals and the user's goal into a recommendation with reasons."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

from advisor.corpus.personal_data import describe_counts, personal_data_counts
from advisor.measure.arms import ARM_KINDS, BASELINE, KIND_OF_CHOICE, label
from advisor.measure.evidence import ArmReport
from advisor.measure.comparisons import between, compare_arms, items_to_resolve, significant
from advisor.measure.metrics import METRICS, Metric
from advisor.verdict.report import CONFIDENCES, Reason, Recommendation


def _sentence_start(label: str) -> str:
    """Upper-cases the first letter only ('the base model' -> 'The base model'; 'RAG' stays 'RAG')."""
    return label[:1].upper() + label[1:]


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
    training_seconds: float | None = None
    training: dict = field(default_factory=dict)  # the fine-tune's figures (steps, passes, budget), for tuned arms

    def value(self, metric: str) -> float | None:
        value = self.means.get(metric)
        return None if value is None or math.isnan(value) else value

    @classmethod
    def from_report(cls, name: str, arm: ArmReport) -> "ArmEvidence":
        return cls(arm.label or label(name), {m: q["value"] for m, q in arm.quality.items() if q.get("value") is not None},
                   arm.latency_ms.get("p50", float("nan")), arm.latency_ms.get("p95", float("nan")),
                   arm.cost_usd["one_off"], arm.cost_usd["per_1k_queries"],
                   arm.details.get("one_off_seconds", 0.0), arm.details.get("training", {}).get("seconds"),
                   arm.details.get("training", {}))


@dataclass(frozen=True)
class DecisionInputs:
    """Everything the decision weighs, typed: built from the measurements, never from report text."""

    goal: str
    metric: "Metric"
    comparisons: dict  # "a_vs_b" -> {"improvement", "ci95", "n"} on `metric`
    arms: dict[str, ArmEvidence]
    model_check: dict  # check_trained's verdict on the base model
    n_eval: int
    likelihood: dict = field(default_factory=dict)  # the same pairs on the answer's log-probability
    constraints: object = None  # advisor.config.Constraints, or None
    corpus_tokens: int | None = None  # the profile's size of the corpus, in the base model's tokens
    personal_data: dict[str, int] = field(default_factory=dict)  # the profile's findings: kind -> how many
    style_consistency: tuple[str, float] | None = None  # the profile's verdict (consistent, mixed, varied) and score
    novelty_ratio: float | None = None  # base-model perplexity on the corpus over that on general text

    @classmethod
    def from_measurements(cls, goal: str, metric: "Metric", comparisons: dict, arms: dict[str, ArmReport],
                          model_check: dict, n_eval: int, likelihood: dict | None = None,
                          constraints=None, profile: dict | None = None) -> "DecisionInputs":
        profile = profile or {}
        consistency = (profile.get("style") or {}).get("consistency") or {}
        ratio = (profile.get("novelty") or {}).get("ratio")
        return cls(goal, metric, comparisons, {name: ArmEvidence.from_report(name, arm) for name, arm in arms.items()},
                   model_check, n_eval, likelihood or {}, constraints, profile.get("tokens"),
                   personal_data_counts(profile),
                   (consistency["verdict"], consistency["score"]) if "score" in consistency else None,
                   ratio if isinstance(ratio, (int, float)) and math.isfinite(ratio) else None)


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


def _best(comparisons: dict, candidates: list[str], prior: str) -> tuple[str, bool]:
    """The candidate that beats every other one measurably (and True); else, among the candidates no other
    one measurably beats (the top group), the whole corpus in the prompt when the prior is retrieval (the same
    facts in the prompt with no index to build or keep), the goal's prior arm, or the one with the largest
    lift (and False)."""
    for name in candidates:
        if all(significant(between(comparisons, name, other)) for other in candidates if other != name):
            return name, True
    top = [name for name in candidates
           if not any(significant(between(comparisons, other, name)) for other in candidates if other != name)]
    if prior == "rag" and "full_context" in top:
        return "full_context", False
    if prior in top:
        return prior, False
    lift = {name: (between(comparisons, name, BASELINE) or {"improvement": 0.0})["improvement"] for name in top}
    return max(top, key=lift.get), False


def _choice(arm: str) -> str:
    return ARM_KINDS[arm].choice if arm in ARM_KINDS else arm


def _fmt(comparison: dict) -> str:
    low, high = comparison["ci95"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{comparison['improvement']:+.3f} (n={comparison['n']}: too few items for an interval)"
    return f"{comparison['improvement']:+.3f} (95% CI {low:+.3f} to {high:+.3f}, n={comparison['n']})"


FORGETTING_NOTICE = 0.10  # a rise in reference-text perplexity above this share is worth a reason


def _forgetting(arms: dict[str, ArmEvidence], tuned_arm: str) -> list[Reason]:
    """A reason when the fine-tune measurably forgot the reference text (when one was given)."""
    before, after = arms[BASELINE].value("reference_perplexity"), arms[tuned_arm].value("reference_perplexity")
    if not before or after is None:
        return []
    change = after / before - 1
    if not change > FORGETTING_NOTICE:  # also when a perplexity is NaN
        return []
    return [Reason(f"The fine-tune forgets: perplexity on your reference text rose from {before:.3f} to "
                   f"{after:.3f} ({change:+.0%}). LoRA already forgets less than full fine-tuning; a lower "
                   "--learning-rate or --lora-rank, or general text mixed into the training data, forgets less still.",
                   "quality", ["biderman2024"])]


def _could_be_better(comparison: dict | None, metric: Metric) -> bool:
    """The interval leaves room for a difference worth acting on (no interval, as with too few items: yes)."""
    if comparison is None:
        return False
    high = comparison["ci95"][1]
    return not math.isfinite(high) or high >= metric.meaningful


def _separation(a: str, b: str, comparisons: dict, likelihood: dict) -> str | None:
    """Which evidence shows `a` better than `b`: the primary metric, else the answer's likelihood, else None."""
    if significant(between(comparisons, a, b)):
        return "primary"
    if significant(between(likelihood, a, b)):
        return "likelihood"
    return None


def _likelihood_evidence(likelihood: dict, arms: dict[str, ArmEvidence], metric: Metric,
                         prior: str, comparisons: dict) -> tuple[str, list[Reason], str, bool] | None:
    """When generation scores cannot separate any arm from the base model but answer likelihoods can: the
    arm the evidence favours, reasons that say which comparisons separated it from each option it passes
    over (and which did not), the rule, and whether every one of them was separated.

    Not when the base model already gives (nearly) every answer right: a likelihood lift then changes no answer."""
    if not metric.headroom(arms[BASELINE].value(metric.name)):
        return None
    lifts = {name: between(likelihood, name, BASELINE) for name in arms if name != BASELINE}
    helping = [name for name, lift in lifts.items() if significant(lift)]
    if not helping:
        return None
    separated = [name for name in helping
                 if all(_separation(name, other, comparisons, likelihood) for other in helping if other != name)]
    choice = separated[0] if len(separated) == 1 else _best(likelihood, helping, prior)[0]

    def values(name: str) -> str:
        base, mine = arms[BASELINE].value(name), arms[choice].value(name)
        return f" (from {base:.3f} to {mine:.3f})" if base is not None and mine is not None else ""

    what = "the retrieved passages make" if choice == "rag" else f"{_label(arms, choice)} makes"
    factor = math.exp(lifts[choice]["improvement"])  # nats per token -> how many times more likely
    reasons = [
        Reason(f"{_sentence_start(_label(arms, choice))} against the base model on {ANSWER_LIKELIHOOD.label}: "
               f"{_fmt(lifts[choice])}{values(ANSWER_LIKELIHOOD.name)}: {what} each token of the right answer "
               f"about {factor:.1f} times as likely, but a model of this size does not yet turn that into a right "
               f"answer ({metric.label}{values(metric.name)} cannot tell it from the base model). A larger base "
               "model would be the test.", "comparisons")]
    by, unseparated = {"primary": [], "likelihood": []}, []
    for other in (name for name in helping if name != choice):
        how = _separation(choice, other, comparisons, likelihood)
        (by[how] if how else unseparated).append(other)

    def names(group: list[str]) -> str:
        return ", ".join(_label(arms, name) for name in group)

    for how, evidence, table in (("primary", metric, comparisons), ("likelihood", ANSWER_LIKELIHOOD, likelihood)):
        for other in by[how]:
            reasons.append(Reason(f"{_sentence_start(_label(arms, choice))} against {_label(arms, other)} on "
                                  f"{evidence.label}: {_fmt(between(table, choice, other))}: this separates "
                                  "them.", "comparisons"))
    for other in unseparated:
        reasons.append(Reason(f"{_sentence_start(_label(arms, choice))} against {_label(arms, other)}: neither "
                              f"{metric.label} ({_fmt(between(comparisons, choice, other))}) nor "
                              f"{ANSWER_LIKELIHOOD.label} ({_fmt(between(likelihood, choice, other))}) separates "
                              "them.", "comparisons"))
    reasons.append(Reason("This recommendation rests on the likelihood evidence alone against the base model, so "
                          "its confidence is low."))
    against_base = f"from the base model by the answer's likelihood ({metric.label} could not separate them)"
    others = []
    if by["primary"]:
        others.append(f"from {names(by['primary'])} by {metric.label}")
    if by["likelihood"]:
        others.append(f"from {names(by['likelihood'])} by the answer's likelihood")
    if unseparated:
        rule = (f"No option beat the base model on {metric.label}; the answer's likelihood lifts this one and "
                f"{names(unseparated)} alike, and nothing separates them: the published default among them.")
    else:
        rule = (f"No option beat the base model on {metric.label}; this one is separated from every other: "
                + "; ".join([against_base] + others) + ".")
    return choice, reasons, rule, not unseparated


def _further_evidence(chosen: str, arms: dict[str, ArmEvidence], likelihood: dict) -> list[Reason]:
    """The rest of the quality evidence on the chosen arm: whether the answer's likelihood agrees with the
    generation scores, and, for retrieval, how often the passage holding the answer was retrieved."""
    reasons = []
    lift = between(likelihood, chosen, BASELINE)
    if lift:
        verdict = ("agrees" if significant(lift) else
                   "points the other way" if significant(between(likelihood, BASELINE, chosen))
                   else "cannot tell them apart")
        reasons.append(Reason(f"Further evidence: the answer's likelihood {verdict} ({_label(arms, chosen)} against "
                              f"the base model on {ANSWER_LIKELIHOOD.label}: {_fmt(lift)}).", "comparisons"))
    hit = arms[chosen].value("retrieval_hit_rate")
    if hit is not None:
        reasons.append(Reason(f"Retrieval put a passage holding the answer among those given for {hit:.3f} of the "
                              "questions (retrieval hit rate): the answers rest on the right text.", "quality"))
    return reasons


def _short_training(arms: dict[str, ArmEvidence]) -> tuple[str, float] | None:
    """When the quick fine-tune saw too little to judge it (under one pass over its data, or its budget cut the
    data plan short): what it saw, in words, and the budget in minutes that would cover the plan at this run's
    speed; None when it ran its plan."""
    training = next((arm.training for name, arm in arms.items()
                     if name in ARM_KINDS and ARM_KINDS[name].tuned and arm.training.get("steps")), None)
    if not training:
        return None
    steps, wanted, passes = training["steps"], training.get("steps_wanted") or training["steps"], training.get("passes")
    short = training.get("stopped_by_budget") and wanted > steps
    if not short and (passes is None or passes >= 1):
        return None
    saw = f"it saw its data {passes:.1f} times" if passes is not None else f"it ran {steps} steps"
    if short:
        saw += f" (the budget allowed {steps} of the {wanted} steps its data plan asked for)"
    seconds = training.get("seconds") or 0.0
    minutes = math.ceil(seconds * max(wanted, steps / passes if passes and passes < 1 else wanted) / steps / 60) \
        if seconds and steps else 0.0
    return saw, float(minutes)


def _retraining_cost(arms: dict[str, ArmEvidence], tuned_arm: str) -> str:
    """' (N s of training here, against M s to rebuild the index)', or '' when either is unknown."""
    train = arms[tuned_arm].training_seconds
    index = arms["rag"].one_off_seconds if "rag" in arms else None
    if train is None or index is None:
        return ""
    return f" ({train:.1f} s of training here, against {index:.1f} s to rebuild the index)"


def _constraint_reasons(chosen: str, arms: dict[str, ArmEvidence], constraints) -> list[Reason]:
    """What the user's constraints say about the chosen arm, each citing their answer and a measurement."""
    kind = ARM_KINDS.get(chosen)
    arm, name = arms[chosen], _label(arms, chosen)
    reasons = []
    if constraints.data_changes != "static" and kind and kind.tuned:
        reasons.append(Reason(f"Your data changes {constraints.data_changes}: {name} must be retrained to keep up"
                              f"{_retraining_cost(arms, chosen)}, and answers from between two trainings are out "
                              "of date.", "costs"))
    p95 = arm.p95_ms
    if constraints.latency_limit_ms is not None and p95 is not None:
        within = "within" if p95 <= constraints.latency_limit_ms else "above"
        reasons.append(Reason(f"{_sentence_start(name)} answers in {p95:.1f} ms (p95) on this hardware, {within} "
                              f"your limit of {constraints.latency_limit_ms:.0f} ms.", "latency"))
    if constraints.queries_per_month is not None:
        monthly = arm.per_1k_usd * constraints.queries_per_month / 1000
        budget = constraints.monthly_budget_usd
        verdict = "" if budget is None else (f", within your monthly budget of ${budget:,.2f}" if monthly <= budget
                                             else f", above your monthly budget of ${budget:,.2f}")
        reasons.append(Reason(f"At {constraints.queries_per_month:,} questions a month, {name} costs about "
                              f"${monthly:,.2f} a month on this hardware{verdict}.", "costs"))
    if constraints.one_off_budget_usd is not None and arm.one_off_usd > constraints.one_off_budget_usd:
        reasons.append(Reason(f"Its one-off cost here, ${arm.one_off_usd:.5f}, is above your one-off budget of "
                              f"${constraints.one_off_budget_usd:,.2f}.", "costs"))
    if not constraints.data_may_leave_machine:
        reasons.append(Reason("Your documents must stay on your machine: every option in this report ran locally, "
                              "and a hosted fine-tuning or vector-search service is not one of them.", "constraints"))
    return reasons


def _limits_missed(name: str, arms: dict[str, ArmEvidence], constraints) -> list[str]:
    """The user's limits an option misses on this hardware, each in words with its measured figure."""
    arm, missed = arms[name], []
    limit = constraints.latency_limit_ms
    if limit is not None and arm.p95_ms > limit:
        missed.append(f"answers in {arm.p95_ms:.1f} ms (p95), above your limit of {limit:.0f} ms")
    budget, volume = constraints.monthly_budget_usd, constraints.queries_per_month
    if budget is not None and volume is not None and arm.per_1k_usd * volume / 1000 > budget:
        missed.append(f"costs about ${arm.per_1k_usd * volume / 1000:,.2f} a month at {volume:,} questions, above "
                      f"your monthly budget of ${budget:,.2f}")
    return missed


def _within_limits(chosen: str, candidates: list[str], comparisons: dict, arms: dict[str, ArmEvidence],
                   constraints, prior: str) -> tuple[str, list[Reason]]:
    """A latency limit and a monthly budget are limits, not wishes: when the chosen option misses one, the best
    of the other candidates (options that beat the base model) that keeps them all, if any."""
    missed = _limits_missed(chosen, arms, constraints)
    if not missed:
        return chosen, []
    figure = "latency" if "ms (p95)" in missed[0] else "costs"
    keeping = [name for name in candidates if name != chosen and not _limits_missed(name, arms, constraints)]
    if not keeping:
        return chosen, [Reason(f"{_sentence_start(_label(arms, chosen))} {' and '.join(missed)}, and no option that "
                               "beat the base model keeps your limits on this hardware: faster hardware or a smaller "
                               "model would be needed.", figure)]
    pick, _ = _best(comparisons, keeping, prior)
    return pick, [Reason(f"{_sentence_start(_label(arms, chosen))} measured best but {' and '.join(missed)}: "
                         f"{_label(arms, pick)}, which also beat the base model, keeps your limits (it answers in "
                         f"{arms[pick].p95_ms:.1f} ms, p95) and is recommended.", figure)]


def _cite_sources(chosen: str, helping: list[str], comparisons: dict, arms: dict[str, ArmEvidence],
                  prior: str) -> tuple[str, list[Reason]]:
    """Answers that must cite sources need retrieval: the best helping arm that retrieves, if any."""
    if chosen in ARM_KINDS and ARM_KINDS[chosen].retrieval:
        return chosen, [Reason(f"Your answers must cite their sources, and {_label(arms, chosen)} can: each answer "
                               "comes with the passages it was given.", "constraints")]
    retrieving = [name for name in helping if name in ARM_KINDS and ARM_KINDS[name].retrieval]
    if not retrieving:
        return chosen, [Reason(f"Your answers must cite their sources, and {_label(arms, chosen)} cannot: only "
                               "retrieval points at the passage an answer comes from, and no arm with retrieval beat "
                               "the base model here.", "constraints")]
    pick, _ = _best(comparisons, retrieving, prior)
    return pick, [Reason(f"Your answers must cite their sources: only retrieval points at the passage an answer "
                         f"comes from, so {_label(arms, pick)}, which also beat the base model, is recommended over "
                         f"{_label(arms, chosen)}, which does not retrieve.", "constraints")]


def recommend(goal: str, metric: Metric, comparisons: dict, likelihood: dict, arms: dict[str, ArmReport],
              model_check: dict, n_eval: int, constraints=None, profile: dict | None = None,
              style_comparisons: dict | None = None, style_n: int = 0) -> Recommendation:
    """The run's recommendation: the goal's own decision; for goal 'both', the knowledge half on `metric` and the
    style half on held-out documents (`style_comparisons`, when any were held out), combined."""
    half = "knowledge" if goal == "both" else goal
    rec = decide(DecisionInputs.from_measurements(half, metric, comparisons, arms, model_check, n_eval, likelihood,
                                                  constraints, profile))
    if style_comparisons is not None:
        style_inputs = DecisionInputs.from_measurements("style", STYLE_DOCUMENTS, style_comparisons, arms, model_check,
                                                        style_n, profile=profile)
        rec = combine_goals(rec, decide(style_inputs), style_inputs.arms, constraints)
    return rec


def recommend_from_report(report, per_item=None) -> Recommendation:
    """The decision made again from a report's evidence alone, with no model: the run's own recommendation.

    `per_item`, when given, maps each arm's per-item scores ({arm: {metric: [scores]}}, as report.json keeps
    them) to other ones, say shuffled between arms: what the decision would say on that evidence."""
    from advisor.config import Constraints

    config, evaluation, arms = report.config, report.evaluation, report.arms
    scores = {name: arm.details.get("scores", {}) for name, arm in arms.items()}
    if per_item is not None:  # the arms' means follow their new scores
        scores = per_item(scores)
        arms = {name: dataclasses.replace(arm, quality={
            metric: ({**entry, "value": sum(scores[name][metric]) / len(scores[name][metric])}
                     if scores[name].get(metric) else entry) for metric, entry in arm.quality.items()})
            for name, arm in arms.items()}
    seed = config.get("seed", 0)
    goal = config.get("goal", "knowledge")
    metric = primary_metric(goal, evaluation.get("kind") in ("qa", "probes"), config.get("format_regex"))

    def compared(on: Metric) -> dict:
        return compare_arms({name: arm_scores.get(on.name, []) for name, arm_scores in scores.items()}, on, seed)

    style = compared(STYLE_DOCUMENTS) if evaluation.get("style_metric") else None
    return recommend(goal, metric, compared(metric), compared(ANSWER_LIKELIHOOD), arms,
                     report.models.get("base_check", {}), evaluation.get("n", 0),
                     Constraints.from_dict(config.get("constraints") or {}), report.corpus, style,
                     evaluation.get("style_n", 0))


def decide(inputs: DecisionInputs) -> Recommendation:
    """The choice, its confidence and reasons, then what would change it and what to run next."""
    rec = _decide_choice(inputs)
    if rec.basis == "default":
        return rec
    return dataclasses.replace(rec, counter_arguments=what_would_change(inputs, rec),
                               next_steps=next_steps(inputs, rec))


def what_would_change(inputs: DecisionInputs, rec: Recommendation) -> list[str]:
    """Counter-arguments: the measured facts that, were they different, would change the answer."""
    from advisor.measure.cost import break_even_queries

    arms, chosen = inputs.arms, KIND_OF_CHOICE[rec.choice].name
    lines = []
    for other in (name for name in arms if name != chosen):
        comparison = between(inputs.comparisons, chosen, other) if chosen in arms else None
        needed = items_to_resolve(comparison) if comparison else None
        if needed and needed > inputs.n_eval:
            lines.append(f"{_sentence_start(_label(arms, chosen))} against {_label(arms, other)} differ by "
                         f"{comparison['improvement']:+.3f} on {inputs.metric.label}, within the noise of "
                         f"{inputs.n_eval} items: with about {needed} held-out items the difference, if it holds, "
                         "would be resolvable.")
    if "finetune" in arms and "rag" in arms and rec.choice in ("rag", "finetune"):
        costs = {name: {"one_off": arms[name].one_off_usd, "per_1k_queries": arms[name].per_1k_usd}
                 for name in ("finetune", "rag")}
        queries = break_even_queries(costs["finetune"], costs["rag"])
        if queries and rec.choice == "rag":
            lines.append(f"On cost alone, were the fine-tune as good: after about {queries:,.0f} questions its "
                         "cheaper answers (no passages in the prompt) would repay its extra one-off cost against "
                         "RAG, at this hardware's prices.")
        elif queries:
            lines.append(f"On cost alone: below about {queries:,.0f} questions in all, RAG costs less than the "
                         "fine-tune, whose training is paid once, at this hardware's prices.")
    constraints = inputs.constraints
    if rec.choice in ("finetune", "both") and (constraints is None or constraints.data_changes == "static"):
        lines.append("If your documents changed often, every change would need the fine-tune trained again; "
                     "retrieval only re-indexes them (say how often with --data-changes).")
    return lines


def next_steps(inputs: DecisionInputs, rec: Recommendation) -> list[str]:
    """What to run next: more evidence where it is thin, then the same comparison at full scale."""
    steps = []
    if inputs.n_eval < SMALL_EVAL or rec.confidence == "low":
        steps.append("Score more held-out questions: a QA file with a few hundred pairs (--qa), or a larger "
                     "--max-eval; intervals narrow as one over the square root of their number.")
    short = _short_training(inputs.arms)
    if short and short[1]:
        steps.append(f"Settle whether a longer fine-tune changes the verdict: rerun with --budget-minutes "
                     f"{short[1]:g}, which at this run's speed covers the fine-tune's whole data plan; here "
                     f"{short[0]}.")
    steps.append("Rerun with the base model you would deploy (--base-model) and a fine-tune budget that lets it "
                 "see the data a few times (--budget-minutes; the report's notes say how many passes it made).")
    if rec.choice in ("rag", "both", "full_context"):
        steps.append("Before deploying retrieval, tune it on your own questions: chunk size (--chunk-size) and "
                     "passages per question (--top-k), each run set against this one with advisor compare.")
    if rec.choice in ("finetune", "both"):
        steps.append("Before deploying the fine-tune, measure what it forgets: --reference-text with general text "
                     "it should keep knowing.")
    return steps


def _profile_reasons(inputs: DecisionInputs, chosen: str, fine_tune_measured: bool) -> tuple[list[Reason], bool]:
    """What the corpus profile says about the choice: personal data, too little data, and (for style) documents
    without one style argue against baking the corpus into weights; a consistent style supports it; a corpus
    the model finds familiar raises the base model's bar. Returns the reasons, and True when they argue
    against the choice."""
    kind = ARM_KINDS.get(chosen)
    tuned = bool(kind and kind.tuned)
    reasons, against = [], False
    if inputs.personal_data:
        found = describe_counts(inputs.personal_data)
        if tuned:
            against = True
            reasons.append(Reason(
                f"Your corpus holds personal data ({found}): a fine-tune bakes it into weights that cannot be made "
                "to forget it, while a RAG index deletes a document in seconds. Remove it from the training data "
                "first, or keep such documents to retrieval.", "corpus"))
        elif chosen != BASELINE:
            reasons.append(Reason(
                f"Your corpus holds personal data ({found}): retrieval keeps it in an index from which a document "
                "can be deleted; a fine-tune would bake it into its weights. Limit who can query the index.",
                "corpus"))
    tokens = inputs.corpus_tokens
    if tokens is not None and tokens < SMALL_CORPUS_TOKENS and (tuned or (fine_tune_measured and chosen != BASELINE)):
        said = (f"Your corpus is {tokens:,} tokens, under the {SMALL_CORPUS_TOKENS:,} below which a fine-tune has "
                "little to learn from: a model learns a fact well enough to answer questions about it only from "
                "many restatements in different words")
        if tuned:
            against = True
            reasons.append(Reason(said + "; more documents, or paraphrases of these, would make the fine-tune "
                                  "more trustworthy.", "corpus", ["allenzhu2023"]))
        elif inputs.goal == "knowledge":
            reasons.append(Reason(said + "; retrieval needs no minimum.", "corpus", ["allenzhu2023"]))
    if inputs.goal == "style" and inputs.style_consistency and chosen != BASELINE:
        verdict, score = inputs.style_consistency
        if verdict == "varied" and tuned:
            against = True
            reasons.append(Reason(f"Your documents do not share one style (consistency {score:.2f} of 1): a fine-tune "
                                  "learns a blend of them. Train on the documents written the way you want, "
                                  "and measure again.", "corpus"))
        elif verdict == "consistent" and tuned:
            reasons.append(Reason(f"Your documents share a consistent style (consistency {score:.2f} of 1): one house "
                                  "style is what a fine-tune can learn.", "corpus"))
    if inputs.goal == "knowledge" and inputs.novelty_ratio is not None and inputs.novelty_ratio <= 1.0 \
            and chosen != BASELINE:
        reasons.append(Reason(f"The base model finds your corpus no more surprising than general text (perplexity "
                              f"{inputs.novelty_ratio:.1f} times that on it): it may know much of it already, so the "
                              "base model's own score is the bar to clear.", "corpus"))
    return reasons, against


def _published_reasons(goal: str, chosen: str, measured: bool) -> list[Reason]:
    """What published work says about the chosen option, where it applies to this goal; `measured`: the
    measurements chose it (not the goal's default breaking a tie)."""
    kind = ARM_KINDS.get(chosen)
    reasons = []
    prior, why, sources = GOAL_PRIOR[goal]
    if measured and kind and chosen != BASELINE:
        agrees = chosen == prior
        reasons.append(Reason(f"{'This agrees with' if agrees else 'This goes against'} published comparisons for "
                              f"goal {goal}: {why}"
                              + ("." if agrees else "; on your documents the measurement says otherwise, and "
                                 "it is the measurement that decides here."), sources=sources))
    if kind and kind.tuned and goal == "knowledge":
        reasons.append(Reason("Fine-tuning on facts that are new to a model raises how often it makes facts up, once "
                              "it has learned them: read the fine-tune's wrong answers as well as its right ones.",
                              sources=["gekhman2024"]))
    if kind and kind.tuned and kind.retrieval:
        reasons.append(Reason("Retrieval and fine-tuning can add up, each improving answers on its own and more "
                              "together; here that is measured, not assumed.", "comparisons", ["balaguer2024"]))
    return reasons


@dataclass(frozen=True)
class ConfidenceCap:
    """A circumstance that limits how sure a verdict can be, whatever its measurements say."""

    why: str
    most: str  # the highest confidence a verdict can have when it applies
    applies: Callable[[dict], bool]  # on the decision's facts: constraint_chose, n_eval, profile_against


CONFIDENCE_CAPS = [
    ConfidenceCap("a constraint (sources to cite, a latency limit, a budget), not the measurements, made the choice",
                  "medium", lambda facts: facts["constraint_chose"]),
    ConfidenceCap(f"fewer than {SMALL_EVAL} held-out items were scored", "low",
                  lambda facts: facts["n_eval"] < SMALL_EVAL),
    ConfidenceCap("measured best, but the corpus argues against baking it into weights", "medium",
                  lambda facts: facts["profile_against"]),
]


def _decide_choice(inputs: DecisionInputs) -> Recommendation:
    """Generation scores first (with their intervals), the answer's likelihood when they cannot
    separate the arms, then the user's constraints and the corpus profile; every reason points at a
    figure of the report or cites published work."""
    goal, metric, comparisons, arms = inputs.goal, inputs.metric, inputs.comparisons, inputs.arms
    model_check, n_eval, likelihood, constraints = (inputs.model_check, inputs.n_eval, inputs.likelihood,
                                                    inputs.constraints)
    prior_choice, prior_reason, prior_sources = GOAL_PRIOR[goal]
    reasons: list[Reason] = []
    if not model_check.get("trained", True):
        reasons.append(Reason(
            f"The base model has random or untrained weights (perplexity {model_check['perplexity']:.1f} "
            f"on your corpus against {model_check['uniform_perplexity']:.0f} for uniform guessing): "
            "every quality figure in this report is meaningless.", "models"))
        reasons.append(Reason(f"Your goal is {goal}: {prior_reason}. Rerun with a trained --base-model to measure it.",
                              sources=prior_sources))
        return Recommendation(prior_choice, "low", reasons, basis="default",
                              rule="Nothing could be measured (the base model is untrained): the published default "
                                   f"for goal {goal}.")

    lifts = {name: between(comparisons, name, BASELINE) for name in arms if name != BASELINE}
    # Each arm against the base model, and the chosen one against the others: put in front once the choice
    # is made, the chosen arm's own evidence first, so the first reasons are the ones that carry the verdict.
    lift_lines = {name: Reason(f"{_sentence_start(_label(arms, name))} against the base model on {metric.label}: "
                               f"{_fmt(lift)}.", "comparisons") for name, lift in lifts.items() if lift}
    versus: list[Reason] = []
    helping = [name for name, lift in lifts.items() if significant(lift)]
    by_likelihood = None if helping else _likelihood_evidence(likelihood or {}, arms, metric, prior_choice,
                                                              comparisons)
    tie_broken = False
    if by_likelihood:
        chosen, confidence = by_likelihood[0], "low"
        reasons += by_likelihood[1] + [r for r in _further_evidence(chosen, arms, {}) if r.figure == "quality"]
        rule = by_likelihood[2]
        tie_broken = not by_likelihood[3]
    elif not helping:
        chosen = BASELINE
        # Every option's interval against the base model below the smallest difference worth acting on: not
        # just unproven, but shown to add nothing worth its cost on this evidence.
        settled = bool(lifts) and not any(_could_be_better(lift, metric) for lift in lifts.values())
        confidence = "medium" if settled else "low"
        if settled:
            reasons.append(Reason(
                f"No option can be meaningfully better than the base model on this evidence: every interval against "
                f"it ends below +{metric.meaningful:g} on {metric.label}, so neither retrieval nor a fine-tune is "
                "worth its cost here.", "comparisons"))
            rule = (f"Every option measured no better than the base model on {metric.label} (each interval below "
                    f"+{metric.meaningful:g}).")
        else:
            reasons.append(Reason("No arm beat the base model by more than the noise on this evidence; add held-out "
                                  "questions, a larger base model or a longer budget before spending on either.",
                                  "comparisons"))
            rule = f"No option beat the base model on {metric.label} by more than the noise."
    else:
        chosen, clear = _best(comparisons, helping, prior_choice)
        # Measurably ahead of every other arm (helping or not): high; ahead of the base model only: medium.
        ahead = all(significant(between(comparisons, chosen, other)) for other in lifts if other != chosen)
        confidence = "high" if clear and ahead else "medium"
        tie_broken = len(helping) > 1 and not clear
        if tie_broken:
            top = [name for name in helping if not any(significant(between(comparisons, other, name))
                                                       for other in helping if other != name)]
            tied = ", ".join(_label(arms, n) for n in top)
            if chosen == "full_context":
                reasons.append(Reason(f"{_sentence_start(tied)} all help and cannot be told apart; the whole corpus in "
                                      "the prompt gives the model the same facts as retrieval with no index to build, "
                                      "keep fresh or search, and no training.", "comparisons"))
                rule = (f"Several options beat the base model on {metric.label} and cannot be told apart: the whole "
                        "corpus in the prompt among them, which has the least to build and keep.")
            elif chosen == prior_choice:
                reasons.append(Reason(f"{_sentence_start(tied)} all help and cannot be told apart; your goal is {goal}: "
                                      f"{prior_reason}.", "comparisons", prior_sources))
                rule = (f"Several options beat the base model on {metric.label} and cannot be told apart: the "
                        f"published default for goal {goal} among them.")
            else:
                reasons.append(Reason(f"{_sentence_start(tied)} all help and cannot be told apart, and are measurably "
                                      f"ahead of {_label(arms, prior_choice)}, the published default for goal {goal}: "
                                      "the one with the largest lift over the base model is recommended.",
                                      "comparisons"))
                rule = (f"Several options beat the base model on {metric.label} and cannot be told apart, all "
                        "measurably ahead of the published default: the largest lift among them.")
        elif clear and ahead:
            rule = f"The one option measurably better than every other on {metric.label}."
        else:
            rule = (f"The option that beat the base model on {metric.label}, though not measurably every other "
                    "option.")
        for other in lifts:
            if other != chosen and between(comparisons, chosen, other):
                versus.append(Reason(f"{_sentence_start(_label(arms, chosen))} against {_label(arms, other)}: "
                                     f"{_fmt(between(comparisons, chosen, other))}.", "comparisons"))
        reasons += _further_evidence(chosen, arms, likelihood or {})

    measured_choice = chosen if helping and not tie_broken else None  # the measurements alone chose it
    constraint_chose = False  # a constraint, not the measurements, moved the choice
    if constraints is not None and constraints.must_cite_sources and chosen != BASELINE:
        measured_best = chosen
        chosen, said = _cite_sources(chosen, helping, comparisons, arms, prior_choice)
        reasons += said
        if chosen != measured_best:
            rule, constraint_chose = "Your answers must cite their sources: the best option that retrieves.", True
    if constraints is not None and chosen != BASELINE:
        cited = chosen
        allowed = [name for name in helping if not constraints.must_cite_sources
                   or (name in ARM_KINDS and ARM_KINDS[name].retrieval)]
        chosen, said = _within_limits(chosen, allowed, comparisons, arms, constraints, prior_choice)
        reasons += said
        if chosen != cited:
            rule = "Your latency limit or monthly budget: the best option that beat the base model and keeps them."
            constraint_chose = True
    if n_eval < SMALL_EVAL:
        reasons.append(Reason(f"Only {n_eval} held-out items were scored: intervals are wide and the verdict is "
                              "tentative.", "quality"))
    if chosen in ARM_KINDS and ARM_KINDS[chosen].tuned:
        reasons += _forgetting(arms, chosen)
    short = _short_training(arms)
    if short:
        reasons.append(Reason(f"A longer fine-tune may change this: {short[0]}, and a quick verdict can differ from "
                              "one with several passes.", "quality"))
    profile_reasons, against = _profile_reasons(inputs, chosen, any(ARM_KINDS[n].tuned for n in lifts
                                                                    if n in ARM_KINDS))
    reasons += profile_reasons + _published_reasons(goal, chosen, measured=chosen == measured_choice)
    # After the reasons that carry the verdict: what the user's constraints say, the other options' own
    # figures, then the chosen option's latency and cost.
    stated: list[Reason] = []
    practical: list[Reason] = []
    if chosen != BASELINE:
        arm = arms[chosen]
        practical.append(Reason(f"{_sentence_start(_label(arms, chosen))} answers in {arm.p50_ms:.1f} ms (p50) "
                                f"against {arms[BASELINE].p50_ms:.1f} ms for the base model, and costs "
                                f"${arm.one_off_usd:.5f} once plus ${arm.per_1k_usd:.5f} "
                                "per 1,000 queries on this hardware.", "latency"))
        if constraints is not None:
            stated += _constraint_reasons(chosen, arms, constraints)
    facts = {"constraint_chose": constraint_chose, "n_eval": n_eval, "profile_against": against}
    confidence = min([confidence] + [cap.most for cap in CONFIDENCE_CAPS if cap.applies(facts)], key=CONFIDENCES.index)
    lead = [lift_lines.pop(chosen)] if chosen in lift_lines else []
    return Recommendation(_choice(chosen), confidence,
                          lead + versus + reasons + stated + list(lift_lines.values()) + practical, rule=rule)


def _label(arms: dict[str, ArmEvidence], name: str) -> str:
    return (arms[name].label if name in arms else "") or label(name)


def combine_goals(knowledge: Recommendation, style: Recommendation, arms: dict[str, ArmEvidence] | None = None,
                  constraints=None) -> Recommendation:
    """Goal 'both': what the facts need and what the style needs, together; as sure as the less sure half.
    When the combination trains and the data changes, the cost of keeping the fine-tune fresh is said."""
    parts = KIND_OF_CHOICE[knowledge.choice].parts | KIND_OF_CHOICE[style.choice].parts
    if "finetune" in parts and parts & {"rag", "full_context"}:
        choice = "both"
    else:
        choice = next((c for c in ("finetune", "rag", "full_context") if c in parts), "neither")
    order = ("low", "medium", "high")
    confidence = min(knowledge.confidence, style.confidence, key=order.index)
    reasons = [Reason(f"For the facts (knowledge), on its own: {knowledge.choice} ({knowledge.confidence} "
                      f"confidence). For the style, on its own: {style.choice} ({style.confidence} confidence).")]
    reasons += [dataclasses.replace(reason, text=f"Knowledge: {reason.text}") for reason in knowledge.reasons]
    reasons += [dataclasses.replace(reason, text=f"Style: {reason.text}") for reason in style.reasons]
    if choice == "both":
        reasons.append(Reason("Each half does its own job: retrieval carries the facts and the fine-tune the style; "
                              "the two have been found to add up.", sources=["balaguer2024"]))
    if (choice == "both" and constraints is not None and constraints.data_changes != "static" and arms
            and "finetune" in arms):
        reasons.append(Reason(f"Your data changes {constraints.data_changes}: the fine-tune in this combination must "
                              f"be retrained to keep up with it{_retraining_cost(arms, 'finetune')}; the facts stay "
                              "fresh through retrieval.", "costs"))
    basis = "default" if "default" in (knowledge.basis, style.basis) else "measured"
    counter = [f"Knowledge: {line}" for line in knowledge.counter_arguments] + \
        [f"Style: {line}" for line in style.counter_arguments]
    return Recommendation(choice, confidence, reasons, basis, counter,
                          list(dict.fromkeys(knowledge.next_steps + style.next_steps)),
                          rule="Goal both: what the facts need and what the style needs, each decided on its own "
                               "measure, put together.")
