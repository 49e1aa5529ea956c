"""Greedy generation of one answer, with its token counts and timings."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rag.prompting import encode_prompt


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def generate(model, tokenizer, prompt: str, max_new_tokens: int = 32) -> Generation:
    import torch  # heavy; only generation needs it

    ids = encode_prompt(tokenizer, prompt)
    device = next(model.parameters()).device
    input_ids = torch.tensor([ids], device=device)
    start = time.perf_counter()
    with torch.no_grad():
        output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    new = output[0, input_ids.shape[1]:]
    return Generation(tokenizer.decode(new, skip_special_tokens=True), len(ids), int(new.shape[0]), seconds)
