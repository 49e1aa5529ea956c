"""Restates the training side's facts in several forms for a knowledge fine-tune, never a held-out one's."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from advisor.corpus.loading import Document
from advisor.corpus.probes import Fact, facts_in, sentences_of, usable_paraphrase
from advisor.corpus.qa import QAPair, normalize_answer

# Worded unlike the held-out probes ("Fill in the blank: ", advisor.corpus.probes.CLOZE_PREFIX), in turn.
CLOZE_TEMPLATES = ("Complete the sentence: {cloze}", "Which word or number is missing here? {cloze}",
                   "Supply the missing part: {cloze}")
CONTINUE_TEMPLATE = "Continue this sentence from the documents: {start}"
REORDERINGS = 2  # each document again, this many times, with its sentences in another seeded order
MIN_WORDS = 4  # a fact's sentence has at least this many words (probes ask for 6: short sentences are facts too)
MAX_RESTATED = 20_000  # forms at most, a seeded sample past it: on a large corpus the budget covers the text first
PARAPHRASE_BATCH = 8  # facts a model is asked to restate at once
USABLE_SHARE = 0.25  # of the first batch's paraphrases, at least this share must pass the checks, or none is asked more


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
    paraphrases: dict = field(default_factory=dict)  # the model's, as written_paraphrases made them (see there)

    def about(self) -> dict:
        """What the report says of it (the fine-tune's figures add the tokens it took)."""
        forms = dict(Counter(pair.form for pair in self.pairs))
        kept = len(self.paraphrases.get("kept", {}))
        if len(self.texts) > kept:
            forms["reordered document"] = len(self.texts) - kept
        if kept:
            forms["model paraphrase"] = kept
        about = {"facts": self.facts, "forms": forms, "held_out_facts_left_out": self.held_out,
                 "capped": self.capped, "seconds": round(self.seconds, 2)}
        if self.paraphrases:
            about["paraphrases"] = {key: value for key, value in self.paraphrases.items() if key != "kept"}
        return about


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


def training_facts(documents: list[Document], held_out: list[QAPair]) -> tuple[list[Fact], int]:
    """Every fact of the training documents once, but those a held-out probe asks for; and how many were left out.
    (A sentence holding a held-out fact may hold others, asked for here; paraphrasable_facts leaves it whole.)"""
    held_facts, _ = held_out_keys(held_out)
    facts, seen, left_out = [], set(), 0
    for document in documents:
        for fact in facts_in(document, every=True, min_words=MIN_WORDS):
            key = (normalize_answer(fact.sentence), normalize_answer(fact.answer))
            if key in seen:
                continue
            seen.add(key)
            if key in held_facts:
                left_out += 1
            else:
                facts.append(fact)
    return facts, left_out


def paraphrasable_facts(facts: list[Fact], held_out: list[QAPair]) -> list[Fact]:
    """The facts whose sentence holds no held-out probe's fact: a paraphrase restates the whole sentence."""
    held_facts, _ = held_out_keys(held_out)
    held_sentences = {sentence for sentence, _ in held_facts}
    return [fact for fact in facts if normalize_answer(fact.sentence) not in held_sentences]


def written_paraphrases(facts: list[Fact], write, budget_seconds: float, seed: int) -> dict:
    """A model's restatements of (a seeded order of) `facts`' sentences, PARAPHRASE_BATCH at a time while
    `budget_seconds` lasts, each kept only if usable_paraphrase passes it: {"kept": {sentence: paraphrase},
    "asked", "seconds", "stopped"} ("stopped" says why it ended early: the first batch's paraphrases were not
    usable, or the budget). `write(facts)` returns a reply for each fact."""
    started = time.perf_counter()
    order = sorted({fact.sentence: fact for fact in facts}.values(), key=lambda fact: fact.sentence)
    random.Random(f"paraphrase-{seed}").shuffle(order)
    kept, asked, stopped, slowest = {}, 0, "", 0.0
    for first in range(0, len(order), PARAPHRASE_BATCH):
        spent = time.perf_counter() - started
        if spent + slowest > budget_seconds:
            stopped = f"its {budget_seconds / 60:.3g}-minute budget ended"
            break
        batch = order[first:first + PARAPHRASE_BATCH]
        begun = time.perf_counter()
        replies = write(batch)
        slowest = max(slowest, time.perf_counter() - begun)
        usable = {fact.sentence: text for fact, reply in zip(batch, replies)
                  if (text := usable_paraphrase(reply, fact))}
        asked += len(batch)
        kept.update(usable)
        if first == 0 and len(usable) < USABLE_SHARE * len(batch):
            stopped = (f"the model's first {len(batch)} paraphrases were not usable, {len(usable)} passing the "
                       "checks, so it was asked no more")
            kept = {}
            break
    return {"kept": kept, "asked": asked, "seconds": round(time.perf_counter() - started, 1), "stopped": stopped}


def augment(documents: list[Document], held_out: list[QAPair], seed: int, *,
            paraphrases: dict | None = None) -> Augmented:
    """Every fact of the training documents restated (restate) and each document reordered, leaving out every
    form that asks for a held-out probe's fact or repeats a held-out question; with `paraphrases`
    (written_paraphrases', over the same facts), each kept one as a text of its own. A user's held-out question
    whose fact a training sentence states is not left out: that fact is in the corpus to be learned, and the
    question itself is never trained on."""
    started = time.perf_counter()
    rng = random.Random(seed)
    _, held_questions = held_out_keys(held_out)
    out = Augmented()
    facts, out.held_out = training_facts(documents, held_out)
    for fact in facts:
        forms = [form for form in restate(fact, out.facts) if normalize_answer(form.prompt) not in held_questions]
        out.pairs += forms
        out.facts += bool(forms)
    for document in documents:
        out.texts += reordered(document, rng)
    if paraphrases:
        allowed = {fact.sentence for fact in paraphrasable_facts(facts, held_out)}  # nothing held out restated
        kept = {sentence: text for sentence, text in paraphrases.get("kept", {}).items() if sentence in allowed}
        out.paraphrases = {**paraphrases, "kept": kept}
        out.texts += list(kept.values())
    if len(out.pairs) > MAX_RESTATED:
        out.capped = len(out.pairs) - MAX_RESTATED
        keep = sorted(rng.sample(range(len(out.pairs)), MAX_RESTATED))
        out.pairs = [out.pairs[i] for i in keep]
    out.seconds = time.perf_counter() - started
    return out
