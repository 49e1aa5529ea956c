"""Likelihood measures under a causal LM: answer log-likelihood and perplexity of texts."""

from __future__ import annotations

import math


def _nll_of_continuation(model, tokenizer, prefix: str, continuation: str, max_length: int,
                         cached=None) -> tuple[float, int]:
    """Sum of negative log-likelihood (nats) of `continuation` after `prefix`, and its token count. With
    `cached` (a rag.prefix_cache.PrefixCache), a text that starts with its tokens is scored from a copy of
    their key/value cache: the same figures, with only the rest computed."""
    import torch  # heavy; only needed when a model is scored

    prefix_ids = tokenizer(prefix)["input_ids"] if prefix else []
    cont_ids = tokenizer(continuation, add_special_tokens=not prefix)["input_ids"]
    if not cont_ids:
        return 0.0, 0
    ids = (prefix_ids + cont_ids)[-max_length:]
    n_cont = min(len(cont_ids), len(ids) - 1)
    if n_cont <= 0:
        return 0.0, 0
    device = next(model.parameters()).device
    start = len(cached.ids) if cached is not None else 0
    past = cached.cache_for(ids) if cached is not None and len(ids) - start >= n_cont else None
    with torch.no_grad():
        if past is None:
            logits = model(input_ids=torch.tensor([ids], device=device)).logits[0, :-1].float()
            targets = torch.tensor(ids[1:], device=device)
        else:  # the logits after the prefix, then those of the rest but its last position
            from rag.prefix_cache import cache_keyword

            rest = model(input_ids=torch.tensor([ids[start:]], device=device),
                         **{cache_keyword(model): past}).logits[0, :-1].float()
            logits = torch.cat([cached.last_logits.to(device)[None], rest])
            targets = torch.tensor(ids[start:], device=device)
    logprobs = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]
    return float(-logprobs[-n_cont:].sum()), n_cont


def answer_log_likelihood(model, tokenizer, prompt: str, answer: str, max_length: int = 2048,
                          cached=None) -> float:
    """Mean log-probability per token of the reference answer given the prompt (higher is better)."""
    nll, count = _nll_of_continuation(model, tokenizer, prompt, " " + answer, max_length, cached)
    return -nll / count if count else float("nan")


def answer_log_likelihoods(model, tokenizer, items: list[tuple[str, str]], max_length: int = 2048) -> list[float]:
    """answer_log_likelihood of several (prompt, answer) pairs in one forward pass: left padding with
    positions counted from each row's first real token (so every row sees what it would alone), and
    logits only for the last positions, where the answers are (a full batch of logits over a 49k
    vocabulary would take gigabytes)."""
    import torch

    from rag.generation import left_padded

    encoded = []
    for prompt, answer in items:
        prefix_ids = tokenizer(prompt)["input_ids"] if prompt else []
        cont_ids = tokenizer(" " + answer, add_special_tokens=not prompt)["input_ids"]
        ids = (prefix_ids + cont_ids)[-max_length:]
        encoded.append((ids, min(len(cont_ids), len(ids) - 1)))
    scored = [i for i, (_, n) in enumerate(encoded) if n > 0]
    out = [float("nan")] * len(items)
    if not scored:
        return out
    rows = [encoded[i] for i in scored]
    longest, keep = max(len(ids) for ids, _ in rows), max(n for _, n in rows) + 1
    input_ids, mask = left_padded(tokenizer, [ids for ids, _ in rows], next(model.parameters()).device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                       logits_to_keep=keep).logits.float()
    # logits[:, j] predicts the token at position longest - keep + j + 1
    logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(2, input_ids[:, longest - keep + 1:, None])[..., 0]
    for row, (index, (_, n)) in enumerate(zip(scored, rows)):
        out[index] = float(logprobs[row, -n:].sum()) / n
    return out


def answer_log_likelihoods_after(model, tokenizer, after, answers: list[str | None]) -> list[float]:
    """answer_log_likelihood of each row's reference answer (None: that row is not scored, nan) after the prompt
    its generation answered (`after`, a rag.generation.AfterPrompts), in one forward pass of the answers' tokens
    alone: the first token from the logits the generation drew its own first token from, the rest on the
    prompts' key/value cache, with the generated tokens (and anything scored since) masked out. The same values
    as scoring prompt and answer whole, up to floating-point rounding, for the prompts as the model read them."""
    import torch

    from rag.generation import padding_token
    from rag.prefix_cache import cache_keyword

    rows = len(after.lengths)
    answer_ids = [tokenizer(" " + answer, add_special_tokens=False)["input_ids"] if answer is not None else []
                  for answer in answers]
    out = [float("nan")] * rows
    if not any(answer_ids):
        return out
    first = torch.log_softmax(after.last_logits, dim=-1)
    width = max(len(ids) for ids in answer_ids) - 1  # each answer but its last token is read
    if width:
        device, pad = after.last_logits.device, padding_token(tokenizer)
        reads = [ids[:-1] for ids in answer_ids]
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in reads], device=device)
        read_mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in reads], device=device)
        masked_out = after.cache.get_seq_length() - after.prompt_mask.shape[1]  # generated, or scored before
        mask = torch.cat([after.prompt_mask, after.prompt_mask.new_zeros((rows, masked_out)),
                          read_mask.to(after.prompt_mask.dtype)], dim=1)
        positions = torch.tensor(after.lengths, device=device)[:, None] + torch.arange(width, device=device)
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                           **{cache_keyword(model): after.cache}).logits.float()
        rest = torch.log_softmax(logits, dim=-1)
    for row, ids in enumerate(answer_ids):
        if not ids:
            continue
        total = first[row, ids[0]]
        if len(ids) > 1:
            total = total + rest[row, torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum()
        out[row] = float(total) / len(ids)
    return out


def text_nll(model, tokenizer, text: str, context: str = "", max_length: int = 512) -> tuple[float, int]:
    """(sum of NLL, token count) of `text`, optionally after `context`; long texts are truncated."""
    return _nll_of_continuation(model, tokenizer, context, text, max_length)


def perplexity_and_entropy(model, tokenizer, texts: list[str], max_length: int = 256) -> tuple[float, float]:
    """(token-level perplexity, mean entropy in nats of the next-token distribution) over the texts, each
    scored on its last `max_length` tokens, both from one forward pass per text. The perplexity is
    `perplexity`'s. A model with random weights predicts nearly uniformly (entropy near log of the
    vocabulary size) whatever the text; a trained model is confident even on text it has never seen."""
    import torch  # heavy; only needed when a model is scored

    device = next(model.parameters()).device
    nll, targets, entropy, positions = 0.0, 0, 0.0, 0
    for text in texts:
        ids = tokenizer(text)["input_ids"][-max_length:]
        if len(ids) < 2:
            continue
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids], device=device)).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        entropy += float(-(logp.exp() * logp).sum(dim=-1).sum())
        positions += len(ids)
        nll -= float(logp[:-1].gather(1, torch.tensor(ids[1:], device=device)[:, None]).sum())
        targets += len(ids) - 1
    return (math.exp(nll / targets) if targets else float("nan"),
            entropy / positions if positions else float("nan"))


def perplexity(model, tokenizer, texts: list[str], max_length: int = 512) -> float:
    """Token-level perplexity over the texts, each scored on its own (a leading <s> is context, not a target)."""
    total, count = 0.0, 0
    for text in texts:
        nll, n = text_nll(model, tokenizer, text, max_length=max_length)
        total, count = total + nll, count + n
    return math.exp(total / count) if count else float("nan")
