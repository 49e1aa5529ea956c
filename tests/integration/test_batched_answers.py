"""Batched answering and likelihoods: the same greedy answers and values as one at a time, and only the first
answers timed."""

import math
from types import SimpleNamespace

import pytest

from advisor.measure.evaluate import evaluate_qa_arm
from advisor.measure.metrics import AnswerContainment
from advisor.models import load_generator, resolve_model
from rag.generation import Generation, generate, generate_batch
from rag.prompting import build_prompt

QUESTIONS = ["Who was it?", "When did the station open, and who opened it on that cold morning?", "Why?",
             "Which ferry sails to the northern islands when the weather is fair?", "Where is the pier?"]


def test_batched_generation_gives_the_answers_of_one_at_a_time(tiny_model_dir):
    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    prompts = [build_prompt(tokenizer, q, ["The station opened in 1901."] * (i % 3)) for i, q in enumerate(QUESTIONS)]
    single = [generate(model, tokenizer, prompt, max_new_tokens=12) for prompt in prompts]
    batched = generate_batch(model, tokenizer, prompts, max_new_tokens=12)
    assert [g.text for g in batched] == [g.text for g in single]  # prompts of different lengths, left-padded
    assert [g.new_tokens for g in batched] == [g.new_tokens for g in single]
    assert [g.prompt_tokens for g in batched] == [g.prompt_tokens for g in single]


def test_batched_likelihoods_give_the_values_of_one_at_a_time(tiny_model_dir):
    from advisor.measure.likelihood import answer_log_likelihood, answer_log_likelihoods

    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    items = [(build_prompt(tokenizer, q, ["The station opened in 1901."] * (i % 3)), answer)
             for i, (q, answer) in enumerate(zip(QUESTIONS, ["nobody", "in 1901, by the mayor", "rain", "MV Ashgrove",
                                                             "north"]))]
    single = [answer_log_likelihood(model, tokenizer, prompt, answer) for prompt, answer in items]
    batched = answer_log_likelihoods(model, tokenizer, items)
    assert batched == pytest.approx(single, abs=1e-4)  # prompts and answers of different lengths, left-padded
    assert len(set(round(v, 4) for v in single)) == len(single)  # the values differ: each row is its own
    assert answer_log_likelihoods(model, tokenizer, []) == []


ANSWERS = ["nobody", "in 1901, by the mayor", "rain", "MV Ashgrove", "north"]


def test_likelihoods_after_the_answers_give_the_values_of_the_whole_prompt(tiny_model_dir):
    from advisor.measure.likelihood import answer_log_likelihood, answer_log_likelihoods_after

    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    prompts = [build_prompt(tokenizer, q, ["The station opened in 1901."] * (i % 3)) for i, q in enumerate(QUESTIONS)]
    whole = [answer_log_likelihood(model, tokenizer, prompt, answer) for prompt, answer in zip(prompts, ANSWERS)]
    plain = generate_batch(model, tokenizer, prompts, max_new_tokens=12)
    batched = generate_batch(model, tokenizer, prompts, max_new_tokens=12, keep=True)
    assert [g.text for g in batched] == [g.text for g in plain]  # keeping the cache changes no answer
    after = batched[0].kept[0]
    assert all(g.kept == (after, row) for row, g in enumerate(batched))
    assert max(g.new_tokens for g in batched) > 1  # generated tokens in the cache, which scoring must not see
    # Rows scored in two calls on the one cache (the second sees the first's tokens, masked out too).
    first_three = answer_log_likelihoods_after(model, tokenizer, after, ANSWERS[:3] + [None, None])
    last_two = answer_log_likelihoods_after(model, tokenizer, after, [None, None, None] + ANSWERS[3:])
    assert first_three[:3] + last_two[3:] == pytest.approx(whole, abs=1e-4)
    assert all(math.isnan(v) for v in first_three[3:] + last_two[:3])
    single = generate(model, tokenizer, prompts[1], max_new_tokens=12, keep=True)
    assert single.text == plain[1].text and single.kept[1] == 0
    assert answer_log_likelihoods_after(model, tokenizer, single.kept[0], [ANSWERS[1]]) == \
        pytest.approx([whole[1]], abs=1e-4)


def test_only_the_first_answers_are_timed_the_rest_are_batched_in_order():
    pairs = [SimpleNamespace(question=f"q{i}", answer=f"a{i}", source=None) for i in range(7)]
    batches = []

    def answer(question):
        return Generation(f"a{question[1:]}", 3, 1, 0.01, 0.005), question, {"prompt": 0.0}, None

    def answer_batch(questions):
        batches.append(len(questions))
        return [answer(question) for question in questions]

    progress = []
    run = evaluate_qa_arm("arm", pairs, answer, lambda prompt, reference: -1.0, [AnswerContainment()],
                          on_item=lambda done, total: progress.append(done), answer_batch=answer_batch, timed=3,
                          batch_size=3)
    assert len(run.latencies) == 3 and len(run.parts["generate"]) == 3
    assert batches == [3, 1] and progress == [1, 2, 3, 6, 7]
    assert run.scores["answer_containment"] == [1.0] * 7 and [s["question"] for s in run.samples] == \
        [f"q{i}" for i in range(7)]
    assert run.extra["batched"]["answers"] == 4 and run.extra["batched"]["batch_size"] == 3


def test_the_answering_benchmark_counts_the_bf16_answers_that_differ_from_fp32(tiny_model_dir, monkeypatch):
    """What a GPU run of benchmarks/answering.py reports on answering in bf16, run here on the CPU."""
    import torch

    import benchmarks.answering as answering

    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    prompts = {"closed-book": [build_prompt(tokenizer, q) for q in QUESTIONS[:4]]}
    monkeypatch.setattr(answering, "MAX_NEW_TOKENS", 6)
    rows = answering.bf16_against_fp32(tokenizer, model, prompts, "cpu", batch=2)

    def answers(generator):
        texts = prompts["closed-book"]
        return [g.text for i in range(0, len(texts), 2)
                for g in generate_batch(generator, tokenizer, texts[i:i + 2], max_new_tokens=6)]

    fp32, bf16 = answers(model), answers(model.to(torch.bfloat16))
    [row] = rows
    assert row["prompts"] == "closed-book" and row["answers"] == 4 and row["batch"] == 2
    assert row["bf16_answers_that_differ"] == sum(a != b for a, b in zip(bf16, fp32))
    assert row["bf16_answers_per_second"] > 0 and row["fp32_answers_per_second"] > 0


def test_no_cache_is_kept_to_score_from_where_the_cache_drops_or_fixes_positions():
    """A sliding-window cache forgets the prompt's start and a static one has fixed slots: the reference answer
    is then scored with its prompt whole (kept is None)."""
    import torch
    from transformers import DynamicCache, MistralConfig, StaticCache
    from transformers.generation.utils import GenerateDecoderOnlyOutput

    from rag.generation import _after

    config = MistralConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=2, sliding_window=4)
    mask, logits = torch.ones(1, 3, dtype=torch.long), (torch.zeros(1, 50),)
    for cache, kept in ((DynamicCache(config=config), False), (StaticCache(config=config, max_cache_len=8), False),
                        (DynamicCache(config=MistralConfig(**{**config.to_dict(), "sliding_window": None})), True)):
        output = GenerateDecoderOnlyOutput(sequences=torch.zeros(1, 4, dtype=torch.long), logits=logits, cache=cache)
        assert (_after(output, mask, [3]) is not None) == kept, type(cache).__name__
