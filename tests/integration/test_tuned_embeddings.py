"""RAG with embeddings tuned on the corpus: sentence-transformers' trainer on a copy, within its budget, and the
arm through the whole pipeline on the tiny model."""

import json

import pytest

import advisor


@pytest.fixture(scope="module")
def embedder():
    from advisor.config import DEFAULT_EMBEDDING_MODEL
    from advisor.models import load_embedder, resolve_embedding_model

    return load_embedder(resolve_embedding_model(DEFAULT_EMBEDDING_MODEL), "cpu")


PAIRS = [(f"Which keeper served at station {n}?", f"Station {n} was kept by keeper number {n * 7} for years.")
         for n in range(12)]


def test_tuning_trains_a_copy_saves_it_and_keeps_its_budget(embedder, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer

    from finetune.embedding_tuning import TuningUnavailable, tune_embedder

    before = [p.detach().clone() for p in embedder.parameters()]
    steps = []
    tuned, training = tune_embedder(embedder, PAIRS, tmp_path / "tuned", budget_seconds=600, epochs=2, batch_size=4,
                                    on_step=lambda step, planned, loss: steps.append((step, planned, loss)))
    assert training.steps == training.planned_steps == 6 and not training.stopped_by_budget
    assert [step for step, _, _ in steps] == [1, 2, 3, 4, 5, 6] and all(loss >= 0 for _, _, loss in steps)
    assert all(torch.equal(a, b) for a, b in zip(before, embedder.parameters()))  # the original is untouched
    # the copy trained without dropout on attention probabilities (PyTorch's fused attention), the rest kept
    dropouts = {name: module.p for name, module in tuned.named_modules() if isinstance(module, torch.nn.Dropout)}
    attention = {name for name in dropouts if name.endswith("attention.self.dropout")}
    assert len(attention) == 6 and all(dropouts[name] == 0.0 for name in attention)
    assert all(p == 0.1 for name, p in dropouts.items() if name not in attention)
    assert all(module.p == 0.1 for module in embedder.modules() if isinstance(module, torch.nn.Dropout))
    assert not all(torch.equal(a, b) for a, b in zip(before, tuned.parameters()))
    again = SentenceTransformer(str(tmp_path / "tuned"), device="cpu")
    texts = [query for query, _ in PAIRS[:3]]
    assert torch.allclose(torch.tensor(again.encode(texts)), torch.tensor(tuned.encode(texts)), atol=1e-5)

    _, cut = tune_embedder(embedder, PAIRS, tmp_path / "cut", budget_seconds=0.01, epochs=5, batch_size=4)
    assert cut.steps == 1 and cut.stopped_by_budget  # no second step starts past the budget
    with pytest.raises(TuningUnavailable, match="needs at least 8"):
        tune_embedder(embedder, PAIRS[:5], tmp_path / "few", budget_seconds=60)


def test_the_tuned_embeddings_arm_through_the_pipeline(tiny_corpus, tiny_model_dir, tmp_path, fast_options):
    corpus, qa = tiny_corpus
    events = []
    options = {**fast_options, "tune_embeddings": "always", "full_context": False}
    report = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                            on_progress=events.append, **options)
    assert list(report.arms) == ["base", "rag", "rag_tuned", "finetune"]
    tuned = report.arms["rag_tuned"]
    assert tuned.label == "RAG with tuned embeddings" and tuned.quality["retrieval_hit_rate"]["n"] == 8
    assert "retrieval_mrr" in tuned.quality and "rag_vs_rag_tuned" in report.comparisons
    trained = tuned.details["embedding_training"]
    assert trained["pairs"] >= 8 and trained["steps"] >= 1 and trained["seconds"] > trained["train_seconds"] > 0
    assert 0 <= trained["train_side_hit_rate"] <= 1 and 0 <= trained["train_side_hit_rate_after"] <= 1
    assert any(note.startswith(f"the embedding model tuned on {trained['pairs']} training-side") for note in tuned.notes)
    # Its one-off cost is its own training and index, not plain RAG's.
    seconds = tuned.cost_usd["one_off"] / report.evaluation.pricing["usd_per_hour"] * 3600
    assert seconds == pytest.approx(trained["seconds"], rel=1e-6)
    run = tmp_path / "run"
    assert (run / "embeddings" / "config.json").is_file()
    assert "| | base | rag | rag_tuned | finetune |" in (run / "report.md").read_text()
    assert list(dict.fromkeys(e.stage for e in events))[:8] == ["load", "models", "profile", "estimate", "index",
                                                                 "embeddings", "base", "rag"]
    # Again with nothing changed: the tuned model and its index are reused, not trained again.
    again = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(run), **options)
    assert again.arms["rag_tuned"].details["embedding_training"] == trained
    assert json.loads((run / "embedding_training.json").read_text())["steps"] == trained["steps"]


def test_auto_leaves_the_arm_out_when_retrieval_already_finds_the_passages(tiny_corpus, tiny_model_dir, tmp_path,
                                                                           fast_options, monkeypatch):
    import advisor.stages.embeddings as stage

    monkeypatch.setattr(stage, "ROOM_TO_IMPROVE", 0.0)  # any hit rate counts as no room
    corpus, qa = tiny_corpus
    events = []
    report = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_model_dir), out=str(tmp_path / "run"),
                            on_progress=events.append, **{**fast_options, "tune_embeddings": "auto",
                                                          "full_context": False})
    assert "rag_tuned" not in report.arms
    why = report.evaluation.not_measured["rag_tuned"]
    assert why.startswith("retrieval already finds the passage for") and "--tune-embeddings always" in why
    assert {e.stage for e in events if e.status == "skipped"} == {"embeddings", "rag_tuned"}
    assert f"- **rag_tuned**: not measured: {why}" in (tmp_path / "run" / "report.md").read_text()


def test_passages_without_gradient_train_through_the_queries_alone(embedder):
    import copy

    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from finetune.embedding_tuning import passages_without_gradient

    model = copy.deepcopy(embedder)
    model.eval()  # no dropout: the two losses see the same embeddings
    columns = [model.tokenize([q for q, _ in PAIRS[:4]]), model.tokenize([p for _, p in PAIRS[:4]])]

    def gradient(loss):
        model.zero_grad()
        value = loss(columns, None)
        value.backward()
        return value.item(), [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]

    both = gradient(MultipleNegativesRankingLoss(model))
    queries = gradient(passages_without_gradient(MultipleNegativesRankingLoss)(model))
    # What the loss takes with the passages' embeddings detached by hand: the same value and gradient.
    plain = MultipleNegativesRankingLoss(model)
    by_hand = gradient(lambda cols, labels: plain.compute_loss_from_embeddings(
        [model(cols[0])["sentence_embedding"], model(cols[1])["sentence_embedding"].detach()], labels))
    assert queries[0] == pytest.approx(both[0], abs=1e-5) == pytest.approx(by_hand[0], abs=1e-5)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(queries[1], by_hand[1]))
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(queries[1], both[1]))
