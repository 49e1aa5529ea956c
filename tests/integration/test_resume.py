"""An interrupted run resumes where it stopped; an unchanged rerun reuses every stage."""

import pytest

import advisor


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_then_reuses(tiny_corpus, tiny_model_dir, tmp_path):
    corpus, qa = tiny_corpus
    options = dict(goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                   max_train_steps=2, device="cpu", max_new_tokens=4, tune_embeddings="never")

    def stop_at_training(event):
        if event.stage == "train":
            raise Interrupt

    with pytest.raises(Interrupt):
        advisor.advise(corpus, on_progress=stop_at_training, **options)
    assert not (tmp_path / "run" / "report.json").exists()

    events = []
    first = advisor.advise(corpus, on_progress=events.append, **options)
    reused = {e.stage for e in events if "reused" in e.message}
    assert reused == {"base", "index", "rag", "full_context"}

    events.clear()
    second = advisor.advise(corpus, on_progress=events.append, **options)
    reused = {e.stage for e in events if "reused" in e.message}
    assert reused == {"base", "index", "rag", "full_context", "train", "finetune"}
    for arm in ("base", "rag", "full_context", "finetune"):
        assert second.arms[arm].quality == first.arms[arm].quality
        assert second.arms[arm].latency_ms == first.arms[arm].latency_ms

    events.clear()
    advisor.advise(corpus, on_progress=events.append, **{**options, "top_k": 2})
    reused = {e.stage for e in events if "reused" in e.message}
    assert reused == {"base", "index", "full_context", "train", "finetune"}  # only RAG's answers depend on top_k


def test_a_cancelled_run_stops_at_a_progress_point_and_resumes(tiny_corpus, tiny_model_dir, tmp_path):
    import threading

    from advisor.errors import RunCancelled

    corpus, qa = tiny_corpus
    options = dict(goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                   max_train_steps=3, device="cpu", max_new_tokens=4, full_context=False, tune_embeddings="never")
    stop, events = threading.Event(), []

    def watch(event):
        events.append(event)
        if event.stage == "train" and event.completed == 1:
            stop.set()  # as the TUI's cancel button or the CLI's first Ctrl-C would

    with pytest.raises(RunCancelled) as info:
        advisor.advise(corpus, on_progress=watch, cancel=stop, **options)
    assert "during lora fine-tune" in info.value.message and str(tmp_path / "run") in info.value.hint
    assert [e.completed for e in events if e.stage == "train"][-1] == 1  # stopped right after that step
    assert events[[e.stage for e in events].index("train") + 1].loss is not None  # the loss as a number
    assert not (tmp_path / "run" / "report.json").exists()
    arm_results = [e.result for e in events if e.stage == "rag" and e.result is not None]
    assert arm_results and "answer_containment" in arm_results[0]  # a finished stage carries its result

    events.clear()
    report = advisor.advise(corpus, on_progress=events.append, cancel=lambda: False, **options)
    assert {e.stage for e in events if "reused" in e.message} == {"base", "index", "rag"}
    assert report.arms["finetune"].details["training"]["steps"] == 3


def test_advisor_run_resume_continues_a_run_folder_with_its_own_settings(tiny_corpus, tiny_model_dir, tmp_path):
    import subprocess
    import sys

    corpus, qa = tiny_corpus
    out = tmp_path / "run"

    def advisor_run(*args):
        return subprocess.run([sys.executable, "-m", "advisor", "run", *args], capture_output=True, text=True,
                              timeout=600)

    class StopAtTraining(Exception):
        pass

    def stop_at_training(event):
        if event.stage == "train":
            raise StopAtTraining

    with pytest.raises(StopAtTraining):  # as a closed laptop would leave it: the fine-tune not done
        advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(out),
                       max_train_steps=2, device="cpu", max_new_tokens=4, full_context=False, top_k=2,
                       tune_embeddings="never",
                       on_progress=stop_at_training)
    resumed = advisor_run("--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "report.json").is_file() and '"top_k": 2' in (out / "config.json").read_text()
    assert "reused" in resumed.stdout + resumed.stderr

    changed = advisor_run("--resume", str(out), "--top-k", "5")
    assert changed.returncode == 2 and "--resume takes the run's own settings; also given: top_k" in changed.stderr
    missing = advisor_run("--resume", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "cannot resume" in missing.stderr and "Traceback" not in missing.stderr
    nothing = advisor_run()
    assert nothing.returncode == 2 and "a corpus folder is required" in nothing.stderr


def test_a_run_on_a_grown_corpus_updates_the_index_instead_of_building_it_again(tiny_corpus, tiny_model_dir,
                                                                               tmp_path):
    import shutil

    corpus, qa = tiny_corpus
    grown = tmp_path / "corpus"
    shutil.copytree(corpus, grown)
    options = dict(goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                   max_train_steps=1, device="cpu", max_new_tokens=4, full_context=False, forgetting=False,
                   tune_embeddings="never")
    first = advisor.advise(grown, **options)
    (grown / "new_pier.md").write_text("The new pier at Marrowmere opened in 2024 and takes two ferries at once.")
    second = advisor.advise(grown, **options)
    note = next(n for n in second.arms["rag"].notes if "index" in n)
    assert "index updated in" in note and "kept" in note and "index built in" in \
        next(n for n in first.arms["rag"].notes if "index" in n)
    assert "(1 new chunk(s), 0 removed" in note  # only the new document was embedded
    assert second.arms["rag"].cost_usd["one_off"] > 0  # a full build's cost, estimated from the update
