"""Profiles a corpus: its size, duplicates, personal-data signals and simple style signals."""

from __future__ import annotations

import hashlib
import re
import statistics
from collections import Counter
from pathlib import Path

from advisor.corpus.loading import Document
from advisor.corpus.personal_data import find_personal_data
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


def _fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


# General prose the base model should keep knowing: the default reference for forgetting, and the yardstick
# of how new the corpus is to the model.
SHIPPED_REFERENCE_TEXT = Path(__file__).with_name("reference_text.md")
SHIPPED_REFERENCE_ABOUT = ("the general text the advisor ships (advisor/corpus/reference_text.md: about 1,300 "
                           "self-written words on everyday subjects)")
NEAR_DUPLICATE_THRESHOLD = 0.8  # estimated Jaccard similarity of character 5-gram sets
SHINGLE_CHARACTERS, PERMUTATIONS, LISTED_PAIRS = 5, 128, 50
SHINGLED_CHARACTERS = 200_000  # of a longer document, its start stands for it


def _shingles(text: str) -> set[bytes]:
    """Character 5-grams of the lower-cased text with runs of white space made one: a changed character
    changes five of them, so a short document with a typo fixed still matches its twin."""
    flat = " ".join(text.lower().split())[:SHINGLED_CHARACTERS]
    if len(flat) <= SHINGLE_CHARACTERS:
        return {flat.encode()}
    return {flat[i:i + SHINGLE_CHARACTERS].encode() for i in range(len(flat) - SHINGLE_CHARACTERS + 1)}


def near_duplicates(documents: list[Document]) -> dict:
    """Pairs of documents whose character 5-grams mostly agree (MinHash with LSH, datasketch), exact copies
    left to the exact count: the pairs (first 50), how many documents repeat an earlier one, and the
    share of the corpus's characters they hold."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=NEAR_DUPLICATE_THRESHOLD, num_perm=PERMUTATIONS)
    hashes, fingerprints, pairs, repeats = [], [], [], set()
    for index, document in enumerate(documents):
        minhash = MinHash(num_perm=PERMUTATIONS)
        minhash.update_batch(list(_shingles(document.text)))
        fingerprints.append(_fingerprint(document.text))
        for other in sorted(int(key) for key in lsh.query(minhash)):
            similarity = minhash.jaccard(hashes[other])
            if fingerprints[other] != fingerprints[index] and similarity >= NEAR_DUPLICATE_THRESHOLD:
                pairs.append({"first": documents[other].source, "second": document.source,
                              "similarity": round(similarity, 3)})
                repeats.add(index)
        lsh.insert(str(index), minhash)
        hashes.append(minhash)
    total = sum(len(d.text) for d in documents) or 1
    return {"documents": len(repeats), "share_of_characters": round(sum(len(documents[i].text) for i in repeats)
                                                                    / total, 4),
            "pairs": pairs[:LISTED_PAIRS], "threshold": NEAR_DUPLICATE_THRESHOLD,
            "method": f"MinHash over character {SHINGLE_CHARACTERS}-grams, {PERMUTATIONS} permutations, LSH "
                      "(datasketch)"}


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
        "words_per_document": {"min": min(words, default=0), "median": statistics.median(words) if words else 0,
                               "p90": statistics.quantiles(words, n=10, method="inclusive")[-1]
                               if len(words) > 1 else max(words, default=0),
                               "max": max(words, default=0)},
        "file_types": dict(Counter(Path(d.source.split("#")[0]).suffix.lower() or "(none)" for d in documents)
                           .most_common()),
        "exact_duplicates": duplicate_docs,
        "near_duplicates": near_duplicates(documents),
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
