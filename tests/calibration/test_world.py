"""Tests of the calibration world generator: facts, groups, wording, determinism and task files."""

import json
import random
import re

import pytest

from advisor.calibration.world import (
    ATTRIBUTES, BIO_TEMPLATES, COPIES, QUESTION_TEMPLATES, STYLE_FORMAT_REGEX, biography, biography_sentences,
    build_world, copy_question, paraphrases, questions, style_answer, write_both_task, write_fits_task,
    write_knowledge_task, write_known_task, write_style_task)
from advisor.corpus.loading import load_corpus


@pytest.fixture(scope="module")
def world():
    return build_world(0)


def _words(template: str) -> str:
    """Template text without placeholders or punctuation, for comparing wordings."""
    return " ".join(re.sub(r"[^\w\s]", " ", template.replace("{name}", " ").replace("{value}", " ").lower()).split())


def test_sizes_match_the_brief(world):
    assert len(world.group_a) == 100 and len(world.group_b) == 60
    for attribute in ATTRIBUTES:
        assert 20 <= len(world.values[attribute]) <= 40
        assert len(set(world.values[attribute])) == len(world.values[attribute])
        assert len(BIO_TEMPLATES[attribute]) >= 5 and 3 <= len(QUESTION_TEMPLATES[attribute]) <= 5


def test_biographies_and_questions_agree_with_the_facts(world):
    rng = random.Random(1)
    for person in world.group_a + world.group_b:
        sentences = biography_sentences(person, rng)
        assert sorted(s.attribute for s in sentences) == sorted(ATTRIBUTES)
        for sentence in sentences:
            assert person.name in sentence.text
            assert re.search(rf"\b{re.escape(person.facts[sentence.attribute])}\b", sentence.text)
        for qa in questions(person, rng):
            assert person.name in qa.question
            assert qa.answer == person.facts[qa.attribute]
            assert " " not in qa.answer  # single-word answers


def test_biography_has_one_sentence_per_attribute(world):
    person = world.group_a[0]
    text = biography(person, random.Random(2))
    assert text.count(person.name) == len(ATTRIBUTES)
    assert all(person.facts[a] in text for a in ATTRIBUTES)


def test_names_are_unique_and_groups_disjoint(world):
    names_a = [p.name for p in world.group_a]
    names_b = [p.name for p in world.group_b]
    assert len(set(names_a)) == len(names_a) and len(set(names_b)) == len(names_b)
    assert not set(names_a) & set(names_b)
    rng = random.Random(3)
    fresh = [world.fresh_person(rng, made_up_values=i % 2 == 0) for i in range(300)]
    assert not {p.name for p in fresh} & set(names_a + names_b)
    assert all(p.facts[a] in world.filler_words for p in fresh[::2] for a in ATTRIBUTES)


def test_question_wording_differs_from_biography_sentences():
    bio_wordings = [_words(t) for templates in BIO_TEMPLATES.values() for t in templates]
    for templates in QUESTION_TEMPLATES.values():
        for template in templates:
            wording = _words(template)
            assert all(wording not in bio and bio not in wording for bio in bio_wordings), template


def test_copy_question_is_the_sentence_with_a_blank(world):
    person = world.group_a[0]
    sentence = biography_sentences(person, random.Random(4))[0]
    qa = copy_question(sentence, person)
    assert qa.question == sentence.text.replace(person.facts[sentence.attribute], "what").rstrip(".") + "?"
    assert qa.answer == person.facts[sentence.attribute]


def test_world_is_deterministic_from_the_seed():
    assert build_world(5) == build_world(5)
    assert build_world(5).group_a != build_world(6).group_a
    person = build_world(5).group_a[0]
    assert biography(person, random.Random(9)) == biography(person, random.Random(9))


def test_paraphrases_use_different_templates(world):
    person = world.group_b[0]
    renderings = paraphrases(person, 5, random.Random(0))
    assert len(renderings) == 5
    sentence_sets = [set(text.split(". ")) for text in renderings]
    for first, second in zip(sentence_sets, sentence_sets[1:]):
        assert not first & second  # every attribute changed template
    assert all(person.facts[a] in text for text in renderings for a in ATTRIBUTES)


def test_knowledge_task_files(world, tmp_path):
    write_knowledge_task(world, tmp_path)
    files = sorted((tmp_path / "corpus").glob("*.txt"))
    assert len(files) == len(world.group_b)
    records = [json.loads(line) for line in (tmp_path / "qa.jsonl").read_text().splitlines()]
    assert len(records) == len(ATTRIBUTES) * len(world.group_b)
    for record in records:
        assert set(record) == {"question", "answer", "source"}
        text = (tmp_path / "corpus" / record["source"]).read_text()
        assert re.search(rf"\b{re.escape(record['answer'])}\b", text)
        assert record["question"] not in text
    # Every file is about exactly one group-B person.
    for file, person in zip(sorted(files), sorted(world.group_b, key=lambda p: p.slug)):
        assert file.name == f"{person.slug}.txt"
        assert file.read_text().count(person.name) == len(ATTRIBUTES)


@pytest.mark.parametrize("kind", ["repeated", "paraphrased"])
def test_knowledge_corpora_with_copies(world, tmp_path, kind):
    """Five documents per person (identical or all worded differently), the same facts, and the very
    same questions as the one-biography corpus, so runs on the kinds can be compared item by item."""
    write_knowledge_task(world, tmp_path / "one")
    write_knowledge_task(world, tmp_path / kind, kind)
    corpus = load_corpus(tmp_path / kind / "corpus")
    assert not corpus.skipped and len(corpus.documents) == COPIES * len(world.group_b)
    by_source = {}
    for doc in corpus.documents:
        by_source.setdefault(doc.source, []).append(doc.text)
    for person in world.group_b:
        texts = by_source[f"{person.slug}.jsonl"]
        assert len(texts) == COPIES
        assert all(person.facts[a] in text and text.count(person.name) == len(ATTRIBUTES)
                   for text in texts for a in ATTRIBUTES)
        assert len(set(texts)) == (1 if kind == "repeated" else COPIES)
    one = [json.loads(line) for line in (tmp_path / "one" / "qa.jsonl").read_text().splitlines()]
    copies = [json.loads(line) for line in (tmp_path / kind / "qa.jsonl").read_text().splitlines()]
    assert [(r["question"], r["answer"]) for r in one] == [(r["question"], r["answer"]) for r in copies]
    assert all(r["source"].endswith(".jsonl") for r in copies)


def test_unknown_knowledge_corpus_is_refused(world, tmp_path):
    with pytest.raises(ValueError, match="corpus_kind"):
        write_knowledge_task(world, tmp_path, "shuffled")


def test_style_task_files(world, tmp_path):
    write_style_task(world, tmp_path, n_train=300, n_eval=60)
    exchange_pattern = re.compile(r"Question: (?P<q>[^\n]+)\nAnswer: (?P<a>[^\n]+)")
    train_questions, train_answers = [], []
    for file in (tmp_path / "corpus").glob("*.txt"):
        for block in file.read_text().strip().split("\n\n"):
            match = exchange_pattern.fullmatch(block)
            assert match, block
            assert re.fullmatch(STYLE_FORMAT_REGEX, match["a"])
            train_questions.append(match["q"])
            train_answers.append(match["a"])
    assert len(train_questions) == 300
    all_records = [json.loads(line) for line in (tmp_path / "qa.jsonl").read_text().splitlines()]
    train_records = [r for r in all_records if r["split"] == "train"]
    records = [r for r in all_records if r["split"] == "eval"]
    assert len(records) == 60 and len(train_records) == 300 == len(all_records) - 60
    assert sorted(r["question"] for r in train_records) == sorted(train_questions)
    names_a = [p.name for p in world.group_a]
    for record in records:
        assert re.fullmatch(STYLE_FORMAT_REGEX, record["answer"])
        assert any(name in record["question"] for name in names_a)

    def pair(question_text, answer):
        """(person, attribute) of an exchange: its name plus the template's attribute."""
        name = next(n for n in names_a if n in question_text)
        template = question_text.replace(name, "{name}")
        attribute = next(a for a in ATTRIBUTES if template in QUESTION_TEMPLATES[a])
        person = next(p for p in world.group_a if p.name == name)
        assert answer == style_answer(person.facts[attribute])
        return name, attribute

    trained = {pair(q, a) for q, a in zip(train_questions, train_answers)}
    held_out = {pair(r["question"], r["answer"]) for r in records}
    assert not trained & held_out


def test_style_regex_accepts_decoded_outputs_only():
    for text in ("the answer is Quorveth .", "The answer is quorveth.", "the answer is 1967 ."):
        match = re.fullmatch(STYLE_FORMAT_REGEX, text)
        assert match and match["value"].lower() in {"quorveth", "1967"}
    for text in ("Quorveth", "answer is Quorveth .", "the answer is .", "the answer is Quorveth"):
        assert not re.fullmatch(STYLE_FORMAT_REGEX, text)


def _qa(folder):
    return [json.loads(line) for line in (folder / "qa.jsonl").read_text().splitlines()]


def test_the_known_task_asks_about_people_the_model_learned_from_biographies_alone(world, tmp_path):
    write_known_task(world, tmp_path)
    names = {p.name for p in world.group_a_qa_heldout}
    assert not names & {p.name for p in world.group_a_qa_trained}  # never asked about in pretraining
    documents = load_corpus(tmp_path / "corpus").documents
    assert len(documents) == len(names) and all(any(n in d.text for n in names) for d in documents)
    facts = {(p.name, p.facts[a]) for p in world.group_a_qa_heldout for a in ATTRIBUTES}
    records = _qa(tmp_path)
    assert len(records) == 5 * len(names)
    assert all(any(name in r["question"] and value == r["answer"] for name, value in facts) for r in records)


def test_the_fits_task_corpus_is_no_larger_than_what_rag_retrieves(world, tmp_path):
    from advisor.config import AdvisorConfig

    write_fits_task(world, tmp_path)
    documents = load_corpus(tmp_path / "corpus").documents
    assert len(documents) <= AdvisorConfig.default("top_k")
    records = _qa(tmp_path)
    assert all(r["split"] == "eval" for r in records)  # nothing but the corpus is trained on
    assert len(records) == len(documents) * sum(len(QUESTION_TEMPLATES[a]) for a in ATTRIBUTES)
    assert len({r["question"] for r in records}) == len(records)


def test_the_both_task_asks_for_new_facts_in_the_new_format(world, tmp_path):
    write_both_task(world, tmp_path)
    records = _qa(tmp_path)
    assert all(re.match(STYLE_FORMAT_REGEX, r["answer"]) for r in records)
    held = [r for r in records if r["split"] == "eval"]
    unseen = {p.slug for p in world.group_b}
    assert held and all(r["source"].removesuffix(".txt") in unseen for r in held)
    trained = [r for r in records if r["split"] == "train"]  # worked exchanges, trained with their passage
    assert len(trained) == 200 and all(r["answer"].split()[3] in r["passage"] for r in trained)
    assert not any(p.name in r["question"] + r["passage"] for r in trained for p in world.group_b)
    exchanges = [d for d in load_corpus(tmp_path / "corpus").documents if d.source.startswith("style_")]
    cited = {r["source"] for r in held}
    assert exchanges and not cited & {d.source for d in exchanges}  # the style half can hold them out
    for document in exchanges:  # worked exchanges: a biography, a question about it, an answer in the format
        context, rest = document.text.split("\nQuestion: ")
        assert context.startswith("Context: ") and "\n" not in context
        assert re.match(STYLE_FORMAT_REGEX, rest.split("\nAnswer: ")[1].strip())
        assert not any(p.name in document.text for p in world.group_b)  # no held-out fact in the style documents
