"""The shipped calibration model through the whole advisor: RAG must read, the style LoRA must learn."""

import pytest

from advisor.calibration.calibrate import SHIPPED_MODEL, run_calibration

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    if not (SHIPPED_MODEL / "model.safetensors").is_file():
        pytest.fail(f"the shipped calibration model is missing from {SHIPPED_MODEL}")
    # The full calibration (four tasks, 100 held-out questions each) takes about two minutes on 2 cores.
    return run_calibration(tmp_path_factory.mktemp("calibration"))


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
