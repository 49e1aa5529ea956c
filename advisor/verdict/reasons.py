"""The decision's reasons in words: each points at a figure of the report or cites published work."""

from __future__ import annotations

import math

from advisor.corpus.personal_data import describe_counts
from advisor.measure.arms import ARM_KINDS, BASELINE, KIND_OF_CHOICE, label
from advisor.measure.comparisons import between, items_to_resolve, significant
from advisor.measure.evidence import seen_share
from advisor.verdict.inputs import (ANSWER_LIKELIHOOD, GOAL_PRIOR, SMALL_CORPUS_TOKENS, SMALL_EVAL, ArmEvidence,
                                    DecisionInputs)
from advisor.verdict.report import Reason, Recommendation


def sentence_start(label: str) -> str:
    """Upper-cases the first letter only ('the base model' -> 'The base model'; 'RAG' stays 'RAG')."""
    return label[:1].upper() + label[1:]


def comparison_text(comparison: dict) -> str:
    low, high = comparison["ci95"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{comparison['improvement']:+.3f} (n={comparison['n']}: too few items for an interval)"
    # -0.0, a tie seen from the other side, reads as +0.000
    improvement, low, high = comparison["improvement"] + 0.0, low + 0.0, high + 0.0
    return f"{improvement:+.3f} (95% CI {low:+.3f} to {high:+.3f}, n={comparison['n']})"


FORGETTING_NOTICE = 0.10  # a rise in reference-text perplexity above this share is worth a reason


def forgetting_reasons(arms: dict[str, ArmEvidence], tuned_arm: str) -> list[Reason]:
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


def further_evidence(chosen: str, arms: dict[str, ArmEvidence], likelihood: dict) -> list[Reason]:
    """The rest of the quality evidence on the chosen arm: whether the answer's likelihood agrees with the
    generation scores, and, for retrieval, how often the passage holding the answer was retrieved."""
    reasons = []
    lift = between(likelihood, chosen, BASELINE)
    if lift:
        verdict = ("agrees" if significant(lift) else
                   "points the other way" if significant(between(likelihood, BASELINE, chosen))
                   else f"moves by less than the {ANSWER_LIKELIHOOD.meaningful:g} nats per token that would count"
                   if lift["ci95"][0] > 0 or lift["ci95"][1] < 0 else "cannot tell them apart")
        reasons.append(Reason(f"Further evidence: the answer's likelihood {verdict} ({arm_label(arms, chosen)} against "
                              f"the base model on {ANSWER_LIKELIHOOD.label}: {comparison_text(lift)}).", "comparisons"))
    hit = arms[chosen].value("retrieval_hit_rate")
    if hit is not None:
        reasons.append(Reason(f"Retrieval put a passage holding the answer among those given for {hit:.3f} of the "
                              "questions (retrieval hit rate): the answers rest on the right text.", "quality"))
    return reasons


# What a refinement (ArmKind.variant_of) is, said against the option it refines: (it, when it helped, where to
# find what to serve, what is kept when it did not help).
REFINEMENTS = {
    "rag_tuned": ("Embeddings tuned on your corpus, against plain RAG",
                  "Tuning the embedding model on your corpus measurably helped over plain RAG",
                  "Serve the tuned embedding model (the run folder's embeddings/) for both indexing and questions.",
                  "the plain embedding model is kept"),
    "finetune_feedback": ("The fine-tune trained further on people's ratings, against the fine-tune alone",
                          "Training the fine-tune further on people's ratings measurably helped",
                          "Serve the fine-tune with the ratings' LoRA on top (the run folder's feedback_adapter/).",
                          "the fine-tune is kept as it was"),
}


def refinement_reasons(chosen: str, arms: dict[str, ArmEvidence], comparisons: dict, metric) -> list[Reason]:
    """For each refinement measured (RAG with tuned embeddings, the fine-tune trained on ratings): whether it beat
    what it refines, with the answers' comparison (and both retrieval hit rates where retrieval changed); when it
    did not, what is kept."""
    reasons = []
    for name, (it, helped, serve, kept) in REFINEMENTS.items():
        refined = ARM_KINDS[name].variant_of
        if name not in arms or refined not in arms:
            continue
        hits = [arms[arm].value("retrieval_hit_rate") for arm in (refined, name)]
        retrieval = (f"retrieval hit rate {hits[1]:.3f} against {hits[0]:.3f}; "
                     if ARM_KINDS[name].tuned_embeddings and None not in hits else "")
        versus = between(comparisons, name, refined)
        answers = f"{metric.label} {comparison_text(versus)}" if versus else f"no {metric.label} to compare"
        if chosen == name:
            reasons.append(Reason(f"{helped}: {retrieval}{answers}. {serve}", "comparisons"))
            continue
        better = significant(versus) if versus else False
        verdict = ("it answered measurably better, but another option was chosen" if better else
                   f"it was not measurably better, so {kept}")
        reasons.append(Reason(f"{it}: {retrieval}{answers}: {verdict}.", "comparisons"))
    return reasons


def _share(counted: dict, wins: str) -> str:
    low, high = counted["ci95"]
    return f"{counted[wins]} of {counted['n']} ({counted[wins] / counted['n']:.2f}, 95% CI {low:.2f} to {high:.2f})"


def feedback_reasons(chosen: str, arms: dict[str, ArmEvidence], comparisons: dict, metric,
                     feedback) -> tuple[list[Reason], bool]:
    """People's ratings beside the automatic scores: the chosen arm's share rated good against the others', and
    each preference between its answers and another arm's. True when people measurably preferred another arm
    (a share of good ratings or of preferences whose interval clears the chosen arm's), which the metric chose
    against: both figures are given."""
    if feedback is None or feedback.empty or chosen not in arms:
        return [], False
    reasons, disagree = [], False

    def against(other: str) -> str:
        versus = between(comparisons, chosen, other)
        return (f", while {metric.label} favours {arm_label(arms, chosen)} ({comparison_text(versus)})" if versus
                else "")

    mine = feedback.ratings.get(chosen)
    if mine:
        others = [f"{arm_label(arms, name)} {_share(rated, 'up')}" for name, rated in feedback.ratings.items()
                  if name != chosen and name in arms]
        reasons.append(Reason(f"People rated {arm_label(arms, chosen)}'s answers good {_share(mine, 'up')}"
                              + (f"; {'; '.join(others)}" if others else "") + ".", "feedback"))
        for name, rated in feedback.ratings.items():
            if name != chosen and name in arms and rated["ci95"][0] > mine["ci95"][1]:
                disagree = True
                reasons.append(Reason(f"People rated {arm_label(arms, name)}'s answers good measurably more often "
                                      f"than {arm_label(arms, chosen)}'s{against(name)}: read the answers they "
                                      "disagree on before deploying.", "feedback"))
    for name in arms:
        preferred = feedback.preference(name, chosen) if name != chosen else None
        if preferred is None:
            continue
        if preferred["ci95"][0] > 0.5:
            disagree = True
            reasons.append(Reason(f"People preferred {arm_label(arms, name)}'s answer to {arm_label(arms, chosen)}'s "
                                  f"{_share(preferred, 'a_wins')}{against(name)}: read the answers they disagree on "
                                  "before deploying.", "feedback"))
        else:
            mine_first = feedback.preference(chosen, name)
            reasons.append(Reason(f"Asked which of two answers is better, people preferred {arm_label(arms, chosen)}'s "
                                  f"to {arm_label(arms, name)}'s {_share(mine_first, 'a_wins')}.", "feedback"))
    return reasons, disagree


def short_training(arms: dict[str, ArmEvidence]) -> tuple[str, float] | None:
    """When the quick fine-tune saw too little to judge it (under one pass over its data, or its budget cut the
    data plan short): what it saw, in words, and the budget in minutes that would cover the plan at this run's
    speed; None when it ran its plan."""
    training = next((arm.training for name, arm in arms.items()
                     if name in ARM_KINDS and ARM_KINDS[name].tuned and arm.training and arm.training.steps), None)
    if not training:
        return None
    steps, wanted, passes = training.steps, training.steps_wanted or training.steps, training.passes
    short = training.cut_short
    if not short and passes >= 1:
        return None
    saw = f"it saw {seen_share(passes)} of its data once" if passes < 1 else f"it saw its data {passes:.1f} times"
    if short:
        saw += f" (the budget allowed {steps} of the {wanted} steps its data plan asked for)"
    seconds = training.seconds
    minutes = math.ceil(seconds * max(wanted, steps / passes if 0 < passes < 1 else wanted) / steps / 60) \
        if seconds and steps else 0.0
    return saw, float(minutes)


def retraining_cost(arms: dict[str, ArmEvidence], tuned_arm: str) -> str:
    """' (N s of training here, against M s to rebuild the index)', or '' when either is unknown."""
    train = arms[tuned_arm].training_seconds
    index = arms["rag"].one_off_seconds if "rag" in arms else None
    if train is None or index is None:
        return ""
    return f" ({train:.1f} s of training here, against {index:.1f} s to rebuild the index)"


def constraint_reasons(chosen: str, arms: dict[str, ArmEvidence], constraints) -> list[Reason]:
    """What the user's constraints say about the chosen arm, each citing their answer and a measurement."""
    kind = ARM_KINDS.get(chosen)
    arm, name = arms[chosen], arm_label(arms, chosen)
    reasons = []
    if constraints.data_changes != "static" and kind and kind.tuned:
        reasons.append(Reason(f"Your data changes {constraints.data_changes}: {name} must be retrained to keep up"
                              f"{retraining_cost(arms, chosen)}, and answers from between two trainings are out "
                              "of date.", "costs"))
    p95 = arm.p95_ms
    if constraints.latency_limit_ms is not None and p95 is not None:
        within = "within" if p95 <= constraints.latency_limit_ms else "above"
        reasons.append(Reason(f"{sentence_start(name)} answers in {p95:.1f} ms (p95) on this hardware, {within} "
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


def what_would_change(inputs: DecisionInputs, rec: Recommendation) -> list[str]:
    """Counter-arguments: the measured facts that, were they different, would change the answer."""
    from advisor.measure.cost import break_even_queries

    arms, chosen = inputs.arms, KIND_OF_CHOICE[rec.choice].name
    lines = []
    for other in (name for name in arms if name != chosen):
        comparison = between(inputs.comparisons, chosen, other) if chosen in arms else None
        needed = items_to_resolve(comparison) if comparison else None
        if needed and needed > inputs.n_eval:
            lines.append(f"{sentence_start(arm_label(arms, chosen))} against {arm_label(arms, other)} differ by "
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
    short = short_training(inputs.arms)
    if short and short[1]:
        augmented = any(arm.training and arm.training.augmentation for arm in inputs.arms.values())
        steps.append(f"Settle whether a longer fine-tune changes the verdict: rerun with --budget-minutes "
                     f"{short[1]:g}, which at this run's speed covers the fine-tune's whole data plan; here "
                     f"{short[0]}"
                     + (" (most of that plan is the facts restated: --no-augment trains on the documents as "
                        "written, in fewer steps, but facts seen in one form are hard to ask for)" if augmented
                        else "") + ".")
    steps.append("Rerun with the base model you would deploy (--base-model) and a fine-tune budget that lets it "
                 "see the data a few times (--budget-minutes; the report's notes say how many passes it made).")
    if rec.choice in ("rag", "rag_tuned", "both", "full_context"):
        steps.append("Before deploying retrieval, tune it on your own questions: chunk size (--chunk-size) and "
                     "passages per question (--top-k), each run set against this one with advisor compare.")
    if rec.choice in ("finetune", "both"):
        steps.append("Before deploying the fine-tune, measure what it forgets: --reference-text with general text "
                     "it should keep knowing.")
    return steps


def profile_reasons(inputs: DecisionInputs, chosen: str, fine_tune_measured: bool) -> tuple[list[Reason], bool]:
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


def published_reasons(goal: str, chosen: str, measured: bool) -> list[Reason]:
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


def arm_label(arms: dict[str, ArmEvidence], name: str) -> str:
    return (arms[name].label if name in arms else "") or label(name)
