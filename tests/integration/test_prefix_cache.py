"""The whole-corpus arm's cached prefix: the same answers and likelihoods as computing every prompt whole."""

import math

import pytest

from advisor.measure.arms import ARM_KINDS, Arm
from advisor.measure.evaluate import measure_arm, qa_metrics
from rag.prefix_cache import shared_token_prefix

CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<s>assistant:{% endif %}")


def test_the_shared_prefix_stops_one_token_short_and_leaves_every_prompt_its_own_tokens():
    assert shared_token_prefix([[1, 2, 3, 4, 9], [1, 2, 3, 4, 8, 7]]) == [1, 2, 3]
    assert shared_token_prefix([[1, 2, 3], [1, 2, 3]]) == [1, 2]  # identical: one token each is left
    assert shared_token_prefix([[5, 1], [6, 1]]) == []
    assert shared_token_prefix([]) == []


def _loaded(tiny_model_dir, chat: bool):
    from advisor.models import ResolvedModel, load_generator

    model, tokenizer = load_generator(ResolvedModel("tiny", str(tiny_model_dir), "local folder"), "cpu")
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    return model, tokenizer


def _evalset(tiny_corpus):
    from advisor.corpus.evalset import build_eval_set
    from advisor.corpus.qa import load_qa
    from advisor.corpus.loading import load_corpus

    corpus, qa = tiny_corpus
    return build_eval_set(load_corpus(corpus).documents, load_qa(qa), "knowledge", eval_fraction=0.5, seed=0,
                          max_eval=12)


@pytest.mark.parametrize("chat", [False, True], ids=["plain prompt", "chat template"])
def test_answers_and_likelihoods_from_the_cached_prefix_equal_the_whole_prompts(tiny_model_dir, tiny_corpus,
                                                                               monkeypatch, chat):
    import advisor.measure.evaluate as evaluate

    model, tokenizer = _loaded(tiny_model_dir, chat)
    evalset = _evalset(tiny_corpus)
    passages = [d.text for d in evalset.train_documents]
    arm = Arm(ARM_KINDS["full_context"], model, None, "key", passages=passages)

    def run():
        return measure_arm(arm, evalset, tokenizer, max_new_tokens=8, metrics=qa_metrics())

    cached = run()
    monkeypatch.setattr(evaluate, "whole_corpus_prefix", lambda *args: None)  # every prompt computed whole
    whole = run()
    figures = cached.extra["prefix_cache"]
    # Every answer (the warm-up's too) came from the cache, none computed whole; each score from its answer's.
    assert figures["from_cache"] == evalset.n + 1 and figures["computed_whole"] == 0, figures
    assert figures["prefix_seconds"] > 0
    assert figures["prefix_tokens"] > 0.9 * max(cached.prompt_tokens[0] - 40, 1)
    assert "prefix_cache" not in whole.extra
    assert [s["answer"] for s in cached.samples] == [s["answer"] for s in whole.samples]
    assert cached.new_tokens == whole.new_tokens
    for a, b in zip(cached.scores["answer_logprob"], whole.scores["answer_logprob"]):
        assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-4), (a, b)

