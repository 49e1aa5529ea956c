"""Greedy generation of one answer, with its token counts and timings."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rag.prefix_cache import PrefixCache, cache_keyword
from rag.prompting import encode_prompt


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    seconds: float
    first_token_seconds: float | None = None  # time to the first new token (the prompt's prefill and one step)

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


def generate(model, tokenizer, prompt: str, max_new_tokens: int = 32, min_new_tokens: int = 0,
             prefix: PrefixCache | None = None) -> Generation:
    """Greedy; the end token is not allowed before `min_new_tokens` new tokens. With `prefix`, a prompt that
    starts with its tokens is answered from a copy of its key/value cache, and the time is that of the rest."""
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
                                **({"min_new_tokens": min_new_tokens} if min_new_tokens else {}),
                                **({cache_keyword(model): cached} if cached is not None else {}))
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    new = output[0, input_ids.shape[1]:]
    return Generation(tokenizer.decode(new, skip_special_tokens=True), len(ids), int(new.shape[0]), seconds,
                      clock.seconds)


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


def generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int = 32) -> list[Generation]:
    """Greedy answers to several prompts in one generate() call (left padding, so every prompt ends where
    its answer starts): the same answers as one at a time, at a fraction of the time per answer. Each
    Generation's `seconds` is the batch's time shared equally; there is no time to first token."""
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
                                do_sample=False, pad_token_id=pad, eos_token_id=tokenizer.eos_token_id)
    if device.type == "cuda":
        torch.cuda.synchronize()
    share = (time.perf_counter() - start) / len(prompts)
    generations = []
    for ids, row in zip(encoded, output[:, longest:]):
        new = _until_end(row.tolist(), tokenizer.eos_token_id, pad)
        generations.append(Generation(tokenizer.decode(new, skip_special_tokens=True), len(ids), len(new), share))
    return generations


def _until_end(tokens: list[int], eos, pad) -> list[int]:
    """A generated row up to and including its end token (the padding after it is not the answer's)."""
    ends = eos if isinstance(eos, (list, tuple)) else [eos]
    for index, token in enumerate(tokens):
        if token in ends:
            return tokens[:index + 1]
    return tokens
