"""The choice: measured lifts and their intervals, the user's limits and the corpus profile, to a recommendation
(choice, confidence, rule, basis); its reasons' wording is in reasons.py, its inputs in inputs.py."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

from advisor.corpus.profile import CorpusProfile
from advisor.measure.arms import ARM_KINDS, BASELINE, KIND_OF_CHOICE, same_option
from advisor.measure.comparisons import between, compare_arms, significant
from advisor.measure.evidence import ArmReport, ModelCheck
from advisor.measure.metrics import Metric
from advisor.verdict.inputs import (ANSWER_LIKELIHOOD, GOAL_PRIOR, SMALL_EVAL, STYLE_DOCUMENTS, ArmEvidence,
                                    DecisionInputs, primary_metric)
from advisor.verdict.reasons import (arm_label, comparison_text, constraint_reasons, feedback_reasons,
                                     forgetting_reasons, further_evidence, next_steps, profile_reasons,
                                     published_reasons, refinement_reasons, retraining_cost, sentence_start,
                                     short_training, what_would_change)
from advisor.verdict.report import CONFIDENCES, Reason, Recommendation


def _ahead(comparisons: dict, name: str, other: str) -> bool:
    """`name` measurably beats `other`; against a refinement of the same option (RAG and RAG with tuned
    embeddings), it is enough that the other does not measurably beat it: the simpler of two equals wins."""
    if same_option(name, other):
        return not significant(between(comparisons, other, name))
    return significant(between(comparisons, name, other))


def _best(comparisons: dict, candidates: list[str], prior: str) -> tuple[str, bool]:
    """The candidate ahead of every other one (_ahead; and True), the first of a refinement and what it refines
    when they tie; else, among the candidates no other one measurably beats (the top group), the whole corpus
    in the prompt when the prior is retrieval (the same facts in the prompt with no index to build or keep),
    the goal's prior arm, or the one with the largest lift (and False)."""
    for name in candidates:
        if all(_ahead(comparisons, name, other) for other in candidates if other != name):
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

    what = "the retrieved passages make" if choice == "rag" else f"{arm_label(arms, choice)} makes"
    factor = math.exp(lifts[choice]["improvement"])  # nats per token -> how many times more likely
    reasons = [
        Reason(f"{sentence_start(arm_label(arms, choice))} against the base model on {ANSWER_LIKELIHOOD.label}: "
               f"{comparison_text(lifts[choice])}{values(ANSWER_LIKELIHOOD.name)}: {what} each token of the right answer "
               f"about {factor:.1f} times as likely, but a model of this size does not yet turn that into a right "
               f"answer ({metric.label}{values(metric.name)} cannot tell it from the base model). A larger base "
               "model would be the test.", "comparisons")]
    by, unseparated = {"primary": [], "likelihood": []}, []
    for other in (name for name in helping if name != choice):
        how = _separation(choice, other, comparisons, likelihood)
        (by[how] if how else unseparated).append(other)

    def names(group: list[str]) -> str:
        return ", ".join(arm_label(arms, name) for name in group)

    for how, evidence, table in (("primary", metric, comparisons), ("likelihood", ANSWER_LIKELIHOOD, likelihood)):
        for other in by[how]:
            reasons.append(Reason(f"{sentence_start(arm_label(arms, choice))} against {arm_label(arms, other)} on "
                                  f"{evidence.label}: {comparison_text(between(table, choice, other))}: this separates "
                                  "them.", "comparisons"))
    for other in unseparated:
        reasons.append(Reason(f"{sentence_start(arm_label(arms, choice))} against {arm_label(arms, other)}: neither "
                              f"{metric.label} ({comparison_text(between(comparisons, choice, other))}) nor "
                              f"{ANSWER_LIKELIHOOD.label} ({comparison_text(between(likelihood, choice, other))}) separates "
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
        return chosen, [Reason(f"{sentence_start(arm_label(arms, chosen))} {' and '.join(missed)}, and no option that "
                               "beat the base model keeps your limits on this hardware: faster hardware or a smaller "
                               "model would be needed.", figure)]
    pick, _ = _best(comparisons, keeping, prior)
    return pick, [Reason(f"{sentence_start(arm_label(arms, chosen))} measured best but {' and '.join(missed)}: "
                         f"{arm_label(arms, pick)}, which also beat the base model, keeps your limits (it answers in "
                         f"{arms[pick].p95_ms:.1f} ms, p95) and is recommended.", figure)]


def _cite_sources(chosen: str, helping: list[str], comparisons: dict, arms: dict[str, ArmEvidence],
                  prior: str) -> tuple[str, list[Reason]]:
    """Answers that must cite sources need retrieval: the best helping arm that retrieves, if any."""
    if chosen in ARM_KINDS and ARM_KINDS[chosen].retrieval:
        return chosen, [Reason(f"Your answers must cite their sources, and {arm_label(arms, chosen)} can: each answer "
                               "comes with the passages it was given.", "constraints")]
    retrieving = [name for name in helping if name in ARM_KINDS and ARM_KINDS[name].retrieval]
    if not retrieving:
        return chosen, [Reason(f"Your answers must cite their sources, and {arm_label(arms, chosen)} cannot: only "
                               "retrieval points at the passage an answer comes from, and no arm with retrieval beat "
                               "the base model here.", "constraints")]
    pick, _ = _best(comparisons, retrieving, prior)
    return pick, [Reason(f"Your answers must cite their sources: only retrieval points at the passage an answer "
                         f"comes from, so {arm_label(arms, pick)}, which also beat the base model, is recommended over "
                         f"{arm_label(arms, chosen)}, which does not retrieve.", "constraints")]


def recommend(goal: str, metric: Metric, comparisons: dict, likelihood: dict, arms: dict[str, ArmReport],
              model_check: ModelCheck | dict, n_eval: int, constraints=None, profile: CorpusProfile | dict | None = None,
              style_comparisons: dict | None = None, style_n: int = 0,
              feedback=None) -> Recommendation:
    """The run's recommendation: the goal's own decision; for goal 'both', the knowledge half on `metric` and the
    style half on held-out documents (`style_comparisons`, when any were held out), combined."""
    half = "knowledge" if goal == "both" else goal
    rec = decide(DecisionInputs.from_measurements(half, metric, comparisons, arms, model_check, n_eval, likelihood,
                                                  constraints, profile, feedback))
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
    metric = primary_metric(goal, evaluation.kind in ("qa", "probes"), config.get("format_regex"))

    def compared(on: Metric) -> dict:
        return compare_arms({name: arm_scores.get(on.name, []) for name, arm_scores in scores.items()}, on, seed)

    style = compared(STYLE_DOCUMENTS) if evaluation.style_metric else None
    return recommend(goal, metric, compared(metric), compared(ANSWER_LIKELIHOOD), arms,
                     report.models.base_check or ModelCheck(), evaluation.n,
                     Constraints.from_dict(config.get("constraints") or {}), report.corpus, style,
                     evaluation.style_n or 0, report.feedback)


def decide(inputs: DecisionInputs) -> Recommendation:
    """The choice, its confidence and reasons, then what would change it and what to run next."""
    rec = _decide_choice(inputs)
    if rec.basis == "default":
        return rec
    return dataclasses.replace(rec, counter_arguments=what_would_change(inputs, rec),
                               next_steps=next_steps(inputs, rec))


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
    ConfidenceCap("people measurably preferred another option's answers to the chosen one's", "medium",
                  lambda facts: facts["people_disagree"]),
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
    if not model_check.trained:
        reasons.append(Reason(
            f"The base model has random or untrained weights (perplexity {model_check.perplexity:.1f} "
            f"on your corpus against {model_check.uniform_perplexity:.0f} for uniform guessing): "
            "every quality figure in this report is meaningless.", "models"))
        reasons.append(Reason(f"Your goal is {goal}: {prior_reason}. Rerun with a trained --base-model to measure it.",
                              sources=prior_sources))
        return Recommendation(prior_choice, "low", reasons, basis="default",
                              rule="Nothing could be measured (the base model is untrained): the published default "
                                   f"for goal {goal}.")

    lifts = {name: between(comparisons, name, BASELINE) for name in arms if name != BASELINE}
    # Each arm against the base model, and the chosen one against the others: put in front once the choice
    # is made, the chosen arm's own evidence first, so the first reasons are the ones that carry the verdict.
    lift_lines = {name: Reason(f"{sentence_start(arm_label(arms, name))} against the base model on {metric.label}: "
                               f"{comparison_text(lift)}.", "comparisons") for name, lift in lifts.items() if lift}
    versus: list[Reason] = []
    helping = [name for name, lift in lifts.items() if significant(lift)]
    by_likelihood = None if helping else _likelihood_evidence(likelihood or {}, arms, metric, prior_choice,
                                                              comparisons)
    tie_broken = False
    if by_likelihood:
        chosen, confidence = by_likelihood[0], "low"
        reasons += by_likelihood[1] + [r for r in further_evidence(chosen, arms, {}) if r.figure == "quality"]
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
        ahead = all(_ahead(comparisons, chosen, other) for other in lifts if other != chosen)
        confidence = "high" if clear and ahead else "medium"
        tie_broken = len(helping) > 1 and not clear
        if tie_broken:
            top = [name for name in helping if not any(significant(between(comparisons, other, name))
                                                       for other in helping if other != name)]
            tied = ", ".join(arm_label(arms, n) for n in top)
            if chosen == "full_context":
                reasons.append(Reason(f"{sentence_start(tied)} all help and cannot be told apart; the whole corpus in "
                                      "the prompt gives the model the same facts as retrieval with no index to build, "
                                      "keep fresh or search, and no training.", "comparisons"))
                rule = (f"Several options beat the base model on {metric.label} and cannot be told apart: the whole "
                        "corpus in the prompt among them, which has the least to build and keep.")
            elif chosen == prior_choice:
                reasons.append(Reason(f"{sentence_start(tied)} all help and cannot be told apart; your goal is {goal}: "
                                      f"{prior_reason}.", "comparisons", prior_sources))
                rule = (f"Several options beat the base model on {metric.label} and cannot be told apart: the "
                        f"published default for goal {goal} among them.")
            else:
                reasons.append(Reason(f"{sentence_start(tied)} all help and cannot be told apart, and are measurably "
                                      f"ahead of {arm_label(arms, prior_choice)}, the published default for goal {goal}: "
                                      "the one with the largest lift over the base model is recommended.",
                                      "comparisons"))
                rule = (f"Several options beat the base model on {metric.label} and cannot be told apart, all "
                        "measurably ahead of the published default: the largest lift among them.")
        elif clear and ahead:
            rule = f"The one option measurably better than every other on {metric.label}."
            tied = [other for other in lifts if other != chosen and same_option(chosen, other)
                    and not significant(between(comparisons, chosen, other))]
            if tied:
                rule = rule[:-1] + (f" ({', '.join(arm_label(arms, other) for other in tied)}, the same option "
                                    "refined, did no better).")
        else:
            rule = (f"The option that beat the base model on {metric.label}, though not measurably every other "
                    "option.")
        for other in lifts:
            if other != chosen and between(comparisons, chosen, other):
                versus.append(Reason(f"{sentence_start(arm_label(arms, chosen))} against {arm_label(arms, other)}: "
                                     f"{comparison_text(between(comparisons, chosen, other))}.", "comparisons"))
        reasons += further_evidence(chosen, arms, likelihood or {})

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
    reasons += refinement_reasons(chosen, arms, comparisons, metric)
    said_by_people, people_disagree = feedback_reasons(chosen, arms, comparisons, metric, inputs.feedback)
    reasons += said_by_people
    if n_eval < SMALL_EVAL:
        reasons.append(Reason(f"Only {n_eval} held-out items were scored: intervals are wide and the verdict is "
                              "tentative.", "quality"))
    if chosen in ARM_KINDS and ARM_KINDS[chosen].tuned:
        reasons += forgetting_reasons(arms, chosen)
    short = short_training(arms)
    if short:
        reasons.append(Reason(f"A longer fine-tune may change this: {short[0]}, and a quick verdict can differ from "
                              "one with several passes.", "quality"))
    said_of_profile, against = profile_reasons(inputs, chosen, any(ARM_KINDS[n].tuned for n in lifts
                                                                    if n in ARM_KINDS))
    reasons += said_of_profile + published_reasons(goal, chosen, measured=chosen == measured_choice)
    # After the reasons that carry the verdict: what the user's constraints say, the other options' own
    # figures, then the chosen option's latency and cost.
    stated: list[Reason] = []
    practical: list[Reason] = []
    if chosen != BASELINE:
        arm = arms[chosen]
        practical.append(Reason(f"{sentence_start(arm_label(arms, chosen))} answers in {arm.p50_ms:.1f} ms (p50) "
                                f"against {arms[BASELINE].p50_ms:.1f} ms for the base model, and costs "
                                f"${arm.one_off_usd:.5f} once plus ${arm.per_1k_usd:.5f} "
                                "per 1,000 queries on this hardware.", "latency"))
        if constraints is not None:
            stated += constraint_reasons(chosen, arms, constraints)
    facts = {"constraint_chose": constraint_chose, "n_eval": n_eval, "profile_against": against,
             "people_disagree": people_disagree}
    confidence = min([confidence] + [cap.most for cap in CONFIDENCE_CAPS if cap.applies(facts)], key=CONFIDENCES.index)
    lead = [lift_lines.pop(chosen)] if chosen in lift_lines else []
    return Recommendation(_choice(chosen), confidence,
                          lead + versus + reasons + stated + list(lift_lines.values()) + practical, rule=rule)


def combine_goals(knowledge: Recommendation, style: Recommendation, arms: dict[str, ArmEvidence] | None = None,
                  constraints=None) -> Recommendation:
    """Goal 'both': what the facts need and what the style needs, together; as sure as the less sure half.
    When the combination trains and the data changes, the cost of keeping the fine-tune fresh is said."""
    parts = KIND_OF_CHOICE[knowledge.choice].parts | KIND_OF_CHOICE[style.choice].parts
    if "finetune" in parts and parts & {"rag", "full_context"}:
        choice = "both"
    else:
        choice = next((c for c in ("finetune", "rag_tuned", "rag", "full_context") if KIND_OF_CHOICE[c].parts <= parts),
                      "neither")
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
                              f"be retrained to keep up with it{retraining_cost(arms, 'finetune')}; the facts stay "
                              "fresh through retrieval.", "costs"))
    basis = "default" if "default" in (knowledge.basis, style.basis) else "measured"
    counter = [f"Knowledge: {line}" for line in knowledge.counter_arguments] + \
        [f"Style: {line}" for line in style.counter_arguments]
    return Recommendation(choice, confidence, reasons, basis, counter,
                          list(dict.fromkeys(knowledge.next_steps + style.next_steps)),
                          rule="Goal both: what the facts need and what the style needs, each decided on its own "
                               "measure, put together.")
