"""An interrupted run resumes where it stopped; an unchanged rerun reuses every stage."""

import pytest

import advisor

pytestmark = pytest.mark.integration


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_then_reuses(tiny_corpus, tiny_model_dir, tmp_path):
    corpus, qa = tiny_corpus
    options = dict(goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                   max_train_steps=2, device="cpu", max_new_tokens=4)

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
