"""A real run killed with SIGKILL (during indexing, during training) and resumed gives the report of a run
that was never interrupted, timings aside."""

import json
import signal
import subprocess
import sys

import pytest

import advisor

# Runs the advisor in a child process that kills itself, as the kernel would, at the given progress point.
KILLER = """
import json, os, signal, sys
import advisor
corpus, qa, options, stage, at = json.loads(sys.argv[1])
def kill(event):
    if event.stage == stage and event.completed >= at:
        os.kill(os.getpid(), signal.SIGKILL)
advisor.advise(corpus, qa=qa, on_progress=kill, **options)
"""


def _killed_at(corpus, qa, options, stage, at):
    result = subprocess.run([sys.executable, "-c", KILLER, json.dumps([str(corpus), str(qa), options, stage, at])],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr


VERDICT = ("choice", "rule", "basis", "confidence")


def _figures(report):
    """What a report says, timings and costs aside."""
    return {"verdict": {key: getattr(report.recommendation, key) for key in VERDICT},
            "quality": {arm: {metric: q.get("value") for metric, q in a.quality.items()}
                        for arm, a in report.arms.items()},
            "items": report.evaluation.items_fingerprint}


@pytest.mark.parametrize("stage, at", [("index", 1), ("train", 3)])
def test_a_killed_run_resumes_to_the_report_of_an_uninterrupted_one(tiny_corpus, tiny_model_dir, tmp_path, stage, at, run_cli):
    corpus, qa = tiny_corpus
    options = dict(goal="knowledge", base_model=str(tiny_model_dir), max_train_steps=6, checkpoint_every=2, checkpoint_minutes=0,
                   device="cpu", max_new_tokens=4, full_context=False, seed=0, tune_embeddings="never")
    whole = advisor.advise(corpus, qa=qa, out=str(tmp_path / "whole"), **options)
    # Random weights: the uninterrupted run's verdict is the published default for the goal, said as such.
    assert _figures(whole)["verdict"] == {
        "choice": "rag", "basis": "default", "confidence": "low",
        "rule": "Nothing could be measured (the base model is untrained): the published default for goal knowledge."}

    run_dir = tmp_path / "killed"
    _killed_at(corpus, qa, {**options, "out": str(run_dir)}, stage, at)
    assert not (run_dir / "report.json").exists()
    if stage == "train":
        assert (run_dir / "checkpoints").is_dir()  # the checkpoint of step 2 was written before the kill
    resumed = run_cli("run", "--resume", run_dir, "--quiet", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads((run_dir / "report.json").read_text())
    training = data["arms"]["finetune"]["details"]["training"]
    if stage == "train":
        assert training["resumed_from_step"] == 2 and "resumed from the checkpoint of step 2" in \
            " ".join(data["arms"]["finetune"]["notes"])
        assert not (run_dir / "checkpoints").exists()  # done with: the adapter is saved
    expected = _figures(whole)
    assert {key: data["recommendation"][key] for key in VERDICT} == expected["verdict"]
    assert [reason["text"] for reason in data["recommendation"]["reasons"]] == whole.recommendation.reason_texts
    assert data["evaluation"]["items_fingerprint"] == expected["items"]
    for arm, metrics in expected["quality"].items():
        for metric, value in metrics.items():
            got = data["arms"][arm]["quality"][metric]["value"]
            assert got == pytest.approx(value, abs=1e-3), (arm, metric)
    whole_losses = [entry["loss"] for entry in whole.arms["finetune"].details["training"]["losses"]]
    assert [entry["loss"] for entry in training["losses"]] == pytest.approx(whole_losses, abs=1e-3)
