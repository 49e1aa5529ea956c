"""Profiles a corpus: size, tokens, duplicates, personal data, style and freshness (sampled when the corpus is large)."""

from __future__ import annotations

import bisect
import hashlib
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from advisor.corpus.freshness import freshness
from advisor.corpus.loading import Document
from advisor.corpus.personal_data import find_personal_data
from advisor.corpus.style import WORD, style_signals
from advisor.records import Record

# Beyond this many characters, the token count (extrapolated), the tokenizer's splits and the style signals
# read a seeded sample of whole documents; duplicates, personal data and dates always read everything.
SAMPLE_CHARACTERS = 4_000_000
MANY_PIECES = 3  # a word split into this many tokens or more is one the tokenizer finds unfamiliar


def _fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


# General prose the base model should keep knowing: the default reference for forgetting, and the yardstick
# of how new the corpus is to the model.
SHIPPED_REFERENCE_TEXT = Path(__file__).with_name("reference_text.md")
SHIPPED_REFERENCE_ABOUT = ("the general text the advisor ships (advisor/corpus/reference_text.md: about 1,300 "
                           "self-written words on everyday subjects)")


@dataclass
class CorpusProfile(Record):
    """What the profile found: size, duplicates, personal data, style and freshness; with the base model's
    tokenizer, tokens and unfamiliar words; with its weights, how new the corpus is to it."""

    documents: int = 0
    skipped: list | None = None  # files the loader skipped: {"path", "reason"} (a run's report, `advisor profile`)
    characters: int = 0
    words: int = 0
    words_per_document: dict = field(default_factory=dict)  # min, median, p90, max
    file_types: dict | None = None  # suffix -> documents
    exact_duplicates: int = 0
    near_duplicates: dict | None = None  # advisor.corpus.profile.near_duplicates
    non_utf8_documents: int = 0
    personal_data: dict = field(default_factory=dict)  # advisor.corpus.personal_data.find_personal_data
    style: dict = field(default_factory=dict)  # advisor.corpus.style.style_signals
    freshness: dict | None = None  # advisor.corpus.freshness.freshness
    sampled: dict | None = None  # what the sample held, when one stood for a large corpus
    tokens: int | None = None  # under the base model's tokenizer (extrapolated from the sample when sampled)
    tokens_estimated: bool | None = None
    tokens_note: str | None = None  # why tokens were not counted
    tokenizer_splits: dict | None = None  # advisor.corpus.profile.token_counts' "splits"
    novelty: dict | None = None  # advisor.measure.summary.novelty
    base_check: dict | None = None  # `advisor profile`: advisor.measure.evidence.ModelCheck.to_dict()
    extra: dict = field(default_factory=dict)


def reference_paragraphs(path: str | Path) -> list[str]:
    """A general text's paragraphs (split at blank lines, white space made single)."""
    from advisor.errors import ConfigError

    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"reference text {str(path)!r} cannot be read as UTF-8 text ({exc})") from None
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    if not paragraphs:
        raise ConfigError(f"reference text {str(path)!r} is empty")
    return paragraphs


NEAR_DUPLICATE_THRESHOLD = 0.8  # estimated Jaccard similarity of character 5-gram sets
SHINGLE_CHARACTERS, PERMUTATIONS, LISTED_PAIRS = 5, 128, 50
SHINGLED_CHARACTERS = 200_000  # of a longer document, its start stands for it


def _shingles(text: str):
    """Hashes (32-bit) of the character 5-grams of the lower-cased text with runs of white space made one: a
    changed character changes five of them, so a short document with a typo fixed still matches its twin.
    Hashed with numpy, all at once: hashing each 5-gram in Python took most of a large corpus's profile."""
    import numpy as np

    flat = " ".join(text.lower().split())[:SHINGLED_CHARACTERS]
    codes = np.frombuffer(flat.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    width = min(SHINGLE_CHARACTERS, len(codes))
    hashes = np.zeros(len(codes) - width + 1, dtype=np.uint64)
    for offset in range(width):  # a polynomial hash, wrapping modulo 2**64
        hashes = hashes * np.uint64(1_000_003) + codes[offset:len(codes) - width + 1 + offset]
    return np.unique(hashes ^ (hashes >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def near_duplicates(documents: list[Document]) -> dict:
    """Pairs of documents whose character 5-grams mostly agree (MinHash with LSH, datasketch), exact copies
    left to the exact count: the pairs (first 50), how many documents repeat an earlier one, and the
    share of the corpus's characters they hold."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=NEAR_DUPLICATE_THRESHOLD, num_perm=PERMUTATIONS)
    # The permutations drawn once (the same seed draws the same ones): drawing them per document took a third of
    # the time on 100,000 short notes.
    drawn = MinHash(num_perm=PERMUTATIONS, hashfunc=int)
    permutations, scheme = drawn.permutations, drawn.scheme
    hashes, fingerprints, pairs, repeats = [], [], [], set()
    for index, document in enumerate(documents):
        minhash = MinHash(num_perm=PERMUTATIONS, hashfunc=int, permutations=permutations,  # shingles come hashed
                          scheme=scheme)
        minhash.update_batch(_shingles(document.text).tolist())
        fingerprints.append(_fingerprint(document.text))
        for other in sorted(int(key) for key in lsh.query(minhash)):
            if index in repeats and len(pairs) >= LISTED_PAIRS:
                break  # nothing more to learn of this document: it repeats one, and enough pairs are listed
            if fingerprints[other] == fingerprints[index]:
                continue  # an exact copy: the exact count has it
            similarity = minhash.jaccard(hashes[other])
            if similarity >= NEAR_DUPLICATE_THRESHOLD:
                if len(pairs) < LISTED_PAIRS:
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


def sample_documents(documents: list[Document], limit: int = SAMPLE_CHARACTERS,
                     seed: int = 0) -> tuple[list[Document], dict | None]:
    """All documents when they hold at most `limit` characters; else a seeded random sample of whole
    documents up to about `limit`, with a note of how much it holds."""
    total = sum(len(d.text) for d in documents)
    if total <= limit:
        return documents, None
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    picked, characters = [], 0
    for index in order:
        if characters >= limit:
            break
        picked.append(index)
        characters += min(len(documents[index].text), limit)  # a longer one is read only to the limit
    sample = [documents[i] for i in sorted(picked)]
    return sample, {"documents": len(sample), "of_documents": len(documents), "characters": characters,
                    "share_of_characters": round(characters / total, 4),
                    "used_for": ["tokens (extrapolated)", "tokenizer splits", "style"]}


def token_counts(tokenizer, texts: list[str]) -> dict:
    """Tokens under `tokenizer`, and the share of words (letters only) it splits into MANY_PIECES or more,
    read from the tokens that overlap each word in its text (so any tokenizer's handling of spaces is
    its own), with the most frequent such words."""
    tokens = words = split = 0
    unfamiliar: Counter = Counter()
    for text in texts:
        try:
            encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            offsets = [(a, b) for a, b in encoded["offset_mapping"] if b > a]
        except (NotImplementedError, ValueError, KeyError):  # a slow tokenizer gives no offsets: count only
            tokens += len(tokenizer(text, add_special_tokens=False)["input_ids"])
            continue
        tokens += len(encoded["input_ids"])
        ends = [b for _, b in offsets]
        for match in WORD.finditer(text):
            first = bisect.bisect_right(ends, match.start())  # the first token ending after the word starts
            last = bisect.bisect_left([a for a, _ in offsets[first:first + 64]], match.end())
            words += 1
            if last >= MANY_PIECES:
                split += 1
                unfamiliar[match.group()] += 1
    out = {"tokens": tokens}
    if words:
        out["splits"] = {"words": words, "share_split": round(split / words, 4), "pieces": MANY_PIECES,
                         "frequent_examples": [word for word, _ in unfamiliar.most_common(8)]}
    return out


def corpus_tokens(tokenizer, documents: list[Document], *, sample_characters: int = SAMPLE_CHARACTERS,
                  seed: int = 0) -> tuple[int, dict]:
    """The corpus's tokens under `tokenizer`, counted on the seeded sample of whole documents the profile reads
    and scaled to the whole corpus's characters; with token_counts' figures on that sample."""
    sample, _ = sample_documents(documents, sample_characters, seed)
    read = [d.text[:sample_characters] for d in sample]
    counted = token_counts(tokenizer, read)
    characters = sum(len(d.text) for d in documents)
    return round(counted["tokens"] * characters / (sum(map(len, read)) or 1)), counted


def profile_documents(documents: list[Document], tokenizer=None, *, reference_texts: list[str] | None = None,
                      sample_characters: int = SAMPLE_CHARACTERS, seed: int = 0) -> CorpusProfile:
    """The corpus's profile. `tokenizer` (the base model's) adds the token count and the share of
    words it splits into many pieces, on the corpus and on `reference_texts` (general text) for comparison.
    Past `sample_characters`, a sample of whole documents stands for the corpus where reading all is slow."""
    words = [len(d.text.split()) for d in documents]
    fingerprints = Counter(_fingerprint(d.text) for d in documents)
    characters = sum(len(d.text) for d in documents)
    sample, sampled = sample_documents(documents, sample_characters, seed)
    read = [d.text[:sample_characters] for d in sample]  # one huge document is sampled too
    profile = CorpusProfile(
        documents=len(documents),
        characters=characters,
        words=sum(words),
        words_per_document={"min": min(words, default=0), "median": statistics.median(words) if words else 0,
                            "p90": statistics.quantiles(words, n=10, method="inclusive")[-1]
                            if len(words) > 1 else max(words, default=0),
                            "max": max(words, default=0)},
        file_types=dict(Counter(Path(d.source.split("#")[0]).suffix.lower() or "(none)" for d in documents)
                        .most_common()),
        exact_duplicates=sum(count - 1 for count in fingerprints.values() if count > 1),
        near_duplicates=near_duplicates(documents),
        non_utf8_documents=sum(1 for d in documents if d.encoding not in ("utf-8", "")),  # "": PDF, Word
        personal_data=find_personal_data(documents),
        style=style_signals(read),
        freshness=freshness(documents),
        sampled=sampled,
    )
    if tokenizer is not None:
        profile.tokens, counted = corpus_tokens(tokenizer, documents, sample_characters=sample_characters, seed=seed)
        if sampled:
            profile.tokens_estimated = True
        if "splits" in counted:
            profile.tokenizer_splits = counted["splits"]
            if reference_texts:
                general = token_counts(tokenizer, reference_texts).get("splits")
                if general:
                    profile.tokenizer_splits["reference_share_split"] = general["share_split"]
    return profile
