"""Answers shared across arms: a prompt an earlier arm asked the same weights is answered from the run's book,
with the same answer, likelihood and scores as generating it again, and its measured time."""

from types import SimpleNamespace

import pytest

from advisor.measure.arms import ARM_KINDS, Arm
from advisor.measure.evaluate import AnswerBook, measure_arm, qa_metrics
from advisor.measure.summary import summarize_arm

PASSAGES = ["The station opened in 1901.", "The ferry sails north at dawn.", "The pier is by the lighthouse."]


class FixedRetriever:
    """Retrieves `passages_for(question)`, as Chroma's retriever returns them."""

    def __init__(self, passages_for):
        self.passages_for = passages_for

    def retrieve(self, question):
        return [SimpleNamespace(text=text, source=None) for text in self.passages_for(question)], {"retrieve": 0.001}


def _setup(tiny_model_dir, tiny_corpus):
    from advisor.corpus.evalset import build_eval_set
    from advisor.corpus.loading import load_corpus
    from advisor.corpus.qa import load_qa
    from advisor.models import ResolvedModel, load_generator

    model, tokenizer = load_generator(ResolvedModel("tiny", str(tiny_model_dir), "local folder"), "cpu")
    corpus, qa = tiny_corpus
    evalset = build_eval_set(load_corpus(corpus).documents, load_qa(qa), "knowledge", eval_fraction=0.5, seed=0,
                             max_eval=12)
    return model, tokenizer, evalset


def test_an_arm_reuses_the_answers_to_the_prompts_an_earlier_arm_asked(tiny_model_dir, tiny_corpus, monkeypatch):
    import advisor.measure.evaluate as evaluate
    import rag.generation as generation

    model, tokenizer, evalset = _setup(tiny_model_dir, tiny_corpus)
    questions = [pair.question for pair in evalset.pairs]
    monkeypatch.setattr(evaluate, "LATENCY_SAMPLE", 3)  # answers timed one at a time and batched ones both
    assert len(questions) > evaluate.LATENCY_SAMPLE + evaluate.ANSWER_BATCH // 2
    # The second retriever finds other passages for every third question, the first one's for the rest.
    other = {question for index, question in enumerate(questions) if index % 3 == 1}
    plain = Arm(ARM_KINDS["rag"], model, FixedRetriever(lambda q: PASSAGES[:2]), "plain")
    tuned = Arm(ARM_KINDS["rag_tuned"], model,
                FixedRetriever(lambda q: PASSAGES[1:] if q in other else PASSAGES[:2]), "tuned")

    generated = []  # the prompts generated, one at a time or batched
    one, batch = generation.generate, generation.generate_batch
    monkeypatch.setattr(generation, "generate", lambda m, t, prompt, *a, **k: generated.append(prompt) or
                        one(m, t, prompt, *a, **k))
    monkeypatch.setattr(generation, "generate_batch", lambda m, t, prompts, *a, **k: generated.extend(prompts) or
                        batch(m, t, prompts, *a, **k))

    scored = []  # the references whose likelihood is computed, by whichever path
    import advisor.measure.likelihood as likelihood

    single, several, after = (likelihood.answer_log_likelihood, likelihood.answer_log_likelihoods,
                              likelihood.answer_log_likelihoods_after)
    monkeypatch.setattr(likelihood, "answer_log_likelihood", lambda m, t, prompt, reference, *a:
                        scored.append(reference) or single(m, t, prompt, reference, *a))
    monkeypatch.setattr(likelihood, "answer_log_likelihoods", lambda m, t, items:
                        scored.extend(items) or several(m, t, items))
    monkeypatch.setattr(likelihood, "answer_log_likelihoods_after", lambda m, t, kept, references:
                        scored.extend(r for r in references if r is not None) or after(m, t, kept, references))

    def measured(arm, book=None, key="base"):
        generated.clear()
        scored.clear()
        return measure_arm(arm, evalset, tokenizer, max_new_tokens=8, metrics=qa_metrics(), book=book,
                           model_key=key)

    alone = measured(tuned)
    assert len(generated) == len(questions) + 1 and "reused_answers" not in alone.extra  # + the warm-up answer
    book = AnswerBook()
    first = measured(plain, book)
    assert len(generated) == len(questions) + 1 and len(book.answers) == len(questions)
    assert len(scored) == len(questions) == len(book.likelihoods)
    shared = measured(tuned, book)
    # Only the prompts the first arm never asked are generated (the warm-up question asked before is not).
    assert len(generated) == len(other) and all(PASSAGES[2] in prompt for prompt in generated)
    assert len(scored) == len(other)  # and only their references' likelihoods computed
    assert [s["answer"] for s in shared.samples] == [s["answer"] for s in alone.samples]
    assert [s.get("reused_from") for s in shared.samples] == [None if q in other else "rag" for q in questions]
    for metric, values in alone.scores.items():
        assert shared.scores[metric] == pytest.approx(values, abs=1e-4), metric
    assert shared.extra["reused_answers"] == {"reused": len(questions) - len(other), "answers": len(questions),
                                              "from": ["rag"]}
    # A reused answer's latency is the first arm's answer's time (and this arm's retrieval, a few microseconds).
    for index, question in enumerate(questions[:evaluate.LATENCY_SAMPLE]):
        if question not in other:
            assert shared.latencies[index] >= first.parts["generate"][index]
    report = summarize_arm(shared, label="RAG, tuned embeddings", one_off_seconds=0.0, notes=[], usd_per_hour=1.0,
                           untrained=False, seed=0)
    assert any(f"{len(questions) - len(other)} of its {len(questions)} answers had the very prompt RAG gave" in note
               for note in report.notes)

    # Other weights (another key) share nothing.
    assert measured(tuned, book, key="tuned").extra.get("reused_answers") is None
    assert len(generated) == len(questions) + 1
