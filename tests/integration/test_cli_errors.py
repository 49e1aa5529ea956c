"""A user's mistake is one clear line on stderr and exit code 2, never a traceback."""

import json
import subprocess
import sys

import pytest


@pytest.fixture
def run(run_cli):
    """`advisor run ARGS --quiet` in a subprocess."""
    return lambda *args: run_cli("run", *args, "--tune-embeddings", "never", "--quiet", timeout=300)


def _assert_one_line_error(result, *fragments):
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_corpus_path(tmp_path, run):
    _assert_one_line_error(run(tmp_path / "missing"), "Corpus problem", "does not exist")


def test_corpus_of_only_binary_files(tmp_path, run):
    for name in ("a.txt", "b.md", "c.html"):
        (tmp_path / name).write_bytes(bytes(range(256)) * 8)
    _assert_one_line_error(run(tmp_path), "no readable documents", "binary")


def test_malformed_qa_file(tmp_path, tiny_corpus, run):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Q?", "answer": "A"}) + "\n{oops\n", encoding="utf-8")
    _assert_one_line_error(run(tiny_corpus[0], "--qa", qa), "line 2", "not valid JSON")


def test_unavailable_base_model_without_fallback(tiny_corpus, tmp_path, run):
    result = run(tiny_corpus[0], "--out", tmp_path / "run", "--base-model", "someone/uncached-model")
    _assert_one_line_error(result, "Model not available", "someone/uncached-model", "--base-model PATH",
                           "the hub is switched off (HF_HUB_OFFLINE=1)")


def test_bad_option_value(tiny_corpus, run):
    _assert_one_line_error(run(tiny_corpus[0], "--eval-fraction", "2"), "eval_fraction")


def test_help_explains_every_option(run_cli):
    result = run_cli("run", "--help")
    assert result.returncode == 0
    for option in ("--goal", "--qa", "--out", "--base-model", "--embedding-model", "--budget-minutes",
                   "--device", "--seed", "--chroma-url", "--offline-fallback"):
        assert option in result.stdout


def test_ctrl_c_stops_the_run_at_the_next_step_and_says_how_to_resume(tiny_corpus, tiny_model_dir, tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "advisor", "run", str(tiny_corpus[0]), "--qa", str(tiny_corpus[1]), "--out", str(out),
         "--base-model", str(tiny_model_dir), "--max-train-steps", "2000", "--device", "cpu", "--max-new-tokens", "4",
         "--tune-embeddings", "never", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (out / "cache" / "arm-rag.json").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "cancelled:" in stderr and "advisor run --resume" in stderr
    assert not (out / "report.json").exists() and (out / "cache" / "arm-rag.json").exists()


def test_a_run_folder_that_cannot_be_written_is_said_before_anything_loads(tmp_path, run):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text("The ferry leaves at noon.", encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    _assert_one_line_error(run(corpus, "--out", blocker / "run"), "Bad setting", "cannot be written to", "--out")
