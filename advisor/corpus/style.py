"""Style signals of a corpus: sentence and paragraph length, vocabulary, formatting, and how alike the documents are."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # letters only
_LIST_ITEM = re.compile(r"\s*(?:[-*+•]|\d+[.)])\s+\S")
_HEADING = re.compile(r"#{1,6}\s+\S|(?:=+|-+|~+|\^+)\s*$")  # Markdown '#', or an RST/setext underline
_TABLE_ROW = re.compile(r"\s*(?:\|.*\||\+[-=+]{3,}\+)\s*$")
_CODE = re.compile(r"\s*```|\t| {4}\S")
VOCABULARY_WINDOW = 100  # words per window of the moving type-token ratio (length-independent richness)
FORMATS = {"headings": "headings", "lists": "list items", "tables": "tables", "code": "code blocks"}
NUMERIC = {"sentence_words": "words per sentence", "paragraph_words": "words per paragraph",
           "vocabulary_richness": "vocabulary richness"}
# Thresholds on the consistency score (0 to 1): a house style at or above the first, no one style below the second.
CONSISTENT, MIXED = 0.75, 0.55


@dataclass(frozen=True)
class DocumentStyle:
    sentence_words: float
    paragraph_words: float
    vocabulary_richness: float  # moving-average type-token ratio over windows of 100 words
    formats: dict[str, float]  # format -> share of the document's non-empty lines that are of it


def vocabulary_richness(words: list[str], window: int = VOCABULARY_WINDOW) -> float:
    """Moving-average type-token ratio: the share of distinct words in each window of `window` words,
    averaged (the plain ratio falls as a text grows, so long and short documents could not be compared)."""
    words = [w.lower() for w in words]
    if len(words) <= window:
        return len(set(words)) / len(words) if words else 0.0
    step = max(1, (len(words) - window) // 50)  # at most ~50 windows: enough for a stable mean
    ratios = [len(set(words[i:i + window])) / window for i in range(0, len(words) - window + 1, step)]
    return sum(ratios) / len(ratios)


def document_style(text: str) -> DocumentStyle:
    lines = [line for line in text.splitlines() if line.strip()]
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    sentences = [s for s in _SENTENCE_END.split(text) if WORD.search(s)]
    words = WORD.findall(text)
    in_code, code_lines = False, 0
    for line in lines:
        fence = line.lstrip().startswith("```")
        if fence:
            in_code = not in_code
        code_lines += fence or in_code or bool(_CODE.match(line))
    counts = {"headings": sum(bool(_HEADING.match(line)) for line in lines),
              "lists": sum(bool(_LIST_ITEM.match(line)) for line in lines),
              "tables": sum(bool(_TABLE_ROW.match(line)) for line in lines), "code": code_lines}
    return DocumentStyle(
        sentence_words=len(words) / len(sentences) if sentences else float(len(words)),
        paragraph_words=len(words) / len(paragraphs) if paragraphs else 0.0,
        vocabulary_richness=vocabulary_richness(words),
        formats={name: count / len(lines) if lines else 0.0 for name, count in counts.items()})


def _spread(values: list[float]) -> float:
    """Coefficient of variation (standard deviation over mean): 0 when every document agrees."""
    if len(values) < 2 or not statistics.mean(values):
        return 0.0
    return statistics.pstdev(values) / statistics.mean(values)


def style_signals(texts: list[str]) -> dict:
    """Corpus-level style (medians over documents) and its consistency across documents: for each
    number, its coefficient of variation; for each format, the share of documents that use it (one
    that every document uses, or none does, is consistent). The score averages 1 - CV (floored at 0)
    of the numbers and max(share, 1 - share) of the formats."""
    styles = [document_style(t) for t in texts if WORD.search(t)]
    if not styles:
        return {"documents": 0}
    numbers = {name: [getattr(s, name) for s in styles] for name in NUMERIC}
    used = {name: sum(s.formats[name] > 0 for s in styles) / len(styles) for name in FORMATS}
    spreads = {name: _spread(values) for name, values in numbers.items()}
    agreement = [max(0.0, 1 - spread) for spread in spreads.values()] + [max(u, 1 - u) for u in used.values()]
    score = sum(agreement) / len(agreement)
    verdict = "consistent" if score >= CONSISTENT else "mixed" if score >= MIXED else "varied"
    return {
        "documents": len(styles),
        **{name: round(statistics.median(values), 3) for name, values in numbers.items()},
        "line_share": {name: round(statistics.mean(s.formats[name] for s in styles), 3) for name in FORMATS},
        "documents_using": {name: round(share, 3) for name, share in used.items()},
        "spread": {name: round(value, 3) for name, value in spreads.items()},
        "consistency": {"score": round(score, 3), "verdict": verdict if len(styles) > 1 else "one document",
                        "method": "the mean of 1 - coefficient of variation across documents (sentence and "
                                  "paragraph length, vocabulary richness) and of how many documents agree on "
                                  "each format (headings, lists, tables, code)"},
    }


def describe_style(style: dict) -> list[str]:
    """The style signals in words, one line each ([] when there were none)."""
    if not style.get("documents"):
        return []
    shares = style.get("line_share", {})
    using = style.get("documents_using", {})
    formats = ", ".join(f"{FORMATS[name]} {100 * shares.get(name, 0):.0f}% of lines (in {100 * using.get(name, 0):.0f}% "
                        "of documents)" for name in FORMATS if using.get(name))
    consistency = style.get("consistency", {})
    verdict = consistency.get("verdict", "")
    meaning = {"consistent": "a house style a fine-tune could learn",
               "mixed": "some shared style, with documents that depart from it",
               "varied": "no one style for a fine-tune to learn",
               "one document": "one document: nothing to compare"}.get(verdict, "")
    return [f"{style['sentence_words']:.1f} words per sentence and {style['paragraph_words']:.0f} per paragraph "
            f"(medians over documents); vocabulary richness {style['vocabulary_richness']:.2f} (distinct words "
            f"per {VOCABULARY_WINDOW}-word window)",
            "formatting: " + (formats or "plain prose (no headings, lists, tables or code)"),
            f"across documents: {verdict} (score {consistency.get('score', 0):.2f} of 1): {meaning}"]
