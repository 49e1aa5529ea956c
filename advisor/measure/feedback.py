"""People's ratings of the arms' answers (feedback.jsonl): read, appended one whole line at a time, and summed up
per arm as evidence with intervals."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from advisor.records import Record

FEEDBACK_FILE = "feedback.jsonl"
RATINGS = ("up", "down")


class FeedbackError(ValueError):
    """A feedback line that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True)
class Rating:
    """Thumbs up or down on one arm's answer to one question."""

    question: str
    arm: str
    rating: str  # "up" or "down"
    answer: str = ""  # the answer as rated (a later run may answer otherwise)
    at: str = ""

    @property
    def good(self) -> bool:
        return self.rating == "up"

    def to_dict(self) -> dict:
        return {"kind": "rating", "question": self.question, "arm": self.arm, "rating": self.rating,
                "answer": self.answer, "at": self.at}


@dataclass(frozen=True)
class Preference:
    """Of two arms' answers to one question, which is better."""

    question: str
    better: str
    worse: str
    at: str = ""

    def to_dict(self) -> dict:
        return {"kind": "preference", "question": self.question, "better": self.better, "worse": self.worse,
                "at": self.at}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FeedbackError(f"{key!r} must be a non-empty string")
    return value


def parse_feedback(data) -> Rating | Preference:
    """One line's JSON as a Rating ({"question", "arm", "rating": "up"|"down"[, "answer"]}) or a Preference
    ({"question", "better", "worse"}); "kind" may say which. Raises FeedbackError saying what is wrong."""
    if not isinstance(data, dict):
        raise FeedbackError("each line must be a JSON object")
    kind = data.get("kind") or ("preference" if "better" in data else "rating")
    at = data.get("at") if isinstance(data.get("at"), str) else ""
    if kind == "rating":
        rating = data.get("rating")
        if rating in (True, 1, "+1", "good", "thumbs_up"):
            rating = "up"
        elif rating in (False, 0, -1, "-1", "bad", "thumbs_down"):
            rating = "down"
        if rating not in RATINGS:
            raise FeedbackError(f"'rating' must be \"up\" or \"down\", not {data.get('rating')!r}")
        answer = data.get("answer") if isinstance(data.get("answer"), str) else ""
        return Rating(_text(data, "question"), _text(data, "arm"), rating, answer, at)
    if kind == "preference":
        better, worse = _text(data, "better"), _text(data, "worse")
        if better == worse:
            raise FeedbackError(f"'better' and 'worse' name the same arm ({better!r})")
        return Preference(_text(data, "question"), better, worse, at)
    raise FeedbackError(f"'kind' must be \"rating\" or \"preference\", not {kind!r}")


def read_feedback(path: str | Path) -> tuple[list[Rating | Preference], list[str]]:
    """The file's ratings and preferences in order, and a line of text for each line skipped (a torn last line
    after a crash among them); no file: nothing."""
    path = Path(path)
    if not path.is_file():
        return [], []
    entries, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append(parse_feedback(json.loads(line)))
        except (ValueError, FeedbackError) as exc:
            problems.append(f"{path.name} line {number} skipped: {exc}")
    return entries, problems


def append_feedback(path: str | Path, entries: list[Rating | Preference]) -> None:
    """Appends each entry as one line, in one write to a file opened for appending, flushed to disk before the
    next: a quit or a crash loses no rating already given, and leaves at most a torn last line, which
    read_feedback skips."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for entry in entries:
            os.write(descriptor, (json.dumps(entry.to_dict(), ensure_ascii=False) + "\n").encode("utf-8"))
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def latest(entries: list[Rating | Preference]) -> list[Rating | Preference]:
    """The last word on each thing rated: one rating per (question, arm), one preference per question and pair."""
    kept: dict[tuple, Rating | Preference] = {}
    for entry in entries:
        key = (("rating", entry.question, entry.arm) if isinstance(entry, Rating)
               else ("preference", entry.question, frozenset((entry.better, entry.worse))))
        kept.pop(key, None)
        kept[key] = entry
    return list(kept.values())


def training_questions(questions, seed: int) -> set[str]:
    """Of the rated `questions`, those whose ratings train the fine-tune further (`advisor tune --from-feedback`):
    half of them (the larger half), in the order of a seeded hash of each, the same on every machine; the ratings
    of the others stay held out, as evidence on answers no arm was trained on."""
    ranked = sorted(set(questions), key=lambda q: hashlib.sha256(f"{seed}\0{q}".encode("utf-8")).hexdigest())
    return set(ranked[:(len(ranked) + 1) // 2])


def rated_answers(entries: list[Rating | Preference], answer_of) -> list[tuple[str, str, bool]]:
    """(question, answer, good) for each entry's last word: a rating's answer as rated (or, when it names none,
    `answer_of(arm, question)`), and of a preference the better answer as good and the worse as bad. An answer
    that cannot be found, or two arms' identical answers rated both ways, are left out."""
    labelled: dict[tuple[str, str], set[bool]] = {}
    for entry in latest(entries):
        if isinstance(entry, Rating):
            found = [(entry.answer or answer_of(entry.arm, entry.question), entry.good)]
        else:
            found = [(answer_of(entry.better, entry.question), True), (answer_of(entry.worse, entry.question), False)]
        for answer, good in found:
            if answer and answer.strip():
                labelled.setdefault((entry.question, answer.strip()), set()).add(good)
    return [(question, answer, labels.pop()) for (question, answer), labels in labelled.items() if len(labels) == 1]


def wilson(successes: int, n: int) -> list[float]:
    """The Wilson score 95% interval of a proportion (scipy's): sound at 0 and n successes and for small n, where
    the normal approximation is not."""
    from scipy.stats import binomtest

    if n == 0:
        return [math.nan, math.nan]
    interval = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return [float(interval.low), float(interval.high)]


@dataclass
class FeedbackEvidence(Record):
    """What people said of the answers: per arm the share rated good, and per pair of arms how often one answer
    was preferred; each with its n and a 95% interval."""

    ratings: dict = field(default_factory=dict)  # arm -> {"up", "down", "n", "good_share", "ci95"}
    preferences: dict = field(default_factory=dict)  # "a_over_b" -> {"a", "b", "a_wins", "n", "share", "ci95"}
    entries: int = 0  # lines read, before keeping the last word on each
    skipped: list = field(default_factory=list)  # lines that could not be read

    @property
    def empty(self) -> bool:
        return not self.ratings and not self.preferences

    def preference(self, a: str, b: str) -> dict | None:
        """How often a's answer was preferred to b's (either order of the pair as stored)."""
        if f"{a}_over_{b}" in self.preferences:
            return self.preferences[f"{a}_over_{b}"]
        other = self.preferences.get(f"{b}_over_{a}")
        if other is None:
            return None
        low, high = other["ci95"]
        return {"a": a, "b": b, "a_wins": other["n"] - other["a_wins"], "n": other["n"],
                "share": 1 - other["share"], "ci95": [1 - high, 1 - low]}


def summarize(entries: list[Rating | Preference], arms: list[str],
              skipped: list[str] | None = None) -> FeedbackEvidence:
    """The evidence of `entries` on `arms` (in the report's order); entries naming another arm are left out."""
    kept = latest(entries)
    ratings = {}
    for arm in arms:
        mine = [entry for entry in kept if isinstance(entry, Rating) and entry.arm == arm]
        if mine:
            up = sum(entry.good for entry in mine)
            ratings[arm] = {"up": up, "down": len(mine) - up, "n": len(mine), "good_share": up / len(mine),
                            "ci95": wilson(up, len(mine))}
    preferences = {}
    for i, a in enumerate(arms):
        for b in arms[i + 1:]:
            pair = [entry for entry in kept if isinstance(entry, Preference) and {entry.better, entry.worse} == {a, b}]
            if pair:
                wins = sum(entry.better == a for entry in pair)
                preferences[f"{a}_over_{b}"] = {"a": a, "b": b, "a_wins": wins, "n": len(pair),
                                                "share": wins / len(pair), "ci95": wilson(wins, len(pair))}
    return FeedbackEvidence(ratings, preferences, len(entries), list(skipped or []))
