"""The advisor's plain prompt (which pretraining must match exactly), plus the pretraining-only repeat task."""

from __future__ import annotations

from rag.prompting import plain_prompt


def closed_book_prompt(question: str) -> str:
    """Prompt for answering from the model's own knowledge."""
    return plain_prompt(question)


def context_prompt(passages: list[str], question: str) -> str:
    """Prompt for answering from retrieved passages (RAG); passages are joined one per line."""
    return plain_prompt(question, passages)


def repeat_prompt(passage: str) -> str:
    """Pretraining-only task: copy a passage verbatim, which teaches the model to attend to its context."""
    return f"Context: {passage.strip()}\nRepeat:"
