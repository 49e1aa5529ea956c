"""Answer-quality metrics (small objects with a name and one scoring method) and bootstrap intervals."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from advisor.corpus.qa import normalize_answer


@dataclass(frozen=True)
class Metric:
    """What a measure is called, which way is better and what it means: the decision, every renderer and the
    TUI read these entries (METRICS), never a name of their own."""

    name: str  # its key in report.json
    title: str  # a table row's title
    label: str  # in sentences: "RAG against the base model on answer containment"
    higher_is_better: bool = True
    meaning: str = ""  # what "right" means under this metric, for the report
    # The smallest difference worth acting on: an option whose interval against another stays below it
    # cannot be meaningfully better on this evidence (a share of items for scores; nats for losses).
    meaningful: float = 0.05
    share: bool = True  # scores are shares of items (0 to 1); False for losses, perplexities, distances

    def headroom(self, base_value: float | None) -> bool:
        """The base model's score leaves room for a meaningful improvement (a loss always does)."""
        if not self.share or base_value is None:
            return True
        return (base_value <= 1 - self.meaningful) if self.higher_is_better else base_value >= self.meaningful

    def meaning_for(self, meaning: str) -> "Metric":
        return replace(self, meaning=meaning)


METRICS = {metric.name: metric for metric in (  # in the order the reports' tables show them
    Metric("answer_containment", "Answer containment", "answer containment",
           meaning="an answer counts as right when it states the reference answer, alone or in a sentence (both "
                   "normalized: case, punctuation and articles ignored)"),
    Metric("exact_match", "Exact match", "exact match", meaning="the answer is the reference answer, normalized"),
    Metric("token_f1", "Token F1", "token F1",
           meaning="word overlap with the reference answer, which rewards its wording and length"),
    Metric("token_recall", "Token recall", "token recall", meaning="the share of the reference answer's words the "
                                                                    "answer holds"),
    Metric("format_match", "Format match", "format match",
           meaning="the share of answers that match your --format-regex"),
    Metric("answer_logprob", "Answer log-prob / token", "answer log-probability per token",
           meaning="how likely each arm finds the reference answer, token by token", share=False),
    Metric("retrieval_hit_rate", "Retrieval hit rate", "retrieval hit rate",
           meaning="the share of questions whose source passage was among those retrieved"),
    Metric("retrieval_mrr", "Retrieval MRR", "retrieval MRR",
           meaning="the mean reciprocal rank of the source passage among those retrieved"),
    Metric("perplexity", "Held-out perplexity (lower is better)", "held-out perplexity", higher_is_better=False,
           share=False),
    Metric("doc_nll_per_token", "Held-out loss, nats per token (lower is better)", "held-out loss (nats per token)",
           higher_is_better=False, share=False,
           meaning="how well each arm predicts held-out documents written the way you want"),
    Metric("style_similarity", "Continuation's similarity to the true text (embedding cosine)",
           "the continuation's similarity to the true text", share=False),
    Metric("stylometric_distance", "Continuation's stylometric distance to the true text (lower is better)",
           "the continuation's stylometric distance to the true text", higher_is_better=False, share=False),
    Metric("reference_perplexity", "Reference-text perplexity (forgetting; lower is better)",
           "reference-text perplexity", higher_is_better=False, share=False),
)}

_NEXT_TURN = re.compile(r"\b(?:question|context)\s*:", re.IGNORECASE)


def first_line(text: str) -> str:
    """Generated answers often run on; the answer is the first non-empty line, up to any new
    "Question:" or "Context:" the model starts by itself. A lead-in line such as "The answer is:"
    is joined to the line after it, which holds the answer."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if line.endswith(":") and len(lines) > 1 and not _NEXT_TURN.match(lines[1]):
        line = f"{line} {lines[1]}"
    return _NEXT_TURN.split(line, maxsplit=1)[0].strip()


@dataclass(frozen=True)
class ExactMatch:
    name: str = "exact_match"

    def score(self, prediction: str, reference: str) -> float:
        return float(normalize_answer(prediction) == normalize_answer(reference))


@dataclass(frozen=True)
class TokenF1:
    name: str = "token_f1"

    def score(self, prediction: str, reference: str) -> float:
        pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
        if not pred or not ref:
            return float(pred == ref)
        common = sum((Counter(pred) & Counter(ref)).values())
        if common == 0:
            return 0.0
        precision, recall = common / len(pred), common / len(ref)
        return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class AnswerContainment:
    """1 when the whole normalized reference appears, on word boundaries, in the normalized answer:
    a right answer given in a sentence ("It leaves from Berth 5.") counts as right."""

    name: str = "answer_containment"

    def score(self, prediction: str, reference: str) -> float:
        ref = normalize_answer(reference)
        return float(bool(ref) and f" {ref} " in f" {normalize_answer(prediction)} ")


@dataclass(frozen=True)
class TokenRecall:
    """Share of the reference's words that the answer contains (extra words cost nothing)."""

    name: str = "token_recall"

    def score(self, prediction: str, reference: str) -> float:
        pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
        if not ref:
            return float(not pred)
        return sum((Counter(pred) & Counter(ref)).values()) / len(ref)


@dataclass(frozen=True)
class FormatMatch:
    pattern: str
    name: str = "format_match"

    def score(self, prediction: str, reference: str = "") -> float:
        return float(re.fullmatch(self.pattern, prediction.strip()) is not None)


def line_format_share(pattern: str, continuation: str, opening: str = "") -> float:
    """Share of a continuation's complete lines that match `pattern` in full, as written: format compliance
    for text that is not one answer. The continuation's first piece finishes the opening's last line, and
    is judged as that joined line; blank lines are not judged; no complete line scores 0."""
    # Only a newline completes a line: the text after the last one may be cut by max_new_tokens.
    pieces = [piece.removesuffix("\r") for piece in continuation.split("\n")[:-1]]
    if pieces and pieces[0]:  # when empty, the opening's last line stands as it was: not the continuation's
        pieces[0] = opening.rpartition("\n")[2] + pieces[0]
    # Lines are not stripped: indentation is what Debian changelogs, YAML, code and lists are made of.
    lines = [line for line in pieces if line.strip()]
    if not lines:
        return 0.0
    return sum(re.fullmatch(pattern, line) is not None for line in lines) / len(lines)


_STYLE_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def stylometric_features(text: str) -> dict[str, float]:
    """Simple style measures that even a short passage gives: sentence and word length, punctuation,
    capitals, digits and line breaks per word."""
    words = _STYLE_WORD.findall(text)
    n = max(1, len(words))
    sentences = max(1, len(re.findall(r"[.!?]+(?:\s|$)", text)))
    return {"words_per_sentence": len(words) / sentences,
            "characters_per_word": sum(map(len, words)) / n,
            "punctuation_per_word": sum(ch in string.punctuation for ch in text) / n,
            "capitalized_share": sum(w[:1].isupper() for w in words) / n,
            "digit_share": sum(any(c.isdigit() for c in w) for w in words) / n,
            "lines_per_word": text.strip().count("\n") / n}


def stylometric_distance(text: str, reference: str) -> float:
    """Mean relative difference of the stylometric features (0: the same style on these measures; 1: as
    far apart as they go)."""
    a, b = stylometric_features(text), stylometric_features(reference)
    return float(np.mean([abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k])) if max(abs(a[k]), abs(b[k])) else 0.0
                          for k in a]))


# Below this many items a bootstrap interval looks far more precise than the items allow (two
# documents gave [0.00236, 0.00251]): no interval is given, and the report says why.
MIN_ITEMS_FOR_INTERVAL = 5


def bootstrap_ci(values, *, seed: int = 0, resamples: int = 1000,
                 statistic=np.mean) -> tuple[float, float]:
    """95% percentile bootstrap interval of `statistic` over items (NaN with too few items)."""
    data = np.asarray(values, dtype=float)
    if len(data) < MIN_ITEMS_FOR_INTERVAL:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(data), size=(resamples, len(data)))
    stats = np.array([statistic(data[row]) for row in picks]) if statistic is not np.mean \
        else data[picks].mean(axis=1)
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def summarize(values, *, seed: int = 0) -> dict:
    """{"value", "n", "ci95"} for per-item scores."""
    values = list(values)
    low, high = bootstrap_ci(values, seed=seed)
    return {"value": float(np.mean(values)) if values else float("nan"), "n": len(values),
            "ci95": [low, high]}


def paired_difference(a, b, *, seed: int = 0) -> dict:
    """Mean of a - b over the same items, with a paired bootstrap interval."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return summarize(diff, seed=seed)


def pooled_perplexity(totals: list[tuple[float, int]]) -> float:
    """exp(sum NLL / sum tokens) over (NLL, tokens) pairs; NaN when there are no tokens."""
    tokens = sum(count for _, count in totals)
    return math.exp(sum(nll for nll, _ in totals) / tokens) if tokens else float("nan")


def perplexity_summary(totals: list[tuple[float, int]], *, seed: int = 0, resamples: int = 1000) -> dict:
    """Corpus perplexity exp(sum NLL / sum tokens) over documents, with a bootstrap interval."""
    if not totals:
        return {"value": float("nan"), "n": 0, "ci95": [float("nan"), float("nan")]}
    if len(totals) < MIN_ITEMS_FOR_INTERVAL:
        return {"value": pooled_perplexity(totals), "n": len(totals), "ci95": [float("nan"), float("nan")]}
    nll = np.array([t for t, _ in totals], dtype=float)
    count = np.array([c for _, c in totals], dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(nll), size=(resamples, len(nll)))
    stats = np.exp(nll[picks].sum(axis=1) / count[picks].sum(axis=1))
    low, high = np.percentile(stats, [2.5, 97.5])
    return {"value": pooled_perplexity(totals), "n": len(totals), "ci95": [float(low), float(high)]}
