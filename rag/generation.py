"""Greedy generation of one answer, with its token counts and timings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rag.prefix_cache import PrefixCache, cache_keyword
from rag.prompting import encode_prompt


@dataclass(frozen=True)
class AfterPrompts:
    """What generating answers to a batch of prompts leaves behind, from which another continuation of the same
    prompts (a reference answer) is scored without computing the prompts again: the key/value cache (the prompts,
    left-padded, then the generated tokens and anything scored since), the prompts' attention mask, each prompt's
    length and the logits at its last position (what its first new token is drawn from)."""

    cache: object
    prompt_mask: object  # [rows, longest prompt]
    lengths: tuple[int, ...]
    last_logits: object  # [rows, vocabulary], float32


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    seconds: float
    first_token_seconds: float | None = None  # time to the first new token (the prompt's prefill and one step)
    # With keep=True: (what its batch left, its row), for scoring a reference answer after the same prompt; None
    # also when the model's cache cannot be scored from (see _after).
    kept: tuple[AfterPrompts, int] | None = field(default=None, compare=False, repr=False)
    # Not generated again: the arm of this name had the same model answer the same prompt earlier in the run
    # (advisor.measure.evaluate's AnswerBook); `seconds` is that answer's measured time.
    reused_from: str | None = field(default=None, compare=False)

    @property
    def reused(self) -> bool:
        return self.reused_from is not None

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def _first_token_clock(start: float, device):
    """A generate() streamer that notes when the first new token arrives (its first call is the prompt)."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    class FirstTokenClock(BaseStreamer):
        def __init__(self):
            self.calls, self.seconds = 0, None

        def put(self, value):
            self.calls += 1
            if self.calls == 2:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                self.seconds = time.perf_counter() - start

        def end(self):
            pass

    return FirstTokenClock()


def _after(output, prompt_mask, lengths) -> AfterPrompts | None:
    """AfterPrompts from a generate() output made with return_dict_in_generate and output_logits; None when its
    cache is not one that keeps every position as it grows (a static or sliding-window cache): the reference
    answer is then scored with its prompt, whole."""
    from transformers import DynamicCache

    cache = output["cache"] if "cache" in output else output.get("past_key_values")  # before transformers 5.24
    layers = getattr(cache, "layers", None) or []
    if not isinstance(cache, DynamicCache) or any(type(layer).__name__ != "DynamicLayer" for layer in layers):
        return None
    return AfterPrompts(cache, prompt_mask, tuple(lengths), output.logits[0].float())


def generate(model, tokenizer, prompt: str, max_new_tokens: int = 32, min_new_tokens: int = 0,
             prefix: PrefixCache | None = None, keep: bool = False) -> Generation:
    """Greedy; the end token is not allowed before `min_new_tokens` new tokens. With `prefix`, a prompt that
    starts with its tokens is answered from a copy of its key/value cache, and the time is that of the rest.
    With `keep`, the Generation keeps what the prompt left (its `kept`), to score a reference answer from."""
    import torch  # heavy; only generation needs it

    ids = encode_prompt(tokenizer, prompt)
    device = next(model.parameters()).device
    input_ids = torch.tensor([ids], device=device)
    cached = prefix.cache_for(ids) if prefix is not None else None
    start = time.perf_counter()
    clock = _first_token_clock(start, device)
    with torch.no_grad():
        output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                max_new_tokens=max_new_tokens, do_sample=False, streamer=clock,
                                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                return_dict_in_generate=True, output_logits=keep,
                                **({"min_new_tokens": min_new_tokens} if min_new_tokens else {}),
                                **({cache_keyword(model): cached} if cached is not None else {}))
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    new = output.sequences[0, input_ids.shape[1]:]
    after = _after(output, torch.ones_like(input_ids), [len(ids)]) if keep else None
    return Generation(tokenizer.decode(new, skip_special_tokens=True), len(ids), int(new.shape[0]), seconds,
                      clock.seconds, (after, 0) if after is not None else None)


def padding_token(tokenizer) -> int:
    """The token that pads a batch: the tokenizer's pad token, else its end token."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def left_padded(tokenizer, rows: list[list[int]], device):
    """Token rows padded on the left to the longest, so that each ends where its continuation starts: the
    (input_ids, attention_mask) tensors on `device`."""
    import torch

    pad, longest = padding_token(tokenizer), max(len(row) for row in rows)
    input_ids = torch.tensor([[pad] * (longest - len(row)) + row for row in rows], device=device)
    attention = torch.tensor([[0] * (longest - len(row)) + [1] * len(row) for row in rows], device=device)
    return input_ids, attention


def generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int = 32,
                   keep: bool = False) -> list[Generation]:
    """Greedy answers to several prompts in one generate() call (left padding, so every prompt ends where
    its answer starts): the same answers as one at a time, at a fraction of the time per answer. Each
    Generation's `seconds` is the batch's time shared equally; there is no time to first token. With `keep`,
    each keeps what its prompt left (`kept`: the batch's, shared), to score a reference answer from."""
    import torch

    if not prompts:
        return []
    encoded = [encode_prompt(tokenizer, prompt) for prompt in prompts]
    pad, device = padding_token(tokenizer), next(model.parameters()).device
    input_ids, attention = left_padded(tokenizer, encoded, device)
    longest = input_ids.shape[1]
    start = time.perf_counter()
    with torch.no_grad():
        output = model.generate(input_ids=input_ids, attention_mask=attention, max_new_tokens=max_new_tokens,
                                do_sample=False, pad_token_id=pad, eos_token_id=tokenizer.eos_token_id,
                                return_dict_in_generate=True, output_logits=keep)
    if device.type == "cuda":
        torch.cuda.synchronize()
    share = (time.perf_counter() - start) / len(prompts)
    after = _after(output, attention, [len(ids) for ids in encoded]) if keep else None
    generations = []
    for index, (ids, row) in enumerate(zip(encoded, output.sequences[:, longest:])):
        new = _until_end(row.tolist(), tokenizer.eos_token_id, pad)
        generations.append(Generation(tokenizer.decode(new, skip_special_tokens=True), len(ids), len(new), share,
                                      kept=(after, index) if after is not None else None))
    return generations


def _until_end(tokens: list[int], eos, pad) -> list[int]:
    """A generated row up to and including its end token (the padding after it is not the answer's)."""
    ends = eos if isinstance(eos, (list, tuple)) else [eos]
    for index, token in enumerate(tokens):
        if token in ends:
            return tokens[:index + 1]
    return tokens
