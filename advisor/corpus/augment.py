"""Restates the training side's facts in several forms for a knowledge fine-tune, never a held-out one's."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from advisor.corpus.loading import Document
from advisor.corpus.probes import Fact, facts_in, sentences_of
from advisor.corpus.qa import QAPair, normalize_answer

# Worded unlike the held-out probes ("Fill in the blank: ", advisor.corpus.probes.CLOZE_PREFIX), in turn.
CLOZE_TEMPLATES = ("Complete the sentence: {cloze}", "Which word or number is missing here? {cloze}",
                   "Supply the missing part: {cloze}")
CONTINUE_TEMPLATE = "Continue this sentence from the documents: {start}"
REORDERINGS = 2  # each document again, this many times, with its sentences in another seeded order
MIN_WORDS = 4  # a fact's sentence has at least this many words (probes ask for 6: short sentences are facts too)
MAX_RESTATED = 20_000  # forms at most, a seeded sample past it: on a large corpus the budget covers the text first


@dataclass(frozen=True)
class Restated:
    """One fact in one form: a prompt the fine-tune learns to answer, from a training sentence."""

    prompt: str
    answer: str
    form: str  # "cloze" or "continuation"
    sentence: str  # the corpus sentence it restates (never in the prompt as a whole)


@dataclass
class Augmented:
    """The training side restated: question-like pairs and reordered documents, with what was left out."""

    pairs: list[Restated] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # documents with their sentences reordered
    facts: int = 0  # facts restated
    held_out: int = 0  # facts left out because a held-out item asks for them
    capped: int = 0  # forms left out past MAX_RESTATED
    seconds: float = 0.0

    def about(self) -> dict:
        """What the report says of it (the fine-tune's figures add the tokens it took)."""
        forms = dict(Counter(pair.form for pair in self.pairs))
        if self.texts:
            forms["reordered document"] = len(self.texts)
        return {"facts": self.facts, "forms": forms, "held_out_facts_left_out": self.held_out,
                "capped": self.capped, "seconds": round(self.seconds, 2)}


def held_out_keys(held_out: list[QAPair]) -> tuple[set[tuple[str, str]], set[str]]:
    """What no training form may ask: each held-out (sentence, answer) pair that names its sentence (probes made
    from the corpus), and each held-out question's words."""
    facts = {(normalize_answer(p.passage), normalize_answer(p.answer)) for p in held_out if p.passage}
    return facts, {normalize_answer(p.question) for p in held_out}


def restate(fact: Fact, index: int) -> list[Restated]:
    """The fact as a fill-in-the-blank (one of CLOZE_TEMPLATES, in turn) and, when the words before it say
    enough, as the sentence to continue from them."""
    forms = [Restated(CLOZE_TEMPLATES[index % len(CLOZE_TEMPLATES)].format(cloze=fact.blanked()), fact.answer,
                      "cloze", fact.sentence)]
    start = fact.sentence[:fact.start].rstrip()
    if len(start.split()) >= 3:
        forms.append(Restated(CONTINUE_TEMPLATE.format(start=start), fact.sentence[fact.start:], "continuation",
                              fact.sentence))
    return forms


def reordered(document: Document, rng: random.Random) -> list[str]:
    """The document's text with its sentences in REORDERINGS other orders (none for a single sentence)."""
    sentences = sentences_of(document)
    if len(sentences) < 2:
        return []
    texts = []
    for _ in range(REORDERINGS):
        order = sentences[:]
        for _ in range(3):  # a shuffle may give the same order back; a few tries, then as it is
            rng.shuffle(order)
            if order != sentences:
                break
        texts.append(" ".join(order))
    return texts


def augment(documents: list[Document], held_out: list[QAPair], seed: int) -> Augmented:
    """Every fact of the training documents restated (restate) and each document reordered, leaving out every
    form that asks for a held-out probe's fact or repeats a held-out question. A user's held-out question whose
    fact a training sentence states is not left out: that fact is in the corpus to be learned, and the
    question itself is never trained on."""
    started = time.perf_counter()
    rng = random.Random(seed)
    held_facts, held_questions = held_out_keys(held_out)
    out, seen = Augmented(), set()
    for document in documents:
        for fact in facts_in(document, every=True, min_words=MIN_WORDS):
            key = (normalize_answer(fact.sentence), normalize_answer(fact.answer))
            if key in seen:
                continue
            seen.add(key)
            if key in held_facts:
                out.held_out += 1
                continue
            forms = [form for form in restate(fact, out.facts) if normalize_answer(form.prompt) not in held_questions]
            out.pairs += forms
            out.facts += bool(forms)
        out.texts += reordered(document, rng)
    if len(out.pairs) > MAX_RESTATED:
        out.capped = len(out.pairs) - MAX_RESTATED
        keep = sorted(rng.sample(range(len(out.pairs)), MAX_RESTATED))
        out.pairs = [out.pairs[i] for i in keep]
    out.seconds = time.perf_counter() - started
    return out
