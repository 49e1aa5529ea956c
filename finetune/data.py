"""Training examples: token blocks of corpus text (self-supervised) and prompt/answer pairs (supervised)."""

from __future__ import annotations

IGNORE_INDEX = -100  # label value the loss skips


def text_blocks(tokenizer, texts: list[str], block_size: int) -> list[dict]:
    """Each text (with the tokenizer's special tokens and a closing EOS) cut into blocks; every token
    is a label. Texts are not packed together, so a block never starts mid-way into another text."""
    blocks = []
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        if tokenizer.eos_token_id is not None:
            ids.append(tokenizer.eos_token_id)
        for start in range(0, len(ids), block_size):
            block = ids[start:start + block_size]
            if len(block) >= 2:
                blocks.append({"input_ids": block, "labels": list(block)})
    return blocks


def answer_examples(tokenizer, pairs: list[tuple[str, str]], max_len: int, encode_prompt) -> list[dict]:
    """(prompt, answer) pairs; the loss covers the answer and its EOS only.

    `encode_prompt(tokenizer, prompt)` must be the same encoding used at inference.
    """
    plain = not getattr(tokenizer, "chat_template", None)
    examples = []
    for prompt, answer in pairs:
        prompt_ids = encode_prompt(tokenizer, prompt)
        answer_ids = tokenizer((" " if plain else "") + answer, add_special_tokens=False)["input_ids"]
        if tokenizer.eos_token_id is not None:
            answer_ids = answer_ids + [tokenizer.eos_token_id]
        answer_ids = answer_ids[:max_len // 2]
        prompt_ids = prompt_ids[-(max_len - len(answer_ids)):]  # keep the end: it holds the question
        examples.append({"input_ids": prompt_ids + answer_ids,
                         "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids})
    return examples


def training_examples(tokenizer, texts: list[str], prompt_answer_pairs: list[tuple[str, str]], max_len: int,
                      encode_prompt) -> tuple[list[dict], int]:
    """Corpus text blocks, then supervised (prompt, answer) examples; returns (examples, number of blocks)."""
    blocks = text_blocks(tokenizer, texts, max_len)
    return blocks + answer_examples(tokenizer, prompt_answer_pairs, max_len, encode_prompt), len(blocks)
