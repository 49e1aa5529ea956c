"""Turns measured lifts, their intervals and the user's goal into a recommendation with reasons."""

from __future__ import annotations

import math
from dataclasses import dataclass

from advisor.measure.metrics import paired_difference
from advisor.verdict.report import ArmReport, Recommendation

ARM_LABELS = {"base": "the base model", "rag": "RAG", "finetune": "the LoRA fine-tune"}


def _sentence_start(label: str) -> str:
    """Upper-cases the first letter only ('the base model' -> 'The base model'; 'RAG' stays 'RAG')."""
    return label[:1].upper() + label[1:]


# What published evidence favours when the measurements cannot tell the arms apart.
GOAL_PRIOR = {
    "knowledge": ("rag", "for new facts, retrieval has consistently beaten unsupervised fine-tuning "
                         "(Ovadia et al. 2023; Soudani et al. 2024)"),
    "style": ("finetune", "style, tone and format are what fine-tuning changes best; putting examples "
                          "in the prompt rarely holds a format as reliably"),
}
SMALL_EVAL = 20  # below this many held-out items, no verdict gets more than low confidence


@dataclass(frozen=True)
class PrimaryMetric:
    name: str
    higher_is_better: bool
    label: str
    meaning: str = ""  # what "right" means under this metric, for the report


def primary_metric(goal: str, has_qa: bool, format_regex: str | None) -> PrimaryMetric:
    if has_qa and format_regex:
        return PrimaryMetric("format_match", True, "format match",
                             "the share of answers that match your --format-regex")
    if has_qa and goal == "knowledge":
        return PrimaryMetric("answer_containment", True, "answer containment",
                             "an answer counts as right when it states the reference answer, alone or in a "
                             "sentence (both normalized: case, punctuation and articles ignored)")
    if has_qa:
        return PrimaryMetric("token_f1", True, "token F1",
                             "word overlap with the reference answer, which rewards its wording and length")
    return PrimaryMetric("doc_nll_per_token", False, "held-out loss (nats per token)",
                         "how well each arm predicts held-out documents written the way you want")


# The answer's likelihood under each arm: it moves before generated answers do, so it is the
# second line of evidence when generation scores cannot tell the arms apart.
ANSWER_LIKELIHOOD = PrimaryMetric("answer_logprob", True, "answer log-probability per token",
                                  "how likely each arm finds the reference answer, token by token")


def compare_arms(per_item: dict[str, list[float]], metric: PrimaryMetric, seed: int) -> dict:
    """Paired differences, oriented so that a positive value is an improvement."""
    sign = 1.0 if metric.higher_is_better else -1.0
    out = {}
    for a, b in (("rag", "base"), ("finetune", "base"), ("rag", "finetune")):
        if a in per_item and b in per_item and len(per_item[a]) == len(per_item[b]) and per_item[a]:
            diff = paired_difference([sign * v for v in per_item[a]], [sign * v for v in per_item[b]],
                                     seed=seed)
            out[f"{a}_vs_{b}"] = {"metric": metric.name, "improvement": diff["value"],
                                  "ci95": diff["ci95"], "n": diff["n"]}
    return out


def _fmt(comparison: dict) -> str:
    low, high = comparison["ci95"]
    return f"{comparison['improvement']:+.3f} (95% CI {low:+.3f} to {high:+.3f}, n={comparison['n']})"


def _significant(comparison: dict | None) -> bool:
    return comparison is not None and comparison["ci95"][0] > 0


FORGETTING_NOTICE = 0.10  # a rise in reference-text perplexity above this share is worth a reason


def _forgetting(arms: dict[str, ArmReport]) -> list[str]:
    """A reason when the fine-tune measurably forgot the reference text (when one was given)."""
    before = arms["base"].quality.get("reference_perplexity")
    after = arms["finetune"].quality.get("reference_perplexity")
    if not before or not after or not before["value"]:
        return []
    change = after["value"] / before["value"] - 1
    if not change > FORGETTING_NOTICE:  # also when a perplexity is NaN
        return []
    return [f"The fine-tune forgets: perplexity on your reference text rose from {before['value']:.2f} to "
            f"{after['value']:.2f} ({change:+.0%}); a lower --learning-rate or --lora-rank, or general text "
            "mixed into the training data, forgets less."]


def _likelihood_evidence(likelihood: dict, arms: dict[str, ArmReport], metric: PrimaryMetric,
                         prior_choice: str) -> tuple[str, list[str]] | None:
    """When generation scores cannot separate the arms but answer likelihoods can: the arm the
    likelihood favours, and reasons that give both sets of numbers."""
    lifts = {arm: likelihood.get(f"{arm}_vs_base") for arm in ("rag", "finetune")}
    helping = [arm for arm, lift in lifts.items() if _significant(lift)]
    if not helping:
        return None
    if len(helping) == 2:
        head = likelihood.get("rag_vs_finetune")
        choice = "rag" if _significant(head) else "finetune" if head and head["ci95"][1] < 0 else prior_choice
    else:
        choice = helping[0]
    def values(name: str) -> str:
        base = arms["base"].quality.get(name, {}).get("value")
        mine = arms[choice].quality.get(name, {}).get("value")
        return f" (from {base:.2f} to {mine:.2f})" if base is not None and mine is not None else ""

    what = "the retrieved passages make" if choice == "rag" else "the fine-tune makes"
    factor = math.exp(lifts[choice]["improvement"])  # nats per token -> how many times more likely
    reasons = [
        f"{_sentence_start(ARM_LABELS[choice])} against the base model on {ANSWER_LIKELIHOOD.label}: "
        f"{_fmt(lifts[choice])}{values(ANSWER_LIKELIHOOD.name)}: {what} each token of the right answer "
        f"about {factor:.1f} times as likely, but a model of this size does not yet turn that into a right "
        f"answer ({metric.label}{values(metric.name)} cannot tell the arms apart). A larger base model "
        "would be the test.",
        "This recommendation rests on the likelihood evidence alone, so its confidence is low."]
    return choice, reasons


def decide(goal: str, metric: PrimaryMetric, comparisons: dict, arms: dict[str, ArmReport],
           model_check: dict, n_eval: int, likelihood: dict | None = None) -> Recommendation:
    """`comparisons` are on `metric`; `likelihood` (optional) the same pairs on the answer's
    log-probability, read only when `metric` cannot separate the arms."""
    prior_choice, prior_reason = GOAL_PRIOR[goal]
    reasons: list[str] = []
    if not model_check.get("trained", True):
        reasons.append(
            f"The base model has random or untrained weights (perplexity {model_check['perplexity']:.0f} "
            f"on your corpus against {model_check['uniform_perplexity']:.0f} for uniform guessing): "
            "every quality figure in this report is meaningless.")
        reasons.append(f"Your goal is {goal}: {prior_reason}. Rerun with a trained --base-model to measure it.")
        return Recommendation(prior_choice, "low", reasons)

    rag_lift, ft_lift = comparisons.get("rag_vs_base"), comparisons.get("finetune_vs_base")
    head_to_head = comparisons.get("rag_vs_finetune")
    rag_sig, ft_sig = _significant(rag_lift), _significant(ft_lift)
    if rag_lift:
        reasons.append(f"RAG against the base model on {metric.label}: {_fmt(rag_lift)}.")
    if ft_lift:
        reasons.append(f"The fine-tune against the base model on {metric.label}: {_fmt(ft_lift)}.")

    by_likelihood = None if rag_sig or ft_sig else _likelihood_evidence(likelihood or {}, arms, metric,
                                                                         prior_choice)
    if by_likelihood:
        choice, confidence = by_likelihood[0], "low"
        reasons += by_likelihood[1]
    elif not rag_sig and not ft_sig:
        choice, confidence = "neither", "low"
        reasons.append("Neither arm beat the base model by more than the noise on this evidence; "
                       "add held-out questions, a larger base model or a longer budget before spending on either.")
    elif rag_sig != ft_sig:
        choice = "rag" if rag_sig else "finetune"
        clear = head_to_head is not None and (head_to_head["ci95"][0] > 0 if rag_sig else head_to_head["ci95"][1] < 0)
        confidence = "high" if clear else "medium"
        if head_to_head:
            reasons.append(f"RAG against the fine-tune: {_fmt(head_to_head)}.")
    else:
        if head_to_head and head_to_head["ci95"][0] > 0:
            choice, confidence = "rag", "high"
        elif head_to_head and head_to_head["ci95"][1] < 0:
            choice, confidence = "finetune", "high"
        else:
            choice, confidence = prior_choice, "medium"
            reasons.append(f"Both arms help and cannot be told apart; your goal is {goal}: {prior_reason}. "
                           "Combining them may add up further (not measured in this run).")
        if head_to_head:
            reasons.append(f"RAG against the fine-tune: {_fmt(head_to_head)}.")

    if n_eval < SMALL_EVAL:
        confidence = "low"
        reasons.append(f"Only {n_eval} held-out items were scored: intervals are wide and the verdict is tentative.")
    if choice in ("finetune", "both"):
        reasons += _forgetting(arms)
    if choice in arms:
        arm = arms[choice]
        reasons.append(f"{_sentence_start(ARM_LABELS[choice])} answers in {arm.latency_ms['p50']:.0f} ms (p50) "
                       f"against {arms['base'].latency_ms['p50']:.0f} ms for the base model, and costs "
                       f"${arm.cost_usd['one_off']:.4f} once plus ${arm.cost_usd['per_1k_queries']:.4f} "
                       "per 1,000 queries on this hardware.")
    return Recommendation(choice, confidence, reasons)
