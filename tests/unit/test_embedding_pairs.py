"""The tuned-embeddings arm's data and verdict: training-side pairs only, and RAG with tuned embeddings recommended
only when it is measurably better than plain RAG."""

from pathlib import Path

from advisor.corpus.evalset import build_eval_set
from advisor.corpus.loading import load_corpus
from advisor.corpus.probes import CLOZE_PREFIX
from advisor.corpus.qa import load_qa, normalize_answer
from advisor.stages.embeddings import retrieval_pairs
from advisor.verdict.decide import DecisionInputs, compare_arms, decide, primary_metric
from advisor.verdict.report import ArmReport
from rag.splitting import Chunk

FERRY = Path(__file__).resolve().parents[2] / "samples" / "ferry"
TRAINED = {"trained": True, "perplexity": 20.0, "uniform_perplexity": 49152.0}


def _chunks(documents, size=60):
    """Each document cut into pieces of `size` words (the index's splitter needs an embedding tokenizer)."""
    chunks = []
    for document in documents:
        words = document.text.split()
        for start in range(0, len(words), size):
            text = " ".join(words[start:start + size + 10])
            chunks.append(Chunk(f"{document.id}-{start}", document.id, document.source, text))
    return chunks


def test_pairs_come_from_the_training_side_and_never_ask_a_held_out_question():
    documents = load_corpus(FERRY / "corpus").documents
    probes = build_eval_set(documents, None, "knowledge", eval_fraction=0.5, seed=0, max_eval=40)
    pairs = retrieval_pairs(probes, _chunks(probes.train_documents), seed=0)
    assert len(pairs) > 200
    queries = [normalize_answer(query) for query, _ in pairs]
    for probe in probes.pairs:
        blank = normalize_answer(probe.question.removeprefix(CLOZE_PREFIX))
        assert not any(blank in query for query in queries), probe.question
    # Each passage holds what its query asks for: the blanked sentence's words around the blank.
    for query, passage in pairs[:50]:
        before = normalize_answer(query.split("___")[0].split(":", 1)[-1].split("?", 1)[-1])
        assert before.split()[-3:] == [] or " ".join(before.split()[-3:]) in normalize_answer(passage), (query, passage)

    with_qa = build_eval_set(documents, load_qa(FERRY / "qa.jsonl"), "knowledge", eval_fraction=0.5, seed=0,
                             max_eval=40)
    pairs = retrieval_pairs(with_qa, _chunks(with_qa.train_documents), seed=0)
    questions = {query for query, _ in pairs}
    assert {pair.question for pair in with_qa.train_pairs} & questions  # the training side's own questions
    assert not {pair.question for pair in with_qa.pairs} & questions  # never a held-out one
    for pair in with_qa.train_pairs:
        passage = next((p for q, p in pairs if q == pair.question), None)
        assert passage is None or normalize_answer(pair.answer) in normalize_answer(passage)


def _decision(rag, tuned, base=None, hits=(0.6, 0.9)):
    base = base or [0.0] * 40
    metric = primary_metric("knowledge", True, None)
    comparisons = compare_arms({"base": base, "rag": rag, "rag_tuned": tuned, "finetune": base}, metric, seed=0)
    arms = {name: ArmReport(quality={"retrieval_hit_rate": {"value": hit, "n": 40}} if hit is not None else {},
                            latency_ms={"p50": 100.0, "p95": 150.0}, cost_usd={"one_off": 0.01, "per_1k_queries": 0.003})
            for name, hit in (("base", None), ("rag", hits[0]), ("rag_tuned", hits[1]), ("finetune", None))}
    return decide(DecisionInputs.from_measurements("knowledge", metric, comparisons, arms, TRAINED, 40))


def test_tuned_embeddings_are_recommended_only_when_measurably_better_than_plain_rag():
    better = _decision([1.0] * 15 + [0.0] * 25, [1.0] * 35 + [0.0] * 5)
    assert better.choice == "rag_tuned"
    said = " ".join(better.reason_texts)
    assert "measurably helped over plain RAG: retrieval hit rate 0.900 against 0.600" in said
    assert "embeddings/" in said

    tied = _decision([1.0] * 30 + [0.0] * 10, [1.0] * 31 + [0.0] * 9)
    assert tied.choice == "rag"  # the same answers: plain RAG, with nothing more to train and keep
    # A refinement that does no better is no rival: RAG stays measurably ahead of every other option.
    assert tied.confidence == "high" and tied.rule == (
        "The one option measurably better than every other on answer containment (RAG with tuned embeddings, the "
        "same option refined, did no better).")
    said = " ".join(tied.reason_texts)
    assert "Embeddings tuned on your corpus, against plain RAG: retrieval hit rate 0.900 against 0.600" in said
    assert "not measurably better, so the plain embedding model is kept" in said

