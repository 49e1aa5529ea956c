"""Tests of the tokenizer, the pretraining data and a smoke run of the pretraining script."""

import json
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from advisor.calibration.data import IGNORE_INDEX, MixConfig, Packer, PretrainStream
from advisor.calibration.evaluate import closed_book_items, reading_items
from advisor.calibration.pretrain import METRICS_FILE, ModelConfig, PretrainConfig, make_model, train, weighted_loss
from advisor.calibration.prompts import closed_book_prompt, context_prompt
from advisor.calibration.tokenizer import build_tokenizer
from advisor.calibration.world import build_world

TINY_MODEL = ModelConfig(layers=1, hidden=32, heads=2, intermediate=64, max_positions=256)


@pytest.fixture(scope="module")
def world():
    return build_world(0)


@pytest.fixture(scope="module")
def tokenizer(world):
    return build_tokenizer(world)


def test_prompt_contract():
    assert closed_book_prompt("Who?") == "Question: Who?\nAnswer:"
    assert context_prompt(["a.", "b.", "c."], "Who?") == "Context: a.\nb.\nc.\nQuestion: Who?\nAnswer:"


def test_tokenizer_knows_every_word_of_the_world(world, tokenizer):
    rng = random.Random(0)
    items = reading_items(world, 20, rng) + closed_book_items(world.group_b[:5], rng)
    for item in items:
        ids = tokenizer(item.prompt + " " + item.answer)["input_ids"]
        assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id not in ids
        assert tokenizer.unk_token_id not in ids
    assert tokenizer.unk_token_id in tokenizer("Quantum chromodynamics")["input_ids"]
    assert 1000 <= len(tokenizer) <= 1600


def test_reading_items_put_gold_biography_at_every_position(world):
    items = reading_items(world, 60, random.Random(1))
    positions = set()
    for item in items:
        passages = item.prompt.split("\nQuestion:")[0].removeprefix("Context: ").split("\n")
        assert len(passages) == 3
        positions.add(next(i for i, p in enumerate(passages) if item.answer in p))
    assert positions == {0, 1, 2}


def test_stream_is_deterministic_and_follows_the_mix(world, tokenizer):
    def documents(seed):
        stream = PretrainStream(world, tokenizer, MixConfig(), random.Random(seed), max_tokens=256)
        return [next(stream) for _ in range(300)], stream

    first, stream = documents(7)
    second, _ = documents(7)
    assert [d.ids for d in first] == [d.ids for d in second]
    assert all(len(d) <= 256 and d.ids[0] == tokenizer.bos_token_id for d in first)
    total = sum(stream._tokens.values())
    assert abs(stream._tokens["reading"] / total - MixConfig().reading_share) < 0.05
    # Trained answers in reading documents are followed by </s>, as the advisor's generation expects.
    reading = [d for d in first if tokenizer.decode(d.ids[1:3]) == "context :"]
    assert reading
    for document in reading:
        trained = [i for i, t in zip(document.ids, document.targets) if t]
        assert trained[-1] == tokenizer.eos_token_id


def test_packed_documents_do_not_attend_to_each_other(world, tokenizer):
    # Reading documents nearly fill a row on their own; biographies and questions pack several to a row.
    short_documents = MixConfig(reading_share=0.0, bio_share=0.5, closed_book_share=0.5)
    stream = PretrainStream(world, tokenizer, short_documents, random.Random(3), max_tokens=256)
    batch = Packer(stream, 256, tokenizer.pad_token_id).next_batch(8)
    assert batch["input_ids"].shape == (8, 256)
    assert ((batch["labels"] == IGNORE_INDEX) | (batch["labels"] == batch["input_ids"])).all()
    assert ((batch["loss_weights"] > 0) == (batch["labels"] != IGNORE_INDEX)).all()
    # A row holding at least three documents; its second one is compared with a forward pass of its own.
    row = next(r for r in range(8) if (batch["position_ids"][r] == 0).sum() >= 3)
    starts = (batch["position_ids"][row] == 0).nonzero().flatten().tolist()
    second = slice(starts[1], starts[2])
    torch.manual_seed(0)
    model = make_model(TINY_MODEL, tokenizer).eval()
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"][row:row + 1], position_ids=batch["position_ids"][row:row + 1],
                       use_cache=False).logits[0, second]
        alone = model(input_ids=batch["input_ids"][row, second][None]).logits[0]
    torch.testing.assert_close(packed, alone, atol=1e-4, rtol=1e-4)


def test_pretraining_smoke_run_saves_a_loadable_model(tmp_path, world):
    logs = []
    config = PretrainConfig(out=str(tmp_path / "model"), steps=5, rows_per_step=2, row_length=256,
                            log_every=2, eval_reading_people=5, model=TINY_MODEL)
    metrics = train(config, on_log=logs.append)
    assert [log["step"] for log in logs] == [2, 4, 5]
    assert all(log["loss"] > 0 and log["tokens_per_s"] > 0 for log in logs)
    saved = json.loads((tmp_path / "model" / METRICS_FILE).read_text())
    for key in ("reading_accuracy", "closed_book_a_trained", "closed_book_a_heldout", "closed_book_b"):
        assert 0.0 <= saved[key] <= 1.0 and saved[key] == metrics[key]
    assert (tmp_path / "model" / "model.safetensors").is_file()

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.eos_token_id == tokenizer.eos_token_id
    prompt = closed_book_prompt(f"Who employs {world.group_b[0].name}?")
    assert tokenizer(prompt)["input_ids"][0] == tokenizer.bos_token_id
    # The saved weights are the trained ones: five steps already predict unseen pretraining text better than
    # the same model untrained (about 6.98 against 7.18 nats per token).
    stream = PretrainStream(world, tokenizer, MixConfig(), random.Random(100), max_tokens=256)
    batch = Packer(stream, 256, tokenizer.pad_token_id).next_batch(4)
    torch.manual_seed(config.seed)
    untrained = make_model(TINY_MODEL, tokenizer).eval()
    with torch.no_grad():
        saved_loss, untrained_loss = (weighted_loss(m, batch).item() for m in (model, untrained))
    assert saved_loss < untrained_loss - 0.05, (saved_loss, untrained_loss)
