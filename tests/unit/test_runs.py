"""Past runs as the history screen lists them, and the stages a run will show."""

import json

from advisor.api import planned_stages
from advisor.config import AdvisorConfig
from advisor.runs import list_runs, read_run


def test_finished_and_unfinished_runs_are_listed_newest_first(tmp_path):
    (tmp_path / "notarun").mkdir()
    assert read_run(tmp_path / "notarun") is None
    unfinished = tmp_path / "r1"
    unfinished.mkdir()
    (unfinished / "config.json").write_text(json.dumps({"corpus": "docs", "goal": "style"}))
    finished = tmp_path / "calibration" / "facts"  # calibration writes one level down
    finished.mkdir(parents=True)
    (finished / "config.json").write_text(json.dumps({"corpus": "world", "goal": "knowledge"}))
    (finished / "report.json").write_text(json.dumps({"created": "2000-01-01T00:00:00+00:00",
                                                      "recommendation": {"choice": "rag", "confidence": "high"}}))
    runs = list_runs(tmp_path)
    assert [(r.corpus, r.finished, r.verdict) for r in runs] == [
        ("docs", False, "not finished: resumable"), ("world", True, "rag (high)")]
    assert list_runs(tmp_path / "missing") == []


def test_planned_stages_follow_the_run_order():
    config = AdvisorConfig(corpus="docs")
    assert planned_stages(config) == ["load", "models", "profile", "estimate", "index", "embeddings", "base", "rag",
                                      "rag_tuned", "full_context", "train", "finetune", "report"]
    plain = AdvisorConfig(corpus="docs", tune_embeddings="never")
    assert "embeddings" not in planned_stages(plain) and "rag_tuned" not in planned_stages(plain)
    both = AdvisorConfig(corpus="docs", goal="both", full_context=False)
    assert planned_stages(both)[-3:] == ["finetune", "finetune_rag", "report"]
    assert "full_context" not in planned_stages(both)
    rated = AdvisorConfig(corpus="docs", goal="both", feedback_ratings="rated.jsonl")
    # Training on ratings puts layers into the fine-tune's weights: after every other tuned arm has answered.
    assert planned_stages(rated)[-5:] == ["finetune", "finetune_rag", "feedback", "finetune_feedback", "report"]
