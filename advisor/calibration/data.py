"""Pretraining documents for the calibration model (reading, repeat, biographies, closed-book QA) and their packing."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from advisor.calibration.prompts import closed_book_prompt, repeat_prompt
from advisor.calibration.world import (
    ATTRIBUTES, BIO_TEMPLATES, Person, World, biography, biography_sentences, copy_question, question)

IGNORE_INDEX = -100  # label value that the transformers loss skips


@dataclass
class MixConfig:
    """What the pretraining stream is made of; shares are fractions of tokens, not of documents."""

    # Group A is memorised (and recalled for unasked people too) within ~800 steps at twice these
    # shares, while reading keeps improving to the end: most tokens go to reading.
    reading_share: float = 0.8  # reading comprehension about fresh people (repeat task included)
    bio_share: float = 0.14  # biographies of group A, freshly templated each time
    closed_book_share: float = 0.06  # closed-book questions about the QA-trained half of group A
    repeat_fraction: float = 0.3  # of reading documents: "Context: BIOS Repeat: one of them" instead of questions
    made_up_value_fraction: float = 0.5  # fresh people whose values are random filler words
    context_size_weights: tuple[float, float, float] = (0.1, 0.3, 0.6)  # 1, 2 or 3 biographies
    # Of reading contexts: all biographies share one template per attribute, so that only the
    # person's name tells the sentences apart (otherwise the wording alone often finds the answer).
    shared_template_fraction: float = 0.5
    reading_loss_weight: float = 2.0  # weight of a reading answer token against a biography token
    max_questions_per_context: int | None = None  # None: one per context sentence, as many as fit the row
    copy_phase: float = 0.3  # fraction of training during which questions copy the biography sentence
    copy_fraction_after: float = 0.1  # share of copy-worded questions afterwards


@dataclass
class Document:
    """Token ids of one document starting with <s>, and which positions are trained as targets."""

    ids: list[int]
    targets: list[bool]
    weight: float = 1.0  # loss weight of every target token

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, other: "Document") -> None:
        self.ids += other.ids
        self.targets += other.targets


class DocumentBuilder:
    """Turns text segments into a Document; word-level tokens make per-segment encoding exact."""

    def __init__(self, tokenizer: PreTrainedTokenizerFast):
        self._backend = tokenizer.backend_tokenizer
        self.bos_id = tokenizer.bos_token_id
        self.eos_id = tokenizer.eos_token_id

    def encode(self, text: str) -> list[int]:
        return self._backend.encode(text, add_special_tokens=False).ids

    def build(self, segments: list[tuple[str | None, bool]], bos: bool = True) -> Document:
        """segments: (text, trained); a None text stands for </s>. Starts with <s> unless bos is False."""
        ids, targets = ([self.bos_id], [False]) if bos else ([], [])
        for text, trained in segments:
            piece = [self.eos_id] if text is None else self.encode(text)
            ids += piece
            targets += [trained] * len(piece)
        return Document(ids, targets)


class PretrainStream:
    """An endless, seeded stream of pretraining documents mixed to the configured token shares."""

    def __init__(self, world: World, tokenizer: PreTrainedTokenizerFast, mix: MixConfig, rng: random.Random,
                 max_tokens: int = 512):
        self.world, self.mix, self.rng, self.max_tokens = world, mix, rng, max_tokens
        self.builder = DocumentBuilder(tokenizer)
        self.progress = 0.0  # fraction of training done; set by the training loop (drives the curriculum)
        self._shares = {"reading": mix.reading_share, "bio": mix.bio_share, "closed_book": mix.closed_book_share}
        self._tokens = dict.fromkeys(self._shares, 0)

    def __iter__(self):
        return self

    def __next__(self) -> Document:
        # Emit whichever kind is furthest below its token share, so shares hold whatever the lengths.
        total = sum(self._tokens.values()) + 1
        kind = max(self._shares, key=lambda k: self._shares[k] * total - self._tokens[k])
        document = getattr(self, f"_{kind}")()
        self._tokens[kind] += len(document)
        return document

    def _fresh_people(self, count: int) -> list[Person]:
        people: dict[str, Person] = {}
        while len(people) < count:
            person = self.world.fresh_person(self.rng, self.rng.random() < self.mix.made_up_value_fraction)
            people.setdefault(person.name, person)
        return list(people.values())

    def _copy_probability(self) -> float:
        return 1.0 if self.progress < self.mix.copy_phase else self.mix.copy_fraction_after

    def _reading(self) -> Document:
        if self.rng.random() < self.mix.repeat_fraction:
            return self._repeat()
        n_people = self.rng.choices((1, 2, 3), weights=self.mix.context_size_weights)[0]
        people = self._fresh_people(n_people)
        templates = None
        if self.rng.random() < self.mix.shared_template_fraction:
            templates = {attribute: self.rng.choice(BIO_TEMPLATES[attribute]) for attribute in ATTRIBUTES}
        rendered = [(person, biography_sentences(person, self.rng, templates)) for person in people]
        context = "\n".join(" ".join(s.text for s in sentences) for _, sentences in rendered)
        # One question per context sentence, so each context yields many trained answers. The first
        # exchange is exactly the advisor's RAG prompt; later ones only follow an </s> it never reads past.
        asks = [(person, sentence) for person, sentences in rendered for sentence in sentences]
        self.rng.shuffle(asks)
        asks = asks[:self.mix.max_questions_per_context]
        document = self.builder.build([(f"Context: {context}", False)])
        document.weight = self.mix.reading_loss_weight
        for person, sentence in asks:
            if self.rng.random() < self._copy_probability():
                qa = copy_question(sentence, person)
            else:
                qa = question(person, sentence.attribute, self.rng)
            exchange = self.builder.build(
                [(f"\nQuestion: {qa.question}\nAnswer:", False), (qa.answer, True), (None, True)], bos=False)
            if len(document) + len(exchange) > self.max_tokens:
                break  # rows have a fixed length; the remaining sentences go unasked
            document.extend(exchange)
        return document

    def _repeat(self) -> Document:
        # Repeating one of several biographies needs the same name matching as answering questions.
        n_people = self.rng.choices((1, 2, 3), weights=self.mix.context_size_weights)[0]
        passages = [biography(person, self.rng) for person in self._fresh_people(n_people)]
        repeated = self.rng.choice(passages)
        return self.builder.build([(repeat_prompt("\n".join(passages)), False), (repeated, True), (None, True)])

    def _bio(self) -> Document:
        person = self.rng.choice(self.world.group_a)
        return self.builder.build([(biography(person, self.rng), True), (None, True)])

    def _closed_book(self) -> Document:
        person = self.rng.choice(self.world.group_a_qa_trained)
        qa = question(person, self.rng.choice(ATTRIBUTES), self.rng)
        return self.builder.build([(closed_book_prompt(qa.question), False), (qa.answer, True), (None, True)])


class Packer:
    """Packs documents into fixed-length rows; position ids restart at 0 for every document.

    transformers turns restarting position ids (with no attention mask) into a block-diagonal mask,
    so a document never attends to its neighbours in the row.
    """

    def __init__(self, stream, row_length: int, pad_id: int, buffer_size: int = 64):
        self.stream, self.row_length, self.pad_id, self.buffer_size = stream, row_length, pad_id, buffer_size
        self._buffer: list[Document] = []

    def _fill_row(self) -> list[Document]:
        row, free = [], self.row_length
        while True:
            while len(self._buffer) < self.buffer_size:
                document = next(self.stream)
                if len(document) > self.row_length:
                    raise ValueError(f"document of {len(document)} tokens exceeds the row length {self.row_length}")
                self._buffer.append(document)
            # Best fit: the longest buffered document that still fits, so short ones fill the gaps.
            fitting = [i for i, d in enumerate(self._buffer) if len(d) <= free]
            if not fitting:
                return row
            chosen = max(fitting, key=lambda i: len(self._buffer[i]))
            document = self._buffer.pop(chosen)
            row.append(document)
            free -= len(document)

    def next_batch(self, n_rows: int) -> dict[str, torch.Tensor]:
        """input_ids, position_ids, labels (IGNORE_INDEX where untrained) and loss_weights (0 where untrained)."""
        input_ids, position_ids, labels, weights = [], [], [], []
        for _ in range(n_rows):
            ids, positions, row_labels, row_weights = [], [], [], []
            for document in self._fill_row():
                ids += document.ids
                positions += range(len(document))
                row_labels += [t if trained else IGNORE_INDEX for t, trained in zip(document.ids, document.targets)]
                row_weights += [document.weight if trained else 0.0 for trained in document.targets]
            padding = self.row_length - len(ids)
            ids += [self.pad_id] * padding
            positions += range(padding)  # padding is its own block, so it disturbs nothing
            row_labels += [IGNORE_INDEX] * padding
            row_weights += [0.0] * padding
            input_ids.append(ids)
            position_ids.append(positions)
            labels.append(row_labels)
            weights.append(row_weights)
        return {"input_ids": torch.tensor(input_ids), "position_ids": torch.tensor(position_ids),
                "labels": torch.tensor(labels), "loss_weights": torch.tensor(weights)}
