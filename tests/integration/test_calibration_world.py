"""The shipped calibration model through the whole advisor: RAG must read, the style LoRA must learn."""

import pytest

from advisor.calibration.calibrate import SHIPPED_MODEL, TASKS, check_verdict, run_calibration

SUITE = [task for task in TASKS if not task.slow]
SUITE_TASKS = tuple(task.name for task in SUITE)


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    if not (SHIPPED_MODEL / "model.safetensors").is_file():
        pytest.fail(f"the shipped calibration model is missing from {SHIPPED_MODEL}")
    # The calibration but its slow task (knowledge-augmented, minutes of training; `advisor calibrate` checks it):
    # eight tasks, seven runs, up to 100 held-out questions each, about 8 minutes on 2 cores.
    return run_calibration(tmp_path_factory.mktemp("calibration"), tasks=SUITE_TASKS)


def _measured(result, task, arm, metric):
    from advisor.verdict.report import Report

    report = Report.load(result.verdicts[task]["report"].replace("report.md", "report.json"))
    return report.arms[arm].quality[metric]["value"]


def test_rag_reads_answers_the_base_model_cannot_know(calibration):
    base = _measured(calibration, "knowledge", "base", "exact_match")
    rag = _measured(calibration, "knowledge", "rag", "exact_match")
    assert rag - base >= 0.30, (base, rag)
    assert calibration.verdicts["knowledge"]["choice"] == "rag"


def test_style_lora_learns_the_format(calibration):
    base = _measured(calibration, "style", "base", "format_match")
    finetune = _measured(calibration, "style", "finetune", "format_match")
    assert finetune > base, (base, finetune)
    assert calibration.verdicts["style"]["choice"] == "finetune"


def test_the_report_says_what_the_world_is(calibration):
    text = open(calibration.verdicts["knowledge"]["report"], encoding="utf-8").read()
    assert "calibration world" in text and "invented people" in text


def test_paraphrases_make_facts_extractable(calibration):
    """Allen-Zhu and Li: the same 50 sightings of each fact, paraphrased rather than repeated, let the
    fine-tune answer questions about them (same questions, steps and tokens in both runs)."""
    repeated = _measured(calibration, "knowledge-repeated", "finetune", "exact_match")
    paraphrased = _measured(calibration, "knowledge-paraphrased", "finetune", "exact_match")
    assert paraphrased - repeated >= 0.30, (repeated, paraphrased)
    finding = next(f for f in calibration.findings if f.name == "paraphrases make facts extractable")
    assert finding.ok and finding.n == 100 and finding.ci95[0] > 0


def _report(result, task):
    from advisor.verdict.report import Report

    return Report.load(result.verdicts[task]["report"].replace("report.md", "report.json"))


def test_every_verdict_is_right_measured_and_sure_enough_three_against_the_prior(calibration):
    assert len(calibration.verdicts) == len(SUITE_TASKS) >= 7
    wrong = {task: v for task, v in calibration.verdicts.items() if not v["ok"]}
    assert not wrong, wrong
    assert all(v["basis"] == "measured" for v in calibration.verdicts.values())
    overruled = [task for task, v in calibration.verdicts.items() if v["choice"] != v["prior"]]
    assert len(overruled) >= 3, overruled
    missed = [row for row in calibration.rows if not row.ok]
    assert not missed, missed


def test_the_decision_is_a_function_of_the_report(calibration):
    """Made again from report.json alone, every task's recommendation is the run's own."""
    from advisor.verdict.decide import recommend_from_report

    for task in SUITE:
        report = _report(calibration, task.name)
        again = recommend_from_report(report)
        assert (again.choice, again.confidence, again.rule) == (report.recommendation.choice,
                                                               report.recommendation.confidence,
                                                               report.recommendation.rule), task.name


def _shuffled_between_arms(scores: dict, seed: int = 0) -> dict:
    """Each item's scores dealt out again among the arms at random (the same deal for every metric the arms
    share): what the arms measured stays, which arm measured it does not."""
    import random

    out = {name: dict(arm) for name, arm in scores.items()}
    metrics = {metric for arm in scores.values() for metric in arm}
    for metric in sorted(metrics):
        names = [name for name, arm in scores.items() if arm.get(metric)]
        for length in {len(scores[name][metric]) for name in names}:
            group = [name for name in names if len(scores[name][metric]) == length]
            columns = {name: list(scores[name][metric]) for name in group}
            for item in range(length):
                dealt = [columns[name][item] for name in group]
                random.Random(f"{seed}-{item}").shuffle(dealt)
                for name, value in zip(group, dealt):
                    columns[name][item] = value
            for name in group:
                out[name][metric] = columns[name]
    return out


def test_a_decision_that_stops_measuring_fails_the_calibration(calibration):
    """Proof that the calibration tells measuring from defaulting: a decision that gives the goal's published
    prior (as sure and as 'measured' as it likes), or one made on the arms' scores dealt out among the arms at
    random, gets at least three tasks wrong."""
    from advisor.verdict.decide import recommend_from_report
    from advisor.verdict.report import Recommendation

    prior_only = [task.name for task in SUITE
                  if not check_verdict(task, Recommendation(task.prior_choice, "high", []))["ok"]]
    assert len(prior_only) >= 3, prior_only
    for seed in (0, 1):
        shuffled = [task.name for task in SUITE if not check_verdict(task, recommend_from_report(
            _report(calibration, task.name), lambda scores: _shuffled_between_arms(scores, seed)))["ok"]]
        assert len(shuffled) >= 3, (seed, shuffled)
