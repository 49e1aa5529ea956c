"""Builds the answer prompt, with retrieved passages when there are any, and encodes it."""

from __future__ import annotations

# The instruction as a system turn, the passages before the question: the layout that did best
# for SmolLM2-135M-Instruct on the sample's training split (benchmarks/rag_settings.py).
SYSTEM = "You answer questions in a few words."
SYSTEM_WITH_PASSAGES = "You answer questions in a few words, using only the passages you are given."


def build_prompt(tokenizer, question: str, passages: list[str] | None = None) -> str:
    """The model's chat template when it has one; otherwise a plain Context/Question/Answer form.

    The plain form is a contract: the calibration model was pretrained on exactly these strings.
    """
    passages = [p.strip() for p in (passages or []) if p.strip()]
    if getattr(tokenizer, "chat_template", None):
        body = "Passages:\n" + "\n\n".join(passages) + "\n\n" if passages else ""
        return chat_prompt(tokenizer, SYSTEM_WITH_PASSAGES if passages else SYSTEM, body + f"Question: {question}")
    return plain_prompt(question, passages)


def chat_prompt(tokenizer, system: str, user: str) -> str:
    """A system and a user turn, ready for the assistant's answer."""
    from jinja2.exceptions import TemplateError  # chat templates are Jinja

    turns = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    except TemplateError:  # some templates (Gemma's) refuse a system turn: it leads the user turn instead
        return tokenizer.apply_chat_template([{"role": "user", "content": f"{system}\n\n{user}"}],
                                             tokenize=False, add_generation_prompt=True)


def plain_prompt(question: str, passages: list[str] | None = None) -> str:
    """`Context: P1\nP2\nQuestion: Q\nAnswer:` (no Context line without passages); passages stripped."""
    passages = [p.strip() for p in (passages or []) if p.strip()]
    context = "Context: " + "\n".join(passages) + "\n" if passages else ""
    return f"{context}Question: {question}\nAnswer:"


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids of a prompt; a chat template already holds its special tokens."""
    add_special = not getattr(tokenizer, "chat_template", None)
    return tokenizer(prompt, add_special_tokens=add_special)["input_ids"]
