"""Style continuations: a model that would end the text at once still continues for the whole budget."""

from types import SimpleNamespace

import pytest

from advisor.corpus.loading import Document
from advisor.measure.evaluate import measure_arm
from advisor.models import load_generator, resolve_model
from rag.generation import generate

LINES = "\n".join(f"NOTICE {i} | North Loop | 2025-01-0{i} | delayed" for i in range(1, 9))


@pytest.fixture(scope="module")
def ends_at_once(tiny_model_dir):
    """The tiny model with its end token always the likeliest: greedy decoding picks it first, as a fine-tune
    did after a complete line."""
    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")

    def favour_the_end(module, inputs, logits):
        logits[..., tokenizer.eos_token_id] += 1e4
        return logits

    handle = model.lm_head.register_forward_hook(favour_the_end)
    yield model, tokenizer
    handle.remove()


def test_no_end_token_before_the_minimum(ends_at_once):
    model, tokenizer = ends_at_once
    assert generate(model, tokenizer, LINES, max_new_tokens=8).new_tokens == 1  # the end token, and nothing
    held = generate(model, tokenizer, LINES, max_new_tokens=8, min_new_tokens=5)
    assert held.new_tokens == 6 and held.text.strip()  # five tokens, then the end token


def test_every_style_continuation_is_long_enough_to_judge(ends_at_once):
    model, tokenizer = ends_at_once
    arm = SimpleNamespace(name="finetune", model=model, retriever=None, passages=None)
    evalset = SimpleNamespace(pairs=[], documents=[Document("n.txt", "n.txt", LINES)])
    run = measure_arm(arm, evalset, tokenizer, max_new_tokens=6, metrics=[], format_regex=".+")
    assert run.new_tokens == [6] and run.extra["empty_continuations"] == 0
    assert run.samples[0]["continuation"].strip() and len(run.scores["stylometric_distance"]) == 1
