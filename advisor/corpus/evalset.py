"""The evaluation set: QA pairs from the user's file (or held-out documents), split by seed."""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from advisor.corpus.loading import Document
from advisor.errors import QAFileError


@dataclass(frozen=True)
class QAPair:
    question: str
    answer: str
    source: str | None = None  # corpus-relative path of the document holding the answer
    split: str | None = None  # "train" or "eval" when the user fixed the split; None: the advisor's seeded split

    def to_dict(self) -> dict:
        return asdict(self)


def load_qa(path: str | Path) -> list[QAPair]:
    """Parses a JSONL file of {"question", "answer"[, "source"][, "split"]}; any bad line is an error."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise QAFileError(f"question/answer file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise QAFileError(f"{path}: not UTF-8 text", hint="save the file as UTF-8 JSONL") from None
    pairs = []
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
        source = record.get("source")
        split = record.get("split")
        if split not in (None, "train", "eval"):
            raise QAFileError(f"{path}, line {number}: \"split\" must be \"train\" or \"eval\", not {split!r}")
        pairs.append(QAPair(question.strip(), answer.strip(),
                            source if isinstance(source, str) and source else None, split))
    if len(pairs) < 2:
        raise QAFileError(f"{path}: {len(pairs)} question/answer pair(s); at least 2 are needed "
                          "(one to train on, one to hold out)")
    return pairs


def split_pairs(pairs: list[QAPair], eval_fraction: float, seed: int,
                max_eval: int) -> tuple[list[QAPair], list[QAPair]]:
    """Returns (train, eval): the user's own split where every pair names one, else a fixed, seeded
    split with at least one pair on each side."""
    if pairs and all(p.split for p in pairs):
        train = [p for p in pairs if p.split == "train"]
        held = [p for p in pairs if p.split == "eval"]
        if not train or not held:
            raise QAFileError("the QA file's \"split\" fields must name at least one \"train\" and one \"eval\" pair")
        return train, held[:max_eval]
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_eval = min(max_eval, max(1, min(len(pairs) - 1, round(len(pairs) * eval_fraction))))
    held = set(order[:n_eval])
    return ([p for i, p in enumerate(pairs) if i not in held],
            [p for i, p in enumerate(pairs) if i in held])


def split_documents(documents: list[Document], eval_fraction: float, seed: int,
                    max_eval: int) -> tuple[list[Document], list[Document]]:
    """For style without a QA file: whole documents are held out and scored by perplexity."""
    if len(documents) < 2:
        return list(documents), []
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    # Style needs most documents for training; hold out a fifth at most.
    n_eval = min(max_eval, max(1, min(len(documents) - 1, round(len(documents) * min(eval_fraction, 0.2)))))
    held = set(order[:n_eval])
    return ([d for i, d in enumerate(documents) if i not in held],
            [d for i, d in enumerate(documents) if i in held])


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ANSWERABLE = re.compile(r"\b(\d[\d,.:]*\d|\d|[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*)\b")


def make_cloze_probes(documents: list[Document], n: int, seed: int) -> list[QAPair]:
    """Fill-in-the-blank questions from corpus sentences, for knowledge runs without a QA file.

    The blank is the last number or capitalized name in a sentence (never its first word), so the
    probe asks for a fact the document states.
    """
    candidates = []
    for doc in documents:
        for sentence in _SENTENCE.split(" ".join(doc.text.split())):
            if not 6 <= len(sentence.split()) <= 40:
                continue
            matches = [m for m in _ANSWERABLE.finditer(sentence) if m.start() > 0]
            if matches:
                m = matches[-1]
                question = f"Fill in the blank: {sentence[:m.start()]}___{sentence[m.end():]}"
                candidates.append(QAPair(question, m.group(0), doc.source))
    random.Random(seed).shuffle(candidates)
    return candidates[:n]


@dataclass
class EvalSet:
    """The held-out items every arm is measured on, and the training side nothing held out is in."""

    kind: str  # "qa" (the user's pairs), "cloze" (probes from the corpus) or "documents" (style only)
    pairs: list[QAPair]  # held-out questions (qa, cloze)
    documents: list[Document]  # held-out documents, scored for style (goal style or both)
    train_documents: list[Document]
    train_pairs: list[QAPair]
    warnings: list[str]

    @property
    def n(self) -> int:
        """Held-out items of the primary kind: questions, or documents when there are none."""
        return len(self.pairs) if self.pairs else len(self.documents)

    def fingerprint(self) -> str:
        """Identifies the held-out items: two runs with the same one scored the same items."""
        from advisor.cache import documents_fingerprint, fingerprint

        return fingerprint(self.kind, [p.to_dict() for p in self.pairs], documents_fingerprint(self.documents))

    def to_dict(self) -> dict:
        """What eval_set.json holds."""
        return {"kind": self.kind, "pairs": [p.to_dict() for p in self.pairs],
                "documents": [d.source for d in self.documents], "train_pairs": len(self.train_pairs)}


def build_eval_set(documents: list[Document], pairs: list[QAPair] | None, goal: str, *, eval_fraction: float,
                   seed: int, max_eval: int) -> EvalSet:
    """The user's QA pairs split by seed; without them, cloze probes (knowledge) or whole held-out
    documents (style). Cloze probes test facts the training side holds, in wording it does not."""
    if goal == "both":  # style documents held out first, from those no held-out question cites
        knowledge = build_eval_set(documents, pairs, "knowledge", eval_fraction=eval_fraction, seed=seed,
                                   max_eval=max_eval)
        cited = {p.source for p in knowledge.pairs} if pairs else set()  # probes are made after, below
        _, held_docs = split_documents([d for d in documents if d.source not in cited], eval_fraction, seed,
                                          max_eval)
        held_ids = {d.id for d in held_docs}
        train_docs = [d for d in documents if d.id not in held_ids]
        warnings = knowledge.warnings + ([] if held_docs else [
            "No document could be held out for the style half of goal 'both' (each is cited by a held-out "
            "question, or there is only one): only knowledge is measured; add documents."])
        if pairs and held_docs and not all(p.source for p in knowledge.pairs):
            warnings.append("Some held-out questions name no source document: the documents held out for "
                            "style may hold their answers, which then no arm can learn or retrieve.")
        if not pairs:  # probes only from what stays on the training side
            knowledge = build_eval_set(train_docs, None, "knowledge", eval_fraction=eval_fraction, seed=seed,
                                       max_eval=max_eval)
        return EvalSet(knowledge.kind, knowledge.pairs, held_docs, train_docs, knowledge.train_pairs, warnings)
    if pairs:
        train, held = split_pairs(pairs, eval_fraction, seed, max_eval)
        return EvalSet("qa", held, [], list(documents), train, [])
    if goal == "knowledge":
        probes = make_cloze_probes(documents, max_eval, seed)
        warnings = [] if probes else [
            "No QA file and no sentence in the corpus made a fill-in-the-blank probe: no quality can be "
            "measured; pass --qa."]
        return EvalSet("cloze", probes, [], list(documents), [], warnings)
    train_docs, held_docs = split_documents(documents, eval_fraction, seed, max_eval)
    warnings = [] if held_docs else [
        "A single document cannot be both trained on and held out: no quality can be measured; add documents."]
    return EvalSet("documents", [], held_docs, train_docs, [], warnings)
