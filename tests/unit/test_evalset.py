"""QA files, seeded held-out splits, and the probes made from the corpus."""

import json

import pytest

from advisor.corpus.evalset import build_eval_set, split_documents, split_pairs
from advisor.corpus.qa import QAPair, load_qa
from advisor.corpus.probes import facts_in, make_probes, usable_question
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
    probes, about = make_probes(docs, 10, seed=0)
    sentence = "The ferry Morrow Star entered service in 1962 after long trials."
    assert probes == [QAPair("Fill in the blank: The ferry Morrow Star entered service in ___ after long trials.",
                             "1962", "a.md", "eval", sentence, "cloze")]
    assert about == {"candidates": 1, "repeated_sentences": 0, "documents": 1, "probes": 1}


# A corpus with known facts: each sentence states one; some could only make a probe that gives its answer away.
KNOWN = {
    "fleet.md": "# Fleet\nThe harbour launch Petrel Quay was built at Grennock in 1988 for the trust.\n\n"
                "Skellin Star carries the mail, and the Skellin Star crew sorts it on board every night.\n"
                "| Ship | Built |\n| Ashgrove | 2001 |",
    "fares.md": "A return ticket costs 1.8 times the single fare on every route.\n"
                "The island council pays the fare of every pupil at Port Elsk Academy each term.",
    "copy.md": "A return ticket costs 1.8 times the single fare on every route.",
}


def test_probes_ask_for_a_fact_their_passage_states_and_never_give_it_away():
    docs = [Document(name, name, text) for name, text in KNOWN.items()]
    probes, about = make_probes(docs, 100, seed=0)
    assert {(p.answer, p.source) for p in probes} == {("1988", "fleet.md"), ("1.8", "fares.md"),
                                                      ("Port Elsk Academy", "fares.md")}
    assert about["repeated_sentences"] == 1  # the copied sentence makes one probe, not two
    for probe in probes:
        assert probe.answer in probe.passage and probe.answer not in probe.question  # stated, and blanked
        assert probe.passage in dict(KNOWN)[probe.source].replace("\n", " ")
        assert probe.question.replace("___", probe.answer).endswith(probe.passage)
        assert "|" not in probe.question  # a table row is no sentence
    # "Skellin Star" is said twice in its sentence: blanking one would give it away, so no probe asks for it.
    assert not any("Skellin" in p.answer for p in probes)


def test_probes_spread_over_documents_and_respect_the_maximum():
    docs = [Document(f"d{i}.md", f"d{i}.md", " ".join(f"Ferry number {i}{j} left from the pier at Port Marran{j} "
                                                      f"on day {j + 2}." for j in range(5))) for i in range(8)]
    probes, about = make_probes(docs, 8, seed=1)
    assert len(probes) == 8 and about["documents"] == 8  # one from each document before a second from any
    assert make_probes(docs, 8, seed=1)[0] == probes and make_probes(docs, 8, seed=2)[0] != probes
    assert len(make_probes(docs, 100, seed=0)[0]) == 40


def test_model_written_questions_are_checked_marked_and_timed():
    docs = [Document("a.md", "a.md", "The harbour launch Petrel Quay was built at Grennock in 1988 for the trust. "
                                     "The night ferry leaves Port Elsk at 22:05 every weekday evening.")]
    replies = {"1988": "Question: In which year was the harbour launch Petrel Quay built at Grennock?\nMore text",
               "22:05": "What is the answer to this question?"}  # asks nothing the sentence says: not kept
    probes, about = make_probes(docs, 10, seed=0, write_questions=lambda facts: [replies[f.answer] for f in facts])
    by_answer = {p.answer: p for p in probes}
    assert by_answer["1988"].question == "In which year was the harbour launch Petrel Quay built at Grennock?"
    assert by_answer["1988"].origin == "model" and by_answer["22:05"].origin == "cloze"
    assert about["model_questions_kept"] == 1 and about["model_seconds"] >= 0
    fact = next(f for f in facts_in(docs[0]) if f.answer == "1988")
    assert usable_question("When was it built, 1988?", fact) is None  # gives the answer away
    assert usable_question("Petrel Quay built", fact) is None  # not a question


def test_an_evalset_file_round_trips_as_a_qa_file_with_everything_held_out(tmp_path):
    docs = [Document(name, name, text) for name, text in KNOWN.items()]
    made = build_eval_set(docs, None, "knowledge", eval_fraction=0.5, seed=0, max_eval=100)
    assert made.kind == "probes" and made.train_pairs == [] and made.warnings  # fewer than 30: said
    path = _write(tmp_path, [json.dumps(p.to_dict()) for p in made.pairs])
    again = build_eval_set(docs, load_qa(path), "knowledge", eval_fraction=0.5, seed=0, max_eval=100)
    assert again.kind == "qa" and again.pairs == made.pairs and again.train_pairs == []
    assert again.about == {"origins": {"cloze": len(made.pairs)}}
    with pytest.raises(QAFileError, match="origin"):
        load_qa(_write(tmp_path, [json.dumps({"question": "Q?", "answer": "A", "origin": "guess"})] * 2))


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
    assert probes.kind == "probes" and probes.documents
    train = {d.source for d in probes.train_documents}
    assert {p.source for p in probes.pairs} <= train  # probes come from the training side only


def test_sentences_that_differ_only_in_their_answer_make_one_probe(tmp_path):
    """Two probes with the same question would make `advisor evalset`'s own file refused by `advisor run --qa`."""
    from advisor.corpus.qa import load_qa
    from advisor.corpus.loading import load_corpus
    from advisor.corpus.probes import make_probes

    for name, line in (("raise", 4), ("calls", 1)):
        (tmp_path / f"{name}.txt").write_text(
            f"The interpreter printed the usual traceback header for the failing call at line {line} of the script. "
            f"Nobody at Marrowmere Harbour expected the ferry timetable to change in March.\n", encoding="utf-8")
    probes, about = make_probes(load_corpus(tmp_path).documents, 10, seed=0)
    questions = [p.question for p in probes]
    assert len(questions) == len(set(questions)) and about["repeated_sentences"] >= 1
    qa = tmp_path / "probes.jsonl"
    qa.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in probes), encoding="utf-8")
    assert len(load_qa(qa)) == len(probes)
