"""The recommendation rules: intervals first, the goal's prior when they cannot tell."""

import dataclasses
import math

import pytest

from advisor.config import Constraints
from advisor.verdict.decide import ANSWER_LIKELIHOOD, DecisionInputs, compare_arms, primary_metric
from advisor.verdict.decide import decide as decide_on
from advisor.verdict.report import ArmReport

def decide(goal, metric, comparisons, arms, check, n_eval, likelihood=None, constraints=None):
    """The decision on measurements given as the conductor has them."""
    return decide_on(DecisionInputs.from_measurements(goal, metric, comparisons, arms, check, n_eval, likelihood,
                                                      constraints))


TRAINED = {"trained": True, "perplexity": 20.0, "uniform_perplexity": 49152.0}


def _arms():
    arm = ArmReport(quality={}, latency_ms={"p50": 100.0, "p95": 150.0},
                    cost_usd={"one_off": 0.01, "per_1k_queries": 0.003})
    return {"base": arm, "rag": arm, "finetune": arm}


def _decide(base, rag, ft, goal="knowledge", check=TRAINED):
    metric = primary_metric(goal, True, None)
    comparisons = compare_arms({"base": base, "rag": rag, "finetune": ft}, metric, seed=0)
    return decide(goal, metric, comparisons, _arms(), check, len(base)), comparisons


def test_a_clear_rag_lift_recommends_rag_with_numbers():
    rec, comparisons = _decide([0.0] * 40, [1.0] * 30 + [0.0] * 10, [0.0] * 40)
    assert rec.choice == "rag" and rec.confidence == "high"
    assert comparisons["rag_vs_base"]["improvement"] == 0.75
    assert any("+0.750" in reason for reason in rec.reason_texts)


def test_knowledge_reads_answer_containment_first():
    metric = primary_metric("knowledge", True, None)
    assert metric.name == "answer_containment" and "sentence" in metric.meaning
    assert primary_metric("style", True, None).name == "token_f1"
    assert primary_metric("knowledge", True, "x+").name == "format_match"


def _likelihood(base, rag, ft):
    return compare_arms({"base": base, "rag": rag, "finetune": ft}, ANSWER_LIKELIHOOD, seed=0)


def test_likelihood_decides_when_generation_scores_cannot():
    metric = primary_metric("knowledge", True, None)
    flat = [0.0, 1.0] * 20
    comparisons = compare_arms({"base": flat, "rag": flat, "finetune": flat}, metric, seed=0)
    arms = _arms()
    for name, value in (("base", -7.18), ("rag", -4.48), ("finetune", -7.0)):
        arms[name] = ArmReport(quality={"answer_logprob": {"value": value, "n": 40},
                                        "answer_containment": {"value": 0.5, "n": 40}},
                               latency_ms=arms[name].latency_ms, cost_usd=arms[name].cost_usd)
    noise = [0.3, -0.3] * 20
    likelihood = _likelihood([-7.18 + x for x in noise], [-4.48 + x for x in noise], [-7.0 - x for x in noise])
    rec = decide("knowledge", metric, comparisons, arms, TRAINED, 40, likelihood)
    assert rec.choice == "rag" and rec.confidence == "low"
    said = " ".join(rec.reason_texts)
    assert "from -7.180 to -4.480" in said and "larger base model" in said
    assert "answer containment (from 0.500 to 0.500) cannot tell" in said and "about 14.9 times" in said
    # Without the likelihood evidence, or when it cannot separate them either: neither.
    assert decide("knowledge", metric, comparisons, arms, TRAINED, 40).choice == "neither"
    same = _likelihood([-7.0 + x for x in noise], [-7.0 - x for x in noise], [-7.0 + x for x in noise])
    assert decide("knowledge", metric, comparisons, arms, TRAINED, 40, same).choice == "neither"


def test_a_measured_generation_lift_outranks_the_likelihood():
    metric = primary_metric("knowledge", True, None)
    comparisons = compare_arms({"base": [0.0] * 40, "rag": [0.0] * 40, "finetune": [1.0] * 30 + [0.0] * 10},
                               metric, seed=0)
    likelihood = _likelihood([-7.0] * 40, [-3.0] * 40, [-6.5] * 40)
    assert decide("knowledge", metric, comparisons, _arms(), TRAINED, 40, likelihood).choice == "finetune"


def test_no_measurable_lift_is_neither():
    rec, _ = _decide([0.0, 1.0] * 20, [1.0, 0.0] * 20, [0.0, 1.0] * 20)
    assert rec.choice == "neither" and rec.confidence == "low"


def test_both_helping_and_indistinguishable_falls_back_to_the_goal():
    lift = [1.0] * 30 + [0.0] * 10
    assert _decide([0.0] * 40, lift, lift, goal="knowledge")[0].choice == "rag"
    assert _decide([0.0] * 40, lift, lift, goal="style")[0].choice == "finetune"


def test_small_eval_sets_get_low_confidence():
    rec, _ = _decide([0.0] * 10, [1.0] * 10, [0.0] * 10)
    assert rec.choice == "rag" and rec.confidence == "low"
    assert any("Only 10 held-out items" in reason for reason in rec.reason_texts)


def test_random_weights_say_the_figures_are_meaningless():
    check = {"trained": False, "perplexity": 480.0, "uniform_perplexity": 470.0}
    rec, _ = _decide([0.0] * 40, [0.0] * 40, [1.0] * 40, check=check)
    assert rec.choice == "rag" and rec.confidence == "low" and rec.basis == "default"
    assert "meaningless" in rec.reason_texts[0]


def test_too_few_items_give_no_interval_and_no_measured_win():
    from advisor.measure.metrics import MIN_ITEMS_FOR_INTERVAL, summarize
    from advisor.verdict.wording import quality_cell

    few = summarize([1.0, 0.0])
    assert few["n"] == 2 and all(math.isnan(v) for v in few["ci95"])
    assert quality_cell(few) == "0.500 (n=2: too few items for an interval)"
    assert not any(math.isnan(v) for v in summarize([1.0, 0.0] * MIN_ITEMS_FOR_INTERVAL)["ci95"])
    rec, _ = _decide([0.0] * 3, [1.0] * 3, [0.0] * 3)  # RAG right on all three, base on none
    assert rec.basis == "measured" and rec.confidence == "low"
    assert any("too few items for an interval" in reason for reason in rec.reason_texts)


def test_a_default_is_never_headlined_as_a_measured_verdict():
    from advisor.verdict.render import render_markdown
    from advisor.verdict.wording import headline
    from advisor.verdict.report import Recommendation, Report

    report = Report(config={"goal": "knowledge"}, corpus={}, arms={},
                    recommendation=Recommendation("rag", "low", ["random weights"], basis="default"))
    assert headline(report).startswith("No measured recommendation")
    assert "Recommendation: rag" not in render_markdown(report)


def test_lower_loss_counts_as_improvement_for_style_documents():
    metric = primary_metric("style", False, None)
    comparisons = compare_arms({"base": [3.0] * 30, "rag": [3.0] * 30, "finetune": [2.0] * 30}, metric, 0)
    assert comparisons["finetune_vs_base"]["improvement"] == 1.0


def test_a_forgetful_fine_tune_is_named_in_the_reasons():
    metric = primary_metric("style", True, None)
    comparisons = compare_arms({"base": [0.0] * 40, "rag": [0.0] * 40, "finetune": [1.0] * 40}, metric, 0)
    arms = _arms()
    for name, perplexity in (("base", 1.5), ("rag", 1.5), ("finetune", 3.0)):
        arms[name] = ArmReport(quality={"reference_perplexity": {"value": perplexity, "n": 40}},
                               latency_ms=arms[name].latency_ms, cost_usd=arms[name].cost_usd)
    rec = decide("style", metric, comparisons, arms, TRAINED, 40)
    assert rec.choice == "finetune"
    assert any("rose from 1.500 to 3.000 (+100%)" in reason for reason in rec.reason_texts)
    arms["finetune"].quality["reference_perplexity"]["value"] = 1.55  # +3%: not worth a reason
    assert not any("forgets" in reason for reason in decide("style", metric, comparisons, arms, TRAINED, 40).reason_texts)


def test_fine_tune_with_rag_ahead_of_every_arm_recommends_both():
    metric = primary_metric("knowledge", True, None)
    per_item = {"base": [0.0] * 40, "rag": [1.0] * 20 + [0.0] * 20, "finetune": [0.0] * 40,
                "finetune_rag": [1.0] * 36 + [0.0] * 4}
    arm = _arms()["base"]
    arms = {name: arm for name in per_item}
    rec = decide("knowledge", metric, compare_arms(per_item, metric, 0), arms, TRAINED, 40)
    assert rec.choice == "both" and rec.confidence == "high"
    assert any(r.startswith("The fine-tune with RAG against RAG: +0.400") for r in rec.reason_texts)


def test_arms_that_cannot_be_told_apart_fall_back_to_the_goal_among_them():
    metric = primary_metric("knowledge", True, None)
    lift = [1.0] * 30 + [0.0] * 10
    per_item = {"base": [0.0] * 40, "rag": lift, "finetune": [0.0] * 40, "finetune_rag": lift}
    arms = {name: _arms()["base"] for name in per_item}
    rec = decide("knowledge", metric, compare_arms(per_item, metric, 0), arms, TRAINED, 40)
    assert rec.choice == "rag" and rec.confidence == "medium"
    assert any("cannot be told apart" in r for r in rec.reason_texts)


def _with_costs(names):
    arms = {}
    for name in names:
        arms[name] = ArmReport(quality={}, latency_ms={"p50": 100.0, "p95": 900.0},
                               cost_usd={"one_off": 0.01, "per_1k_queries": 0.04},
                               details={"one_off_seconds": 2.0, "training": {"seconds": 175.0}})
    return arms


def test_constraints_are_weighed_and_cited():
    metric = primary_metric("knowledge", True, None)
    per_item = {"base": [0.0] * 40, "rag": [1.0] * 20 + [0.0] * 20, "finetune": [1.0] * 36 + [0.0] * 4}
    comparisons = compare_arms(per_item, metric, 0)
    arms = _with_costs(per_item)
    plain = decide("knowledge", metric, comparisons, arms, TRAINED, 40)
    assert plain.choice == "finetune" and plain.confidence == "high"

    constraints = Constraints(data_changes="weekly", latency_limit_ms=500, queries_per_month=50_000,
                              monthly_budget_usd=1.0, data_may_leave_machine=False)
    rec = decide("knowledge", metric, comparisons, arms, TRAINED, 40, constraints=constraints)
    said = " ".join(rec.reason_texts)
    assert "Your data changes weekly: the LoRA fine-tune must be retrained to keep up (175.0 s of training" in said
    assert "900.0 ms (p95) on this hardware, above your limit of 500 ms" in said
    # 0.04 USD per 1,000 questions at 50,000 a month: 2.00 USD, above a 1 USD budget.
    assert "costs about $2.00 a month on this hardware, above your monthly budget of $1.00" in said
    assert "must stay on your machine" in said

    cite = decide("knowledge", metric, comparisons, arms, TRAINED, 40, constraints=Constraints(must_cite_sources=True))
    assert cite.choice == "rag" and cite.confidence == "medium"  # the constraint chose, not the measurements
    assert any("must cite their sources" in reason for reason in cite.reason_texts)


def test_the_whole_corpus_in_the_prompt_can_be_the_answer():
    metric = primary_metric("knowledge", True, None)
    per_item = {"base": [0.0] * 40, "rag": [1.0] * 20 + [0.0] * 20, "full_context": [1.0] * 38 + [0.0] * 2,
                "finetune": [0.0] * 40}
    arms = {name: _arms()["base"] for name in per_item}
    rec = decide("knowledge", metric, compare_arms(per_item, metric, 0), arms, TRAINED, 40)
    assert rec.choice == "full_context" and rec.confidence == "high"
    assert any(r.startswith("The whole corpus in the prompt against RAG: +0.450") for r in rec.reason_texts)


def test_goal_both_combines_what_the_facts_and_the_style_need():
    from advisor.verdict.decide import combine_goals
    from advisor.verdict.report import Recommendation

    rag, tune = Recommendation("rag", "high", ["r"]), Recommendation("finetune", "medium", ["f"])
    combined = combine_goals(rag, tune)
    assert combined.choice == "both" and combined.confidence == "medium"
    assert combined.reason_texts[0].startswith("For the facts (knowledge), on its own: rag (high confidence).")
    assert "Knowledge: r" in combined.reason_texts and "Style: f" in combined.reason_texts
    assert combine_goals(rag, Recommendation("neither", "low", [])).choice == "rag"
    evidence = DecisionInputs.from_measurements("style", primary_metric("style", False, None), {},
                                                _with_costs(["base", "rag", "finetune"]), TRAINED, 2).arms
    weekly = combine_goals(rag, tune, evidence, Constraints(data_changes="weekly"))
    assert weekly.reason_texts[-1].startswith("Your data changes weekly: the fine-tune in this combination must be "
                                         "retrained to keep up with it (175.0 s of training here, against 2.0 s")
    assert combine_goals(Recommendation("neither", "low", []), Recommendation("neither", "low", [])).choice == "neither"


def test_what_would_change_the_answer_and_what_to_run_next():
    from advisor.measure.comparisons import items_to_resolve

    # RAG ahead of the fine-tune by 0.1 on 20 items: within the noise, and said with the items it would take.
    rec, comparisons = _decide([0.0] * 20, [1.0] * 8 + [0.0] * 12, [1.0] * 6 + [0.0] * 14)
    assert rec.choice == "rag"
    needed = items_to_resolve(comparisons["rag_vs_finetune"])
    assert needed > 20
    assert any(f"with about {needed} held-out items" in line for line in rec.counter_arguments)
    assert any("--base-model" in step for step in rec.next_steps)
    assert items_to_resolve(comparisons["rag_vs_base"]) is None  # already resolved
    assert items_to_resolve({"improvement": 0.1, "ci95": [-0.1, 0.3], "n": 20}) == 80  # (0.2 / 0.1)^2 x 20


def test_the_first_reasons_are_the_ones_that_carry_the_verdict():
    # The fine-tune wins; RAG, listed first among the arms, does not help: its line comes after.
    rec, _ = _decide([0.0] * 40, [0.0] * 40, [1.0] * 30 + [0.0] * 10)
    assert rec.choice == "finetune"
    assert rec.reason_texts[0].startswith("The LoRA fine-tune against the base model")
    assert rec.reason_texts[1].startswith("The LoRA fine-tune against RAG")


# The scenario table: per-item scores of base, RAG and the fine-tune (40 items unless said), the goal, and
# what else the decision knows; the choice, confidence and rule it must come to, and a reason it must give.
CLEAR = [1.0] * 30 + [0.0] * 10
NONE = [0.0] * 40
SOME = [1.0] * 20 + [0.0] * 20
SCENARIOS = {
    "a clear RAG lift": (dict(rag=CLEAR), ("rag", "high", "measurably better than every other"),
                         ("RAG against the base model", "comparisons", [])),
    "a clear fine-tune lift, for facts": (
        dict(finetune=CLEAR), ("finetune", "high", "measurably better than every other"),
        ("makes facts up", "", ["gekhman2024"])),
    "both help, no telling them apart, for facts": (
        dict(rag=SOME, finetune=SOME), ("rag", "medium", "published default for goal knowledge"),
        ("all help and cannot be told apart", "comparisons", ["ovadia2023", "soudani2024"])),
    "both help, no telling them apart, for style": (
        dict(rag=SOME, finetune=SOME, goal="style"), ("finetune", "medium", "published default for goal style"),
        ("all help and cannot be told apart", "comparisons", ["vendor_guidance"])),
    "nothing helps, within the noise": (
        dict(base=[0.0, 1.0] * 20, rag=[1.0, 0.0] * 20, finetune=[0.0, 1.0] * 20),
        ("neither", "low", "No option beat the base model"), ("No arm beat the base model", "comparisons", [])),
    "nothing can help: every option measured no better": (
        dict(), ("neither", "medium", "Every option measured no better than the base model"),
        ("No option can be meaningfully better", "comparisons", [])),
    # Seen on Python's language reference: the likelihood lifts RAG and the fine-tune alike over the base model;
    # what separates RAG from the fine-tune is answer containment, which cannot separate it from the base model.
    "the likelihood separates from the base model, containment from the fine-tune": (
        dict(base=[1.0] * 9 + [0.0] * 6 + [1.0] * 3 + [0.0] * 42, rag=[1.0] * 15 + [0.0] * 45,
             finetune=[1.0] * 6 + [0.0] * 54,
             likelihood=dict(base=[-6.9, -7.1] * 30, rag=[-5.9, -6.9] * 30, finetune=[-6.9, -5.9] * 30)),
        ("rag", "low", "separated from every other: from the base model by the answer's likelihood (answer "
                       "containment could not separate them); from the LoRA fine-tune by answer containment"),
        ("RAG against the LoRA fine-tune on answer containment: +0.150", "comparisons", [])),
    "the likelihood lifts two options alike and nothing separates them": (
        dict(base=[1.0, 0.0] * 30, rag=[0.0, 1.0] * 30, finetune=[1.0, 0.0] * 30,
             likelihood=dict(base=[-6.9, -7.1] * 30, rag=[-5.9, -6.9] * 30, finetune=[-6.9, -5.9] * 30)),
        ("rag", "low", "lifts this one and the LoRA fine-tune alike, and nothing separates them"),
        ("nor answer log-probability per token", "comparisons", [])),
    # Seen on two PDF manuals with a fine-tune of 3 steps: every answer's likelihood a thousandth of a nat higher, an
    # interval clear of zero, and no answer changed: no evidence for it.
    "a fine-tune of a few steps lifts the likelihood by a thousandth of a nat": (
        dict(base=[1.0] + [0.0] * 19, rag=[0.0] + [1.0] * 3 + [0.0] * 16, finetune=[1.0] + [0.0] * 19,
             likelihood=dict(base=[-9.0, -11.0] * 10, rag=[-7.0, -13.0] * 10, finetune=[-8.999, -10.999] * 10)),
        ("neither", "low", "No option beat the base model"), ("No arm beat the base model", "comparisons", [])),
    "the base model already knows: the likelihood changes no answer": (
        dict(base=[1.0] * 40, rag=[1.0] * 10 + [0.0] * 30, finetune=[1.0] * 40,
             likelihood=dict(base=[-0.09] * 40, rag=[-1.5] * 40, finetune=[-0.04, -0.05] * 20)),
        ("neither", "medium", "Every option measured no better than the base model"),
        ("neither retrieval nor a fine-tune is worth its cost", "comparisons", [])),
    "thin evidence: a clear lift on 10 items": (
        dict(rag=[1.0] * 8 + [0.0] * 2, base=[0.0] * 10, finetune=[0.0] * 10),
        ("rag", "low", "measurably better than every other"), ("Only 10 held-out items", "quality", [])),
    "conflict: the fine-tune measures best, but answers must cite sources": (
        dict(rag=SOME, finetune=[1.0] * 38 + [0.0] * 2, constraints=Constraints(must_cite_sources=True)),
        ("rag", "medium", "must cite their sources"), ("only retrieval points at the passage", "constraints", [])),
    "conflict: the fine-tune measures best, but the corpus holds personal data": (
        dict(finetune=CLEAR, profile={"tokens": 900_000, "personal_data": {"emails": 3, "phone_numbers": 0}}),
        ("finetune", "medium", "measurably better than every other"),
        ("holds personal data (3 e-mail addresses)", "corpus", [])),
    "conflict: the fine-tune measures best, on a small corpus": (
        dict(finetune=CLEAR, profile={"tokens": 11_000}), ("finetune", "medium", "measurably better than every other"),
        ("Your corpus is 11,000 tokens", "corpus", ["allenzhu2023"])),
    "RAG measures best on a small corpus": (
        dict(rag=CLEAR, profile={"tokens": 11_000}), ("rag", "high", "measurably better than every other"),
        ("retrieval needs no minimum", "corpus", ["allenzhu2023"])),
    "RAG measures best on a corpus with personal data": (
        dict(rag=CLEAR, profile={"personal_data": {"counts": {"ibans": 2}}}),
        ("rag", "high", "measurably better than every other"), ("a document can be deleted", "corpus", [])),
    "a style fine-tune on documents with no one style": (
        dict(goal="style", finetune=CLEAR, profile={"style": {"consistency": {"verdict": "varied", "score": 0.41}}}),
        ("finetune", "medium", "measurably better than every other"), ("do not share one style", "corpus", [])),
    "a style fine-tune on a house style": (
        dict(goal="style", finetune=CLEAR, profile={"style": {"consistency": {"verdict": "consistent", "score": 0.86}}}),
        ("finetune", "high", "measurably better than every other"), ("consistent style (consistency 0.86", "corpus", [])),
    "RAG measures best on a corpus the base model finds familiar": (
        dict(rag=CLEAR, profile={"novelty": {"ratio": 0.8}}), ("rag", "high", "measurably better than every other"),
        ("no more surprising than general text", "corpus", [])),
    "the fine-tune with RAG ahead of both": (
        dict(rag=SOME, finetune=SOME, finetune_rag=[1.0] * 39 + [0.0]),
        ("both", "high", "measurably better than every other"), ("can add up", "comparisons", ["balaguer2024"])),
    "the whole corpus in the prompt ties RAG": (
        dict(rag=SOME, full_context=[0.0, 1.0] * 10 + [1.0] * 10 + [0.0] * 10),
        ("full_context", "medium", "the whole corpus in the prompt among them, which has the least to build"),
        ("no index to build, keep fresh or search", "comparisons", [])),
    "the fine-tune with RAG measurably ahead of RAG, tied with the fine-tune": (
        dict(rag=SOME, finetune=[1.0] * 34 + [0.0] * 6, finetune_rag=[1.0] * 36 + [0.0] * 4),
        ("both", "medium", "all measurably ahead of the published default: the largest lift among them"),
        ("measurably ahead of RAG, the published default for goal knowledge", "comparisons", [])),
    "conflict: RAG measures best, but misses the latency limit the fine-tune keeps": (
        dict(rag=[1.0] * 38 + [0.0] * 2, finetune=SOME, p95_ms={"rag": 40.0, "finetune": 9.0},
             constraints=Constraints(latency_limit_ms=20)),
        ("finetune", "medium", "latency limit or monthly budget"), ("above your limit of 20 ms", "latency", [])),
    "conflict: RAG measures best, but costs more a month than the budget allows": (
        dict(rag=[1.0] * 38 + [0.0] * 2, finetune=SOME,
             constraints=Constraints(queries_per_month=100_000, monthly_budget_usd=1.0)),
        ("rag", "high", "measurably better than every other"), ("no option that beat the base model keeps", "costs",
                                                                [])),
    "an untrained base model": (
        dict(rag=CLEAR, check={"trained": False, "perplexity": 49000.0, "uniform_perplexity": 49152.0}),
        ("rag", "low", "Nothing could be measured"), ("meaningless", "models", [])),
}


def _scenario_inputs(given: dict, constraints=None) -> DecisionInputs:
    given = dict(given)
    goal, constraints = given.pop("goal", "knowledge"), given.pop("constraints", constraints)
    check, profile = given.pop("check", TRAINED), given.pop("profile", None)
    likelihood, latency = given.pop("likelihood", None), given.pop("p95_ms", {})
    per_item = {"base": given.pop("base", NONE), "rag": given.pop("rag", NONE),
                "finetune": given.pop("finetune", NONE), **given}
    metric = primary_metric(goal, True, None)
    arms = _with_costs(list(per_item))
    for name, values in per_item.items():  # the arms' mean scores, as the report has them
        arms[name].quality[metric.name] = {"value": sum(values) / len(values), "n": len(values)}
    for name, p95 in latency.items():
        arms[name] = dataclasses.replace(arms[name], latency_ms={"p50": p95 / 2, "p95": p95})
    return DecisionInputs.from_measurements(goal, metric, compare_arms(per_item, metric, 0), arms, check,
                                            len(per_item["base"]),
                                            compare_arms(likelihood, ANSWER_LIKELIHOOD, 0) if likelihood else None,
                                            constraints=constraints, profile=profile)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_decision_scenarios(name):
    given, (choice, confidence, rule), (said, figure, sources) = SCENARIOS[name]
    rec = decide_on(_scenario_inputs(given))
    assert (rec.choice, rec.confidence) == (choice, confidence)
    assert rule in rec.rule
    reason = next(r for r in rec.reasons if said in r.text)
    assert reason.figure == figure and reason.sources == sources


def test_every_reason_points_at_a_figure_or_cites_work_and_every_citation_is_known():
    from advisor.verdict.literature import SOURCES

    stated = Constraints(data_changes="weekly", queries_per_month=1000, latency_limit_ms=500)
    for given, _, _ in SCENARIOS.values():
        for reason in decide_on(_scenario_inputs(given, stated)).reasons:
            assert reason.figure or reason.sources or reason.text.startswith("This recommendation rests"), reason
            assert set(reason.sources) <= set(SOURCES)


def test_a_latency_limit_is_a_limit_the_choice_keeps():
    per_item = {"base": NONE, "rag": [1.0] * 38 + [0.0] * 2, "finetune": SOME}
    metric = primary_metric("knowledge", True, None)
    arms = _with_costs(list(per_item))
    arms["finetune"] = ArmReport(quality={}, latency_ms={"p50": 100.0, "p95": 300.0},
                                 cost_usd={"one_off": 0.5, "per_1k_queries": 0.01})
    comparisons = compare_arms(per_item, metric, 0)
    inputs = DecisionInputs.from_measurements("knowledge", metric, comparisons, arms, TRAINED,
                                              40, constraints=Constraints(latency_limit_ms=500))
    rec = decide_on(inputs)
    assert rec.choice == "finetune" and rec.confidence == "medium"  # RAG's prompts make it too slow for the limit
    assert "latency limit" in rec.rule
    assert ("RAG measured best but answers in 900.0 ms (p95), above your limit of 500 ms: the LoRA fine-tune, which "
            "also beat the base model, keeps your limits (it answers in 300.0 ms, p95)") in " ".join(rec.reason_texts)
    # A limit both miss changes nothing, and says so.
    slow = decide_on(dataclasses.replace(inputs, constraints=Constraints(latency_limit_ms=100)))
    assert slow.choice == "rag" and slow.confidence == "high"
    assert any("no option that beat the base model keeps your limits" in r for r in slow.reason_texts)


def test_a_measured_choice_is_set_against_the_published_comparisons():
    agrees = decide_on(_scenario_inputs(dict(rag=CLEAR)))
    assert any(r.text.startswith("This agrees with published comparisons for goal knowledge")
               and r.sources == ["ovadia2023", "soudani2024"] for r in agrees.reasons)
    against = decide_on(_scenario_inputs(dict(finetune=CLEAR)))
    assert any(r.text.startswith("This goes against published comparisons") and "measurement that decides" in r.text
               for r in against.reasons)
    tie = decide_on(_scenario_inputs(dict(rag=SOME, finetune=SOME)))  # the default chose: no agreement claimed
    assert not any("published comparisons" in r.text for r in tie.reasons)


def test_the_rest_of_the_quality_evidence_is_read_and_said():
    inputs = _scenario_inputs(dict(rag=CLEAR))
    arms = dict(inputs.arms)
    arms["rag"] = dataclasses.replace(arms["rag"], means={"retrieval_hit_rate": 0.9})
    likelihood = compare_arms({"base": [-7.0, -7.2] * 20, "rag": [-4.0, -4.4] * 20, "finetune": [-7.0] * 40},
                              ANSWER_LIKELIHOOD, seed=0)
    said = decide_on(dataclasses.replace(inputs, arms=arms, likelihood=likelihood)).reason_texts
    assert any(text.startswith("Further evidence: the answer's likelihood agrees (RAG against the base model on "
                               "answer log-probability per token: +2.900") for text in said)
    assert any("for 0.900 of the questions (retrieval hit rate)" in text for text in said)
    against = compare_arms({"base": [-4.0, -4.4] * 20, "rag": [-7.0, -7.2] * 20, "finetune": [-7.0] * 40},
                           ANSWER_LIKELIHOOD, seed=0)
    said = decide_on(dataclasses.replace(inputs, likelihood=against)).reason_texts
    assert any(text.startswith("Further evidence: the answer's likelihood points the other way") for text in said)
    barely = compare_arms({"base": [-7.0, -7.2] * 20, "rag": [-6.999, -7.199] * 20}, ANSWER_LIKELIHOOD, 0)
    said = decide_on(dataclasses.replace(inputs, arms=arms, likelihood=barely)).reason_texts
    assert any(text.startswith("Further evidence: the answer's likelihood moves by less than the 0.05 nats per token "
                               "that would count (RAG against the base model on answer log-probability per token: "
                               "+0.001") for text in said)


def test_a_fine_tune_cut_short_says_a_longer_one_may_change_the_verdict():
    inputs = _scenario_inputs(dict(rag=CLEAR))
    arms = dict(inputs.arms)
    short = {"steps": 40, "steps_wanted": 120, "passes": 0.6, "stopped_by_budget": True, "seconds": 175.0}
    arms["finetune"] = dataclasses.replace(arms["finetune"], training=short)
    rec = decide_on(dataclasses.replace(inputs, arms=arms))
    assert any(r.startswith("A longer fine-tune may change this: it saw 60% of its data once (the budget allowed 40 "
                            "of the 120 steps its data plan asked for)") for r in rec.reason_texts)
    # 175 s for 40 steps; the plan's 120 steps take 525 s: a 9-minute budget covers them.
    assert any("--budget-minutes 9," in step for step in rec.next_steps)
    assert not any("--no-augment" in step for step in rec.next_steps)
    arms["finetune"] = dataclasses.replace(arms["finetune"], training={**short, "augmentation": {"facts": 700}})
    said = decide_on(dataclasses.replace(inputs, arms=arms)).next_steps
    assert any("--budget-minutes 9," in step and "the facts restated: --no-augment" in step for step in said)
    arms["finetune"] = dataclasses.replace(arms["finetune"], training={**short, "steps": 120, "passes": 1.8,
                                                                       "stopped_by_budget": False})
    full = decide_on(dataclasses.replace(inputs, arms=arms))
    assert not any("longer fine-tune" in r for r in full.reason_texts)
    assert not any("Settle whether" in step for step in full.next_steps)


def test_a_one_off_budget_missed_points_at_the_costs():
    from advisor.config import Constraints
    from advisor.verdict.inputs import ArmEvidence
    from advisor.verdict.reasons import constraint_reasons

    arms = {"finetune": ArmEvidence("the LoRA fine-tune", {}, p50_ms=5.0, p95_ms=10.0, one_off_usd=2.0,
                                    per_1k_usd=0.01)}
    reasons = constraint_reasons("finetune", arms, Constraints(one_off_budget_usd=1.0))
    assert [(r.figure, "one-off budget" in r.text) for r in reasons] == [("costs", True)]


def test_confidence_is_capped_by_the_listed_caps_alone(monkeypatch):
    from advisor.verdict import decide as decide_module

    few = ([0.0] * 15, [1.0] * 15, [0.0] * 15)  # a clear lift, on fewer than 20 items
    rec, _ = _decide(*few)
    assert rec.choice == "rag" and rec.confidence == "low"
    assert [cap.most for cap in decide_module.CONFIDENCE_CAPS if cap.applies(
        {"constraint_chose": False, "n_eval": 15, "profile_against": False, "people_disagree": False})] == ["low"]
    monkeypatch.setattr(decide_module, "CONFIDENCE_CAPS", [])
    assert _decide(*few)[0].confidence == "high"  # the measurements' own confidence, uncapped


def test_a_fine_tune_trained_on_ratings_must_beat_the_fine_tune_it_refines():
    metric = primary_metric("knowledge", True, None)
    base = [0.0] * 40

    def decision(finetune, rated):
        comparisons = compare_arms({"base": base, "rag": base, "finetune": finetune, "finetune_feedback": rated},
                                   metric, seed=0)
        arms = {name: ArmReport(quality={}, latency_ms={"p50": 100.0, "p95": 150.0},
                                cost_usd={"one_off": 0.01, "per_1k_queries": 0.003})
                for name in ("base", "rag", "finetune", "finetune_feedback")}
        return decide_on(DecisionInputs.from_measurements("knowledge", metric, comparisons, arms, TRAINED, 40))

    better = decision([1.0] * 15 + [0.0] * 25, [1.0] * 35 + [0.0] * 5)
    assert better.choice == "finetune_feedback"
    assert "Training the fine-tune further on people's ratings measurably helped" in " ".join(better.reason_texts)
    tied = decision([1.0] * 30 + [0.0] * 10, [1.0] * 31 + [0.0] * 9)
    assert tied.choice == "finetune" and tied.confidence == "high"
    assert "not measurably better, so the fine-tune is kept as it was" in " ".join(tied.reason_texts)
