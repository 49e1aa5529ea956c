"""The bundled ferry sample behind `make demo`: it loads, and every answer stands in its source document."""

from pathlib import Path

from advisor.corpus.qa import load_qa
from advisor.corpus.loading import load_corpus
from advisor.measure.metrics import normalize_answer

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "ferry"


def test_sample_corpus_loads_and_skips_only_its_bad_files():
    corpus = load_corpus(SAMPLE / "corpus")
    assert len(corpus.documents) >= 30
    assert corpus.skipped and all(skipped.path.startswith("_bad/") for skipped in corpus.skipped)
    # The non-UTF-8 letter in _bad/ is decoded, not skipped.
    assert any(doc.source.startswith("_bad/") and doc.encoding != "utf-8" for doc in corpus.documents)


def test_every_sample_answer_stands_in_its_source():
    texts: dict[str, str] = {}
    for doc in load_corpus(SAMPLE / "corpus").documents:
        texts[doc.source] = texts.get(doc.source, "") + "\n" + doc.text
    pairs = load_qa(SAMPLE / "qa.jsonl")
    assert len(pairs) == 60
    for pair in pairs:
        assert pair.source in texts, pair
        assert normalize_answer(pair.answer) in normalize_answer(texts[pair.source]), pair


def test_without_a_qa_file_the_sample_makes_at_least_thirty_probes_over_most_documents():
    from advisor.corpus.evalset import build_eval_set

    documents = load_corpus(SAMPLE / "corpus").documents
    made = build_eval_set(documents, None, "knowledge", eval_fraction=0.5, seed=0, max_eval=100)
    assert len(made.pairs) >= 30 and made.warnings == []
    assert made.about["documents"] >= 0.8 * len({d.source for d in documents})
    assert len({p.question for p in made.pairs}) == len(made.pairs)  # no probe twice
