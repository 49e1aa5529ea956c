"""The key/value cache of an opening many prompts share (the whole corpus), computed once and copied per prompt."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass


def shared_token_prefix(id_lists: list[list[int]]) -> list[int]:
    """The token ids every list starts with, less the last one (a token at the edge of the shared text can
    merge with what follows it in another prompt), and always leaving each list at least one token of its own."""
    if not id_lists:
        return []
    first, length = id_lists[0], min(len(ids) for ids in id_lists)
    shared = next((i for i in range(length) if any(ids[i] != first[i] for ids in id_lists)), length)
    return first[:max(0, min(shared - 1, length - 1))]


def cache_keyword(model) -> str:
    """The name a model's forward() and generate() take a key/value cache by ("cache" from transformers 5.24,
    "past_key_values" before); a peft model's is its base model's."""
    import inspect

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft model passes it on
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"


@dataclass
class PrefixCache:
    """The model's key/value cache of `ids` and its logits at their last position, made once (`seconds`).

    `cache_for(ids)` is a fresh copy of it when `ids` start with the prefix and go on past it, else None: the
    caller then computes the prompt whole. As llama.cpp's, vLLM's and the hosted APIs' prompt caching do, an
    answer computed from it is the one computed from the whole prompt, up to floating-point rounding."""

    ids: list[int]
    cache: object = None
    last_logits: object = None  # [vocab]: what follows the prefix
    seconds: float = 0.0
    used: int = 0  # prompts answered from the cache
    missed: int = 0  # prompts that did not start with the prefix, computed whole

    @classmethod
    def build(cls, model, ids: list[int]) -> "PrefixCache":
        import torch
        from transformers import DynamicCache

        if not ids:  # nothing shared: every prompt is computed whole
            return cls([])
        device = next(model.parameters()).device
        start = time.perf_counter()
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids], device=device), use_cache=True, logits_to_keep=1,
                        **{cache_keyword(model): DynamicCache(config=model.config)})
        if device.type == "cuda":
            torch.cuda.synchronize()
        cache = out["cache"] if "cache" in out else out.get("past_key_values")  # before transformers 5.24
        return cls(list(ids), cache, out.logits[0, -1].float(), time.perf_counter() - start)

    def matches(self, ids: list[int]) -> bool:
        return len(ids) > len(self.ids) and ids[:len(self.ids)] == self.ids

    def cache_for(self, ids: list[int]):
        if not self.ids or not self.matches(ids):
            self.missed += 1
            return None
        self.used += 1
        return copy.deepcopy(self.cache)
