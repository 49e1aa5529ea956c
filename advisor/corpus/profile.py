"""Profiles a corpus: its size, duplicates, personal-data signals and simple style signals."""

from __future__ import annotations

import hashlib
import re
import statistics
from collections import Counter

from advisor.corpus.loading import Document
from advisor.corpus.personal_data import find_personal_data
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


def _fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


def profile_documents(documents: list[Document], tokenizer=None) -> dict:
    """Returns a JSON-ready profile; `tokenizer` (the base model's) adds a token count."""
    words = [len(d.text.split()) for d in documents]
    fingerprints = Counter(_fingerprint(d.text) for d in documents)
    duplicate_docs = sum(count - 1 for count in fingerprints.values() if count > 1)
    text = "\n".join(d.text for d in documents)
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    lines = [line for line in text.splitlines() if line.strip()]
    profile = {
        "documents": len(documents),
        "characters": len(text),
        "words": sum(words),
        "words_per_document": {"median": statistics.median(words) if words else 0,
                               "max": max(words, default=0)},
        "exact_duplicates": duplicate_docs,
        "non_utf8_documents": sum(1 for d in documents if d.encoding != "utf-8"),
        "personal_data": find_personal_data(documents),
        "style": {
            "mean_sentence_words": round(statistics.mean(len(s.split()) for s in sentences), 1)
            if sentences else 0.0,
            "list_line_share": round(sum(1 for line in lines if re.match(r"\s*([-*+]|\d+[.)])\s", line))
                                     / max(1, len(lines)), 3),
        },
    }
    if tokenizer is not None:
        profile["tokens"] = sum(len(tokenizer(d.text, add_special_tokens=False)["input_ids"])
                                for d in documents)
    return profile
