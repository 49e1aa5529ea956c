"""The evaluation set: the user's QA pairs split by seed, else probes made from the corpus, and held-out documents."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from advisor.corpus.loading import Document
from advisor.errors import QAFileError


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


def split_pairs(pairs: list[QAPair], eval_fraction: float, seed: int,
                max_eval: int) -> tuple[list[QAPair], list[QAPair]]:
    """Returns (train, eval): the user's own split where every pair names one (all "eval": an evaluation
    set, as `advisor evalset` writes, with nothing to train on but the corpus), else a fixed, seeded split
    with at least one pair on each side."""
    if pairs and all(p.split for p in pairs):
        train = [p for p in pairs if p.split == "train"]
        held = [p for p in pairs if p.split == "eval"]
        if not held:
            raise QAFileError("the QA file's \"split\" fields name no \"eval\" pair: nothing would be held out")
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


@dataclass
class EvalSet:
    """The held-out items every arm is measured on, and the training side nothing held out is in."""

    kind: str  # "qa" (the user's pairs), "cloze" (probes from the corpus) or "documents" (style only)
    pairs: list[QAPair]  # held-out questions (qa, cloze)
    documents: list[Document]  # held-out documents, scored for style (goal style or both)
    train_documents: list[Document]
    train_pairs: list[QAPair]
    warnings: list[str]
    about: dict = field(default_factory=dict)  # how the held-out questions were made (probes), for the report

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
                "documents": [d.source for d in self.documents], "train_pairs": len(self.train_pairs),
                "about": self.about}


def _probes(documents: list[Document], seed: int, max_eval: int, write_questions) -> EvalSet:
    from advisor.corpus.probes import MIN_PROBES, make_probes

    probes, about = make_probes(documents, max_eval, seed, write_questions=write_questions)
    warnings = []
    if not probes:
        warnings.append("No QA file and no sentence in the corpus made a probe: no quality can be measured; "
                        "pass --qa.")
    elif len(probes) < min(MIN_PROBES, max_eval):
        warnings.append(f"Only {len(probes)} probe(s) could be made from the corpus (fewer than {MIN_PROBES}): "
                        "the scores are rough; pass --qa with more questions.")
    if write_questions and probes and not about.get("model_questions_kept"):
        warnings.append("--model-written-questions: none of the base model's questions passed the checks (a "
                        "question that the sentence answers and that does not give the answer away); "
                        "fill-in-the-blank probes were used instead.")
    return EvalSet("probes", probes, [], list(documents), [], warnings, about)


def build_eval_set(documents: list[Document], pairs: list[QAPair] | None, goal: str, *, eval_fraction: float,
                   seed: int, max_eval: int, write_questions=None) -> EvalSet:
    """The user's QA pairs split by seed; without them, probes made from the corpus (knowledge) or whole
    held-out documents (style). Probes test facts the training side holds, in wording it does not hold;
    `write_questions` (advisor.corpus.probes.QuestionWriter) has the base model write their questions."""
    if goal == "both":  # style documents held out first, from those no held-out question cites
        knowledge = build_eval_set(documents, pairs, "knowledge", eval_fraction=eval_fraction, seed=seed,
                                   max_eval=max_eval) if pairs else None
        cited = {p.source for p in knowledge.pairs} if knowledge else set()
        _, held_docs = split_documents([d for d in documents if d.source not in cited], eval_fraction, seed,
                                       max_eval)
        held_ids = {d.id for d in held_docs}
        train_docs = [d for d in documents if d.id not in held_ids]
        if knowledge is None:  # probes only from what stays on the training side
            knowledge = _probes(train_docs, seed, max_eval, write_questions)
        warnings = knowledge.warnings + ([] if held_docs else [
            "No document could be held out for the style half of goal 'both' (each is cited by a held-out "
            "question, or there is only one): only knowledge is measured; add documents."])
        if pairs and held_docs and not all(p.source for p in knowledge.pairs):
            warnings.append("Some held-out questions name no source document: the documents held out for "
                            "style may hold their answers, which then no arm can learn or retrieve.")
        return EvalSet(knowledge.kind, knowledge.pairs, held_docs, train_docs, knowledge.train_pairs, warnings,
                       knowledge.about)
    if pairs:
        train, held = split_pairs(pairs, eval_fraction, seed, max_eval)
        return EvalSet("qa", held, [], list(documents), train, [], {"origins": dict(Counter(
            p.origin or "person" for p in held))})
    if goal == "knowledge":
        return _probes(documents, seed, max_eval, write_questions)
    train_docs, held_docs = split_documents(documents, eval_fraction, seed, max_eval)
    warnings = [] if held_docs else [
        "A single document cannot be both trained on and held out: no quality can be measured; add documents."]
    return EvalSet("documents", [], held_docs, train_docs, [], warnings)
