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


def test_a_models_paraphrase_is_kept_only_when_it_restates_the_fact():
    from advisor.corpus.probes import Fact, usable_paraphrase

    sentence = "The harbour launch Petrel was built at Grennock in 1988 for the trust."
    fact = Fact(sentence, "1988", sentence.index("1988"), "a.md")
    assert usable_paraphrase("Paraphrase: In 1988 the trust had the launch Petrel built at Grennock.\nMore.",
                             fact) == "In 1988 the trust had the launch Petrel built at Grennock."
    for reply in ("The trust had the launch Petrel built at Grennock.",  # the answer is gone
                  sentence, f'I rewrote it: "{sentence}"',  # the sentence again, alone or quoted
                  "It happened in 1988 somewhere else entirely.",  # about other things
                  "1988.", ""):  # too short, nothing
        assert usable_paraphrase(reply, fact) is None, reply


def test_paraphrases_are_asked_within_their_budget_and_none_after_a_bad_first_batch():
    from advisor.corpus.augment import PARAPHRASE_BATCH, training_facts, written_paraphrases

    documents = load_corpus(FERRY / "corpus").documents
    facts, _ = training_facts(documents, [])
    asked = []

    def faithful(batch):  # the sentence with a word put in beside its answer: a usable paraphrase of nearly each
        asked.extend(batch)
        return [f.sentence[:f.start] + "indeed " + f.sentence[f.start:] if f.start else
                f.sentence[:len(f.answer)] + " indeed" + f.sentence[len(f.answer):] for f in batch]

    written = written_paraphrases(facts, faithful, budget_seconds=600, seed=0)
    assert written["asked"] == len({f.sentence for f in facts}) == len(asked) and not written["stopped"]
    assert len(written["kept"]) > 0.8 * written["asked"]
    again = written_paraphrases(facts, faithful, budget_seconds=600, seed=0)
    assert again["kept"] == written["kept"]  # the same facts in the same order: a resumed run trains on the same
    useless = written_paraphrases(facts, lambda batch: ["I cannot help with that."] * len(batch), 600, seed=0)
    assert useless["asked"] == PARAPHRASE_BATCH and useless["kept"] == {} and "not usable" in useless["stopped"]
    none = written_paraphrases(facts, faithful, budget_seconds=0, seed=0)
    assert none["asked"] == 0 and "budget" in none["stopped"]


def test_model_paraphrases_train_as_texts_but_never_a_held_out_facts():
    from advisor.corpus.augment import training_facts

    documents = load_corpus(FERRY / "corpus").documents
    evalset = build_eval_set(documents, None, "knowledge", eval_fraction=0.5, seed=0, max_eval=40)
    held = {probe.passage for probe in evalset.pairs}
    every, _ = training_facts(evalset.train_documents, [])
    written = {"kept": {fact.sentence: "Said again: " + fact.sentence for fact in every}, "asked": len(every),
               "seconds": 1.0, "stopped": ""}
    augmented = augment(evalset.train_documents, evalset.pairs, seed=0, paraphrases=written)
    plain = augment(evalset.train_documents, evalset.pairs, seed=0)
    added = augmented.texts[len(plain.texts):]
    assert augmented.texts[:len(plain.texts)] == plain.texts and augmented.pairs == plain.pairs
    assert added and all(text.startswith("Said again: ") for text in added)
    assert not {text.removeprefix("Said again: ") for text in added} & held  # no held-out probe's sentence
    assert augmented.about()["forms"]["model paraphrase"] == len(added)
    assert augmented.about()["paraphrases"] == {"asked": len(every), "seconds": 1.0, "stopped": ""}
