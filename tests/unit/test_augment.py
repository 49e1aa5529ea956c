"""Augmented knowledge fine-tuning data: each training fact in several forms, never a held-out item."""

from pathlib import Path

from advisor.corpus.augment import CLOZE_TEMPLATES, augment, reordered
from advisor.corpus.evalset import build_eval_set
from advisor.corpus.loading import Document, load_corpus
from advisor.corpus.probes import CLOZE_PREFIX
from advisor.corpus.qa import QAPair, normalize_answer

FERRY = Path(__file__).resolve().parents[2] / "samples" / "ferry"


def test_no_held_out_probe_is_trained_on_word_for_word_or_as_the_same_cloze():
    """The probes are made from the very sentences the fine-tune trains on: the forms that ask for a probe's fact
    are left out, while the sentence itself stays in the training text."""
    documents = load_corpus(FERRY / "corpus").documents
    evalset = build_eval_set(documents, None, "knowledge", eval_fraction=0.5, seed=0, max_eval=40)
    augmented = augment(evalset.train_documents, evalset.pairs, seed=0)
    prompts = [normalize_answer(pair.prompt) for pair in augmented.pairs]
    assert len(evalset.pairs) == 40 and augmented.held_out == 40 and augmented.facts > 300
    for probe in evalset.pairs:
        blank = normalize_answer(probe.question.removeprefix(CLOZE_PREFIX))
        assert not any(blank in prompt for prompt in prompts), probe.question
        assert not any(normalize_answer(probe.question) == prompt for prompt in prompts)
        asked = [pair for pair in augmented.pairs if pair.sentence == probe.passage]
        assert all(normalize_answer(pair.answer) != normalize_answer(probe.answer) for pair in asked
                   if pair.form == "cloze")


def test_each_fact_is_restated_in_other_words_than_the_probes_and_documents_are_reordered():
    text = ("The harbour launch Petrel was built at Grennock in 1988 for the trust. "
            "Captain Ilse Marran took her on her first crossing to Port Elsk. Fares were raised in 1994.")
    document = Document("a.md", "a.md", text)
    augmented = augment([document], [], seed=0)
    cloze = [pair for pair in augmented.pairs if pair.form == "cloze"]
    assert {(pair.answer, pair.sentence.split()[0]) for pair in cloze} >= {("1988", "The"), ("Grennock", "The"),
                                                                        ("Port Elsk", "Captain"), ("1994", "Fares")}
    assert all(not pair.prompt.startswith(CLOZE_PREFIX) and "___" in pair.prompt for pair in cloze)
    assert {next(t for t in CLOZE_TEMPLATES if pair.prompt.startswith(t.split("{")[0])) for pair in cloze} \
        == set(CLOZE_TEMPLATES)  # in turn
    continued = next(pair for pair in augmented.pairs if pair.form == "continuation" and pair.answer.startswith("1988"))
    assert continued.prompt.endswith("was built at Grennock in") and continued.answer == "1988 for the trust."
    assert augmented.about()["forms"]["reordered document"] == 2 and augmented.facts == len(cloze)
    for shuffled in augmented.texts:
        assert shuffled != text and sorted(shuffled.split(". ")) != [] and set(shuffled.split()) == set(text.split())
    assert reordered(Document("b.md", "b.md", "One sentence only, about the ferry to Port Elsk."), None) == []


def test_a_users_held_out_question_is_never_a_training_prompt():
    document = Document("a.md", "a.md", "The harbour launch Petrel was built at Grennock in 1988 for the trust.")
    question = "Complete the sentence: The harbour launch Petrel was built at Grennock in ___ for the trust."
    augmented = augment([document], [QAPair(question, "1988")], seed=0)
    assert question not in [pair.prompt for pair in augmented.pairs]
    assert any(pair.answer.startswith("1988") for pair in augmented.pairs)  # its fact, in another form


def test_held_out_questions_set_aside_from_measuring_stay_out_of_the_training_data():
    """A run that measures fewer held-out questions (--max-minutes, or ratings of some trained on) restates the same
    facts as one that measures all: the questions set aside are still held out."""
    from advisor.config import AdvisorConfig
    from advisor.stages.train import augmented_data

    evalset = build_eval_set(load_corpus(FERRY / "corpus").documents, None, "knowledge", eval_fraction=0.5, seed=0,
                             max_eval=40)
    config = AdvisorConfig(corpus="c")
    whole = augmented_data(config, evalset)
    assert whole.about()["held_out_facts_left_out"] > 0
    fewer = evalset.without_questions({pair.question for pair in evalset.pairs[:20]})
    assert len(fewer.pairs) == len(evalset.pairs) - 20 and len(fewer.held_out_pairs) == len(evalset.pairs)
    assert fewer.fingerprint() != evalset.fingerprint()  # what is measured changed...
    again = augmented_data(config, fewer.measuring(fewer.pairs[:5]))
    assert [(p.prompt, p.answer) for p in again.pairs] == [(p.prompt, p.answer) for p in whole.pairs]  # ...not what trains
    assert again.texts == whole.texts
