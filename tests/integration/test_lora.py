"""A real LoRA step on the tiny model: the adapter learns, is saved as safetensors, and loads back."""

import pytest
import torch

from advisor.models import load_generator, resolve_model
from finetune.data import IGNORE_INDEX, answer_examples, text_blocks
from finetune.train import LoraSettings, load_adapter, train_lora
from rag.prompting import build_prompt, encode_prompt

pytestmark = pytest.mark.integration


def test_train_save_and_load_adapter(tiny_model_dir, tmp_path):
    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, ["The station at Orlen Bay opened in 1894."] * 8, block_size=16)
    examples += answer_examples(tokenizer, [(build_prompt(tokenizer, "When did it open?"), "1894")], 64,
                                encode_prompt)
    qa = examples[-1]
    assert qa["labels"][0] == IGNORE_INDEX and qa["labels"][-1] == tokenizer.eos_token_id
    steps = []
    peft_model, result = train_lora(model, tokenizer, examples, LoraSettings(max_steps=4, learning_rate=1e-2),
                                    tmp_path / "adapter", device="cpu", budget_seconds=600,
                                    on_step=lambda step, planned, loss: steps.append((step, planned)))
    assert steps[-1] == (4, 4) and result.steps == 4 and not result.stopped_by_budget
    assert result.losses and result.tokens > 0 and result.trainable_parameters > 0
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    lora_b = [p for n, p in peft_model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # lora_B starts at zero: it moved

    fresh, _ = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    loaded = load_adapter(fresh, tmp_path / "adapter")
    ids = torch.tensor([encode_prompt(tokenizer, "Question: x\nAnswer:")])
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids).logits, peft_model(input_ids=ids).logits, atol=1e-5)


def test_time_budget_stops_training(tiny_model_dir, tmp_path):
    model, tokenizer = load_generator(resolve_model(str(tiny_model_dir)), "cpu")
    examples = text_blocks(tokenizer, ["Some corpus text for the budget test."] * 20, block_size=8)
    _, result = train_lora(model, tokenizer, examples, LoraSettings(max_steps=50), tmp_path / "adapter",
                           device="cpu", budget_seconds=0)
    assert result.stopped_by_budget and result.steps == 1
