"""Arm summaries for the report: quality with intervals, latency and cost, and forgetting."""

from __future__ import annotations

import statistics

from advisor.measure.arms import ARM_KINDS, BASELINE, label as arm_label
from advisor.measure.cost import ComputeCost
from advisor.measure.evaluate import ArmRun
from advisor.measure.evidence import ArmReport, Forgetting, ModelCheck
from advisor.measure.metrics import perplexity_summary, pooled_perplexity, summarize
from advisor.measure.timing import latency_summary

RANDOM_WEIGHTS = "random weights: quality figures are meaningless"
NOISY_SPREAD = 3.0  # p95 above this many times p50 gets a note


def summarize_arm(run: ArmRun, *, label: str, one_off_seconds: float, notes: list[str], usd_per_hour: float,
                  untrained: bool, seed: int) -> ArmReport:
    quality = {name: summarize(values, seed=seed) for name, values in run.scores.items()}
    if "nll_totals" in run.extra:
        quality["perplexity"] = perplexity_summary(run.extra["nll_totals"], seed=seed)
    if untrained:  # retrieval figures do not depend on the generator
        for name, entry in quality.items():
            if not name.startswith("retrieval_"):
                entry["warning"] = RANDOM_WEIGHTS
    latency = latency_summary(run.latencies)
    parts = {part: latency_summary(values) for part, values in run.parts.items()}
    latency["parts_p50"] = {part: summary["p50"] for part, summary in parts.items()}
    latency["parts_p95"] = {part: summary["p95"] for part, summary in parts.items()}
    notes = list(notes)
    if latency["n"] >= 5 and latency["p95"] > NOISY_SPREAD * latency["p50"]:
        notes.append(f"latency spread is wide (p95 {latency['p95'] / latency['p50']:.1f} times p50): the machine "
                     "may have been busy, or answers vary much in length; rerun for steadier figures")
    if run.prompt_tokens:
        latency["prompt_tokens_mean"] = statistics.mean(run.prompt_tokens)
        timed = run.parts.get("generate") or run.latencies  # the answers timed one at a time come first
        total_gen = sum(timed)
        latency["tokens_per_second"] = sum(run.new_tokens[:len(timed)]) / total_gen if total_gen else 0.0
    if "batched" in run.extra:
        latency["batched"] = run.extra["batched"]
    if reused := run.extra.get("reused_answers"):
        earlier = " and ".join(arm_label(name) for name in reused["from"])
        notes.append(f"{reused['reused']} of its {reused['answers']} answers had the very prompt {earlier} gave the "
                     "same model (the same passages, in the same order): each is that arm's answer, not generated "
                     "again, with its measured time")
    if run.extra.get("empty_continuations"):
        notes.append(f"{run.extra['empty_continuations']} continuation(s) of held-out documents came out empty: each "
                     "is scored as a miss (format match 0, similarity 0, the largest stylometric distance), not left out")
    prefix = run.extra.get("prefix_cache")
    if prefix:  # computed once, like an index: a one-off cost, and each answer's time is that of the rest
        one_off_seconds += prefix["prefix_seconds"]
        latency["prefix_cache"] = prefix
        notes.append(f"latency and cost assume the corpus's {prefix['prefix_tokens']:,}-token prompt prefix is "
                     f"cached, as a deployment would: computed once in {prefix['prefix_seconds']:.1f} s (counted "
                     "in the one-off cost), then each answer computes only its question and answer")
    mean_latency = statistics.mean(run.latencies) if run.latencies else 0.0
    cost = ComputeCost(one_off_seconds, mean_latency).priced(usd_per_hour)
    return ArmReport(quality=quality, latency_ms=latency, cost_usd=cost, label=label,
                     notes=notes + ([RANDOM_WEIGHTS] if untrained else []),
                     details={"samples": run.samples, "one_off_seconds": one_off_seconds,
                              "scores": run.scores,  # per item, in eval_set.json's order
                              **({"empty_continuations": run.extra["empty_continuations"]}
                                 if "empty_continuations" in run.extra else {})})


def add_forgetting(reports: dict[str, ArmReport], forgetting: Forgetting, *, tuned: set[str], seed: int,
                   reference: str = "the reference text") -> None:
    """Reference-text perplexity per arm: the base weights' for the arms that keep them (measured once),
    the fine-tuned weights' for the tuned arms; a note on the change, or on why it was not measured."""
    if not forgetting.measured:
        for name in sorted(tuned & set(reports)):
            reports[name].notes.append("forgetting not measured (--no-forgetting)")
        return
    summaries = {False: perplexity_summary([tuple(x) for x in forgetting.before], seed=seed),
                 True: perplexity_summary([tuple(x) for x in forgetting.after], seed=seed)}
    # The arms trained further on ratings: the reference text is read without the ratings' LoRA.
    under = {name for name in reports if name in ARM_KINDS and ARM_KINDS[name].from_feedback}
    for name, report in reports.items():
        shared = name != BASELINE and name not in tuned  # the base weights: measured once, on the base arm
        report.quality["reference_perplexity"] = {**summaries[name in tuned],
                                                  **({"note": "the base model's weights"} if shared else {}),
                                                  **({"note": "the fine-tune's, without the ratings' LoRA"}
                                                     if name in under else {})}
    change = summaries[True]["value"] / summaries[False]["value"] - 1
    for name in sorted(tuned & set(reports)):
        reports[name].notes.append(
            f"forgetting: perplexity on {reference} went from {summaries[False]['value']:.2f} to "
            f"{summaries[True]['value']:.2f} ({change:+.1%}) after the fine-tune"
            + (" (the fine-tune under the ratings' LoRA; the LoRA's own effect on it is not measured)"
               if name in under else ""))


def novelty(model_check: ModelCheck, reference_nll: list, reference: str) -> dict:
    """How new the corpus is to the base model: its perplexity on the corpus against on general text."""
    import math

    general = pooled_perplexity(reference_nll)
    corpus = model_check.perplexity
    return {"corpus_perplexity": corpus, "reference_perplexity": general,
            "ratio": corpus / general if general and math.isfinite(general) else float("nan"), "reference": reference}


def add_extra_prompt_tokens(reports: dict[str, ArmReport], baseline: str) -> None:
    """The prompt tokens each arm adds over the baseline's (retrieved passages, mostly)."""
    base = reports[baseline].latency_ms.get("prompt_tokens_mean") if baseline in reports else None
    if base is None:
        return
    for report in reports.values():
        if "prompt_tokens_mean" in report.latency_ms:
            report.latency_ms["extra_prompt_tokens"] = report.latency_ms["prompt_tokens_mean"] - base
