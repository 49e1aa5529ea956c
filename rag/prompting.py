"""Builds the answer prompt, with retrieved passages when there are any, and encodes it."""

from __future__ import annotations

INSTRUCTION = "Answer the question with a short phrase."


def build_prompt(tokenizer, question: str, passages: list[str] | None = None) -> str:
    """The model's chat template when it has one; otherwise a plain Context/Question/Answer form.

    The plain form is a contract: the calibration model was pretrained on exactly these strings.
    """
    passages = [p.strip() for p in (passages or []) if p.strip()]
    if getattr(tokenizer, "chat_template", None):
        body = f"{INSTRUCTION}\n\n"
        if passages:
            body += "Context:\n" + "\n\n".join(passages) + "\n\n"
        body += f"Question: {question}"
        return tokenizer.apply_chat_template([{"role": "user", "content": body}], tokenize=False,
                                             add_generation_prompt=True)
    return plain_prompt(question, passages)


def plain_prompt(question: str, passages: list[str] | None = None) -> str:
    """`Context: P1\nP2\nQuestion: Q\nAnswer:` (no Context line without passages); passages stripped."""
    passages = [p.strip() for p in (passages or []) if p.strip()]
    context = "Context: " + "\n".join(passages) + "\n" if passages else ""
    return f"{context}Question: {question}\nAnswer:"


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids of a prompt; a chat template already holds its special tokens."""
    add_special = not getattr(tokenizer, "chat_template", None)
    return tokenizer(prompt, add_special_tokens=add_special)["input_ids"]
