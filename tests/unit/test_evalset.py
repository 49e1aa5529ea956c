"""QA files, seeded held-out splits, and cloze probes."""

import json

import pytest

from advisor.corpus.evalset import QAPair, load_qa, make_cloze_probes, split_documents, split_pairs
from advisor.corpus.loading import Document
from advisor.errors import QAFileError


def _write(tmp_path, lines):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_qa_reads_pairs_and_optional_source(tmp_path):
    path = _write(tmp_path, [json.dumps({"question": "Q1?", "answer": "A1", "source": "a.md"}), "",
                             json.dumps({"question": "Q2?", "answer": 1902})])
    assert load_qa(path) == [QAPair("Q1?", "A1", "a.md"), QAPair("Q2?", "1902", None)]


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 2: not valid JSON"),
    ('["a list"]', "line 2: expected a JSON object"),
    ('{"question": "Q?"}', "line 2: missing or empty \"answer\""),
    ('{"answer": "A"}', "line 2: missing or empty \"question\""),
])
def test_malformed_qa_names_the_line(tmp_path, line, message):
    path = _write(tmp_path, [json.dumps({"question": "Q?", "answer": "A"}), line])
    with pytest.raises(QAFileError, match=message):
        load_qa(path)


def test_missing_qa_file(tmp_path):
    with pytest.raises(QAFileError, match="does not exist"):
        load_qa(tmp_path / "none.jsonl")


def test_split_is_seeded_disjoint_and_complete():
    pairs = [QAPair(f"Q{i}?", f"A{i}") for i in range(20)]
    train, held = split_pairs(pairs, 0.25, seed=3, max_eval=100)
    assert len(held) == 5 and len(train) == 15
    assert not set(train) & set(held) and set(train) | set(held) == set(pairs)
    assert split_pairs(pairs, 0.25, seed=3, max_eval=100) == (train, held)
    assert split_pairs(pairs, 0.25, seed=4, max_eval=100)[1] != held
    assert len(split_pairs(pairs, 0.5, seed=0, max_eval=3)[1]) == 3


def test_a_split_given_in_the_file_is_kept(tmp_path):
    lines = [json.dumps({"question": f"Q{i}?", "answer": "A", "split": "eval" if i < 2 else "train"})
             for i in range(5)]
    train, held = split_pairs(load_qa(_write(tmp_path, lines)), 0.5, seed=0, max_eval=100)
    assert [p.question for p in held] == ["Q0?", "Q1?"] and len(train) == 3
    with pytest.raises(QAFileError, match="split"):
        load_qa(_write(tmp_path, [json.dumps({"question": "Q?", "answer": "A", "split": "test"})] * 2))


def test_split_documents_holds_out_at_most_a_fifth():
    docs = [Document(f"d{i}", f"d{i}", f"text {i}") for i in range(10)]
    train, held = split_documents(docs, 0.5, seed=0, max_eval=100)
    assert len(held) == 2 and len(train) == 8 and not {d.id for d in train} & {d.id for d in held}


def test_cloze_probes_blank_a_fact_from_the_document():
    docs = [Document("a", "a.md", "The ferry Morrow Star entered service in 1962 after long trials. short.")]
    probes = make_cloze_probes(docs, 10, seed=0)
    assert probes == [QAPair("Fill in the blank: The ferry Morrow Star entered service in ___ after long trials.",
                             "1962", "a.md")]


def _documents(n):
    return [Document(f"d{i}.md", f"d{i}.md", f"The ferry number {i} left from Berth {i} at dawn. "
                                             f"Captain Arlo Venn{i} sailed it for {i + 3} years.") for i in range(n)]


def test_goal_both_holds_out_style_documents_that_no_held_out_question_needs():
    from advisor.corpus.evalset import build_eval_set

    docs = _documents(20)
    pairs = [QAPair(f"Where did ferry {i} leave from?", f"Berth {i}", f"d{i}.md") for i in range(10)]
    both = build_eval_set(docs, pairs, "both", eval_fraction=0.5, seed=0, max_eval=100)
    knowledge = build_eval_set(docs, pairs, "knowledge", eval_fraction=0.5, seed=0, max_eval=100)
    assert both.pairs == knowledge.pairs and both.kind == "qa" and both.documents
    held = {d.source for d in both.documents}
    assert not held & {p.source for p in both.pairs}  # every held-out question's document is trained on
    assert not held & {d.source for d in both.train_documents} and both.n == len(both.pairs)
    assert both.warnings == []

    probes = build_eval_set(docs, None, "both", eval_fraction=0.5, seed=0, max_eval=100)
    assert probes.kind == "cloze" and probes.documents
    train = {d.source for d in probes.train_documents}
    assert {p.source for p in probes.pairs} <= train  # probes come from the training side only
