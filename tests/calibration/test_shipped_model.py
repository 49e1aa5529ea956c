"""Tests of the calibration model shipped in advisor/calibration/model: it loads and has learned the world."""

import json
import random
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import advisor.calibration
from advisor.calibration.evaluate import accuracy, generate_answers, reading_items
from advisor.calibration.pretrain import METRICS_FILE
from advisor.calibration.prompts import context_prompt
from advisor.calibration.world import biography, build_world
from advisor.measure.likelihood import perplexity

MODEL_DIR = Path(advisor.calibration.__file__).parent / "model"
SHIPPED_FILES = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                 "tokenizer_config.json", METRICS_FILE}


@pytest.fixture(scope="module")
def metrics():
    return json.loads((MODEL_DIR / METRICS_FILE).read_text())


@pytest.fixture(scope="module")
def world(metrics):
    return build_world(metrics["world_seed"])


@pytest.fixture(scope="module")
def model_and_tokenizer():
    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR).eval()
    return model, AutoTokenizer.from_pretrained(MODEL_DIR)


def test_model_folder_holds_only_the_shipped_files():
    names = {path.name for path in MODEL_DIR.iterdir()}
    assert SHIPPED_FILES <= names <= SHIPPED_FILES | {"special_tokens_map.json"}
    assert (MODEL_DIR / "model.safetensors").stat().st_size < 8_000_000


def test_model_loads_with_the_auto_classes(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    assert model.config.model_type == "llama"
    assert model.config.vocab_size == len(tokenizer)
    assert 0.8e6 < sum(p.numel() for p in model.parameters()) < 1.2e6
    assert tokenizer.chat_template is None
    assert tokenizer("Question:")["input_ids"][0] == tokenizer.bos_token_id


def test_reads_answers_from_gold_context(model_and_tokenizer, world):
    model, tokenizer = model_and_tokenizer
    # A seed of its own: these people appear neither in pretraining nor in its evaluation. 200 people,
    # not 40: at the model's ~0.37, 40 draws vary by +-0.08, too much for a 0.3 threshold.
    items = reading_items(world, 200, random.Random("shipped-model-test"))
    guessing = sum(1 / len(values) for values in world.values.values()) / len(world.values)
    assert accuracy(model, tokenizer, items) >= max(0.3, 5 * guessing)


def test_reads_a_single_biography_reliably(model_and_tokenizer, world):
    model, tokenizer = model_and_tokenizer
    items = reading_items(world, 40, random.Random("shipped-model-test-k1"), k=1)
    assert accuracy(model, tokenizer, items) >= 0.8


def test_batched_answers_match_one_prompt_at_a_time(model_and_tokenizer, world):
    model, tokenizer = model_and_tokenizer
    rng = random.Random(5)
    people = [world.fresh_person(rng) for _ in range(6)]
    prompts = [context_prompt([biography(p, rng)], f"Who employs {p.name}?") for p in people]
    batched = generate_answers(model, tokenizer, prompts)
    single = []
    for prompt in prompts:  # exactly what the advisor does
        inputs = tokenizer(prompt, return_tensors="pt")
        output = model.generate(**inputs, max_new_tokens=16, do_sample=False)
        single.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    assert batched == single


def test_has_learned_group_a_biographies(model_and_tokenizer, world):
    model, tokenizer = model_and_tokenizer
    rng = random.Random(6)
    known = perplexity(model, tokenizer, [biography(p, rng) for p in world.group_a[:8]])
    unseen = perplexity(model, tokenizer, [biography(p, rng) for p in world.group_b[:8]])
    assert known < 5 < len(tokenizer) / 100
    assert known < unseen  # the facts themselves were learned, not only the templates


def test_pretraining_rebuilds_the_shipped_tokenizer(world, model_and_tokenizer):
    from advisor.calibration.tokenizer import build_tokenizer

    _, shipped = model_and_tokenizer
    assert build_tokenizer(world).get_vocab() == shipped.get_vocab()
