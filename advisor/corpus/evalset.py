"""The evaluation set: the user's QA pairs split by seed, else probes made from the corpus, and held-out documents."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

from advisor.corpus.loading import Document
from advisor.corpus.qa import QAPair
from advisor.errors import QAFileError


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
    # Held-out pairs this run does not measure (cut by --max-minutes, or their answers rated and trained on): no
    # arm is scored on them, and they stay out of every training all the same.
    set_aside: list[QAPair] = field(default_factory=list)

    @property
    def held_out_pairs(self) -> list[QAPair]:
        """Every held-out pair, measured or set aside: what no training may see."""
        return self.pairs + self.set_aside

    @property
    def n(self) -> int:
        """Held-out items of the primary kind: questions, or documents when there are none."""
        return len(self.pairs) if self.pairs else len(self.documents)

    def fingerprint(self) -> str:
        """Identifies the held-out items: two runs with the same one scored the same items."""
        from advisor.cache import documents_fingerprint, fingerprint

        return fingerprint(self.kind, [p.to_dict() for p in self.pairs], documents_fingerprint(self.documents))

    def without_questions(self, questions: set[str]) -> "EvalSet":
        """The same set, the held-out pairs asking one of `questions` set aside (their answers were trained on)."""
        return self.measuring([p for p in self.pairs if p.question not in questions])

    def measuring(self, pairs: list[QAPair]) -> "EvalSet":
        """The same set measuring only `pairs` (some of its own); the others are set aside."""
        kept = {id(p) for p in pairs}
        return replace(self, pairs=pairs, set_aside=self.set_aside + [p for p in self.pairs if id(p) not in kept])

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
