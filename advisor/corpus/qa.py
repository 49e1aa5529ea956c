"""Question/answer pairs: the user's --qa file read and checked line by line, and the pair type every stage uses."""

from __future__ import annotations

import json
import re
import string
from dataclasses import asdict, dataclass
from pathlib import Path

from advisor.errors import QAFileError

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def normalize_answer(text: str) -> str:
    """SQuAD-style normalization: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


@dataclass(frozen=True)
class QAPair:
    question: str
    answer: str
    source: str | None = None  # corpus-relative path of the document holding the answer
    split: str | None = None  # "train" or "eval" when the user fixed the split; None: the advisor's seeded split
    passage: str | None = None  # the corpus sentence that holds the answer (probes made from the corpus)
    origin: str | None = None  # how a probe was made: "cloze" or "model" (written by the base model); None: a person

    def to_dict(self) -> dict:
        """The --qa line for this pair: fields left unset are left out."""
        return {key: value for key, value in asdict(self).items() if value is not None}


ORIGINS = {"cloze": "fill-in-the-blank probes made from corpus sentences",
           "model": "questions the base model wrote from corpus sentences"}


def load_qa(path: str | Path) -> list[QAPair]:
    """Parses a JSONL file of {"question", "answer"[, "source"][, "split"]}; any bad line is an error."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise QAFileError(f"question/answer file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise QAFileError(f"{path}: not UTF-8 text", hint="save the file as UTF-8 JSONL") from None
    pairs, first_seen = [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QAFileError(f"{path}, line {number}: not valid JSON ({exc.msg})",
                              hint='each line must be {"question": "...", "answer": "..."}') from None
        if not isinstance(record, dict):
            raise QAFileError(f"{path}, line {number}: expected a JSON object")
        question, answer = record.get("question"), record.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise QAFileError(f"{path}, line {number}: missing or empty \"question\"")
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            answer = str(answer)
        if not isinstance(answer, str) or not answer.strip():
            raise QAFileError(f"{path}, line {number}: missing or empty \"answer\"")
        split = record.get("split")
        if split not in (None, "train", "eval"):
            raise QAFileError(f"{path}, line {number}: \"split\" must be \"train\" or \"eval\", not {split!r}")
        origin = record.get("origin")
        if origin is not None and origin not in ORIGINS:
            raise QAFileError(f"{path}, line {number}: \"origin\" must be one of {', '.join(ORIGINS)}, not {origin!r}")
        text = {key: record[key] if isinstance(record.get(key), str) and record[key] else None
                for key in ("source", "passage")}
        key = " ".join("".join(ch for ch in question.lower() if ch.isalnum() or ch.isspace()).split())
        if key in first_seen:
            raise QAFileError(f"{path}, line {number} repeats the question of line {first_seen[key]}: held out once "
                              "and trained on once, its answer would leak", hint="keep one of the two lines")
        first_seen[key] = number
        pairs.append(QAPair(question.strip(), answer.strip(), text["source"], split, text["passage"], origin))
    if len(pairs) < 2:
        raise QAFileError(f"{path}: {len(pairs)} question/answer pair(s); at least 2 are needed "
                          "(one to train on, one to hold out)")
    return pairs
