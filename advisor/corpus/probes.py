"""Knowledge probes made from the corpus when there is no QA file: fill-in-the-blank, or questions the base model writes."""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import Callable

from advisor.corpus.loading import Document
from advisor.corpus.qa import QAPair, normalize_answer

MIN_PROBES = 30  # fewer than this, and the report says the evaluation set is thin
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+•]|\d+[.)]|#)\s)")
# A fact to blank: a number (with its separators) or a run of capitalized words (a name or term).
_FACT = re.compile(r"\b(\d[\d,.:]*\d|\d|[A-Z][a-z]+(?:['’]s)?(?:[ -][A-Z][a-z]+(?:['’]s)?)*)\b")
# Capitalized words that name no fact: a probe blanking them could be guessed from grammar alone.
_NOT_FACTS = {"i", "the", "a", "an", "this", "that", "these", "those", "it", "its", "we", "you", "he", "she", "they",
              "our", "your", "their", "his", "her", "if", "when", "in", "on", "at", "for", "and", "or", "but", "no",
              "yes", "mr", "mrs", "ms", "dr", "q", "note", "see", "all", "each", "every", "there"}
CLOZE_PREFIX = "Fill in the blank: "


@dataclass(frozen=True)
class Fact:
    """A sentence of the corpus and the fact in it a probe asks for."""

    sentence: str  # white space made single
    answer: str
    start: int  # where the answer is in the sentence
    source: str

    def blanked(self) -> str:
        """The sentence with ___ where the answer was."""
        return f"{self.sentence[:self.start]}___{self.sentence[self.start + len(self.answer):]}"

    def cloze(self) -> str:
        return CLOZE_PREFIX + self.blanked()


def _guessable(answer: str, rest: str) -> bool:
    """True when the answer tells nothing new: a word of grammar, too short, or said elsewhere in the probe."""
    norm = normalize_answer(answer)
    if not norm or norm in _NOT_FACTS or (len(answer) < 2 and not answer.isdigit()):
        return True
    return f" {norm} " in f" {normalize_answer(rest)} "


def _headings_apart(text: str) -> str:
    """A short line without closing punctuation, followed by a capitalized one, is a heading: it ends a
    sentence (HTML and plain text put headings on their own line, with no full stop)."""
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        words, after = line.split(), lines[i + 1].lstrip()
        if 0 < len(words) <= 8 and line.rstrip()[-1:] not in ".,;:!?" and after[:1].isupper():
            lines[i] = line + "\n"
    return "\n".join(lines)


def sentences_of(document: Document) -> list[str]:
    """The document's sentences (headings and list items apart), white space made single."""
    sentences = (" ".join(raw.split()).lstrip("-*+•# ") for raw in _SENTENCE.split(_headings_apart(document.text)))
    return [sentence for sentence in sentences if sentence]


def facts_in(document: Document, *, every: bool = False, min_words: int = 6) -> list[Fact]:
    """One fact per sentence of `min_words` to 40 words: its last number or name that is not the sentence's
    first word and that the rest of the sentence does not give away; with `every`, each such number or name."""
    facts = []
    for sentence in sentences_of(document):
        if not min_words <= len(sentence.split()) <= 40 or "|" in sentence:  # a table row is no sentence
            continue
        for match in reversed([m for m in _FACT.finditer(sentence) if m.start() > 0]):
            rest = sentence[:match.start()] + " " + sentence[match.end():]
            if not _guessable(match.group(0), rest):
                facts.append(Fact(sentence, match.group(0), match.start(), document.source))
                if not every:
                    break
    return facts


def choose_facts(documents: list[Document], n: int, seed: int) -> tuple[list[Fact], dict]:
    """Up to `n` facts spread over the documents (one from each in turn, in a seeded order), no probe twice:
    a repeated passage, or two sentences that differ only in their answer ("line 1" and "line 4" of the same
    traceback), make one probe, since a QA file may not ask one question twice; with counts of what was
    considered."""
    rng = random.Random(seed)
    per_document, seen, repeats = [], set(), 0
    for document in documents:
        facts = []
        for fact in facts_in(document):
            key = normalize_answer(fact.cloze())
            if key in seen:
                repeats += 1
                continue
            seen.add(key)
            facts.append(fact)
        rng.shuffle(facts)
        if facts:
            per_document.append(facts)
    rng.shuffle(per_document)
    chosen, round_ = [], 0
    while len(chosen) < n and any(round_ < len(facts) for facts in per_document):
        chosen += [facts[round_] for facts in per_document if round_ < len(facts)][:n - len(chosen)]
        round_ += 1
    return chosen, {"candidates": sum(len(f) for f in per_document), "repeated_sentences": repeats,
                    "documents": len({fact.source for fact in chosen})}


QuestionWriter = Callable[[list[Fact]], list[str]]  # a question for each fact, written by a model


def usable_question(text: str, fact: Fact) -> str | None:
    """The first question in a model's reply, if it asks something the fact answers without giving it away."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"^(?:question|q)\s*[:.]\s*", "", line, flags=re.IGNORECASE).strip(" \"'")
    if "?" not in line:
        return None
    question = line[:line.index("?") + 1]
    if not 4 <= len(question.split()) <= 40 or _guessable(fact.answer, question):
        return None
    if normalize_answer(question) == normalize_answer(fact.sentence):
        return None
    if not _shares_words(question, fact.sentence):
        return None  # asks about nothing the sentence says ("What is the answer to this question?")
    return question


def _shares_words(text: str, sentence: str) -> bool:
    """`text` says something of what `sentence` says: two of its longer words, at least."""
    sentence_words = {w for w in normalize_answer(sentence).split() if len(w) > 3}
    return len(sentence_words & set(normalize_answer(text).split())) >= 2


def usable_paraphrase(text: str, fact: Fact) -> str | None:
    """The first line of a model's reply, if it restates the fact's sentence in other words: the same answer in it,
    about the same things (two of the sentence's longer words), of a sentence's length, and not the sentence
    again, alone or quoted."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"^(?:paraphrase|rewritten|sentence)\s*[:.]\s*", "", line, flags=re.IGNORECASE).strip(" \"'")
    if not 4 <= len(line.split()) <= 60 or f" {normalize_answer(fact.answer)} " not in f" {normalize_answer(line)} ":
        return None
    if normalize_answer(fact.sentence) in normalize_answer(line) or not _shares_words(line, fact.sentence):
        return None  # the sentence again, or quoted ('I wrote: "..."'), or about other things
    return line


def make_probes(documents: list[Document], n: int, seed: int, *,
                write_questions: QuestionWriter | None = None) -> tuple[list, dict]:
    """(QAPairs, how they were made). Fill-in-the-blank probes by default; with `write_questions`, the
    model's questions where they pass the checks, fill-in-the-blank for the rest. Every probe names its
    source document and the sentence (passage) that holds its answer."""

    facts, about = choose_facts(documents, n, seed)
    written: list[str | None] = [None] * len(facts)
    if write_questions and facts:
        start = time.perf_counter()
        written = [usable_question(text, fact) for text, fact in zip(write_questions(facts), facts)]
        about["model_seconds"] = round(time.perf_counter() - start, 1)
        about["model_questions_kept"] = sum(q is not None for q in written)
    probes = [QAPair(question or fact.cloze(), fact.answer, fact.source, "eval", fact.sentence,
                     "model" if question else "cloze")
              for fact, question in zip(facts, written)]
    return probes, {**about, "probes": len(probes)}


NO_CHAT_TEMPLATE = ("--model-written-questions: the base model has no chat template, so it cannot be asked to write "
                    "questions; fill-in-the-blank probes were made instead.")


def _chat_writer(model, tokenizer, instruction: str, ask, max_new_tokens: int):
    """A writer (facts -> replies): `model`'s greedy replies to `ask(fact)` under `instruction`, eight at a time;
    None when the model has no chat template (it is not instruction-tuned)."""
    from rag.generation import generate_batch
    from rag.prompting import chat_prompt

    if not getattr(tokenizer, "chat_template", None):
        return None

    def write(facts):
        prompts = [chat_prompt(tokenizer, instruction, ask(fact)) for fact in facts]
        return [g.text for first in range(0, len(prompts), 8)
                for g in generate_batch(model, tokenizer, prompts[first:first + 8], max_new_tokens)]

    return write


def question_writer(model, tokenizer):
    """A QuestionWriter that asks `model` for a quiz question on each fact's sentence."""
    return _chat_writer(model, tokenizer, "You write one short quiz question about a sentence. Reply with the "
                        "question only.", lambda fact: f"Sentence: {fact.sentence}\nWrite a question whose answer "
                                                       f"is: {fact.answer}", 40)


def paraphrase_writer(model, tokenizer):
    """A writer that asks `model` to restate each fact's sentence in other words (see usable_paraphrase)."""
    return _chat_writer(model, tokenizer, "You rewrite a sentence in other words, keeping every fact in it. Reply "
                        "with the sentence only.", lambda fact: f"Sentence: {fact.sentence}", 60)
