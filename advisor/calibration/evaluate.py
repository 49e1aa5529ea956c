"""Measurements of the calibration model: reading with gold context and closed-book recall."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from advisor.calibration.prompts import closed_book_prompt, context_prompt
from advisor.calibration.world import ATTRIBUTES, Person, World, biography, question
from advisor.measure.metrics import normalize_answer


@dataclass(frozen=True)
class EvalItem:
    """A prompt in the advisor's format and the reference answer."""

    prompt: str
    answer: str


def reading_items(world: World, n_people: int, rng: random.Random, k: int = 3) -> list[EvalItem]:
    """One question per unseen person, asked over k biographies: theirs at a random position plus k-1 others."""
    items = []
    for _ in range(n_people):
        people: dict[str, Person] = {}
        while len(people) < k:
            person = world.fresh_person(rng)
            people.setdefault(person.name, person)
        gold, *distractors = people.values()
        passages = [biography(person, rng) for person in distractors]
        passages.insert(rng.randrange(k), biography(gold, rng))
        qa = question(gold, rng.choice(ATTRIBUTES), rng)
        items.append(EvalItem(context_prompt(passages, qa.question), qa.answer))
    return items


def closed_book_items(people: list[Person], rng: random.Random) -> list[EvalItem]:
    """Every attribute of every person, asked with no context."""
    items = []
    for person in people:
        for attribute in ATTRIBUTES:
            qa = question(person, attribute, rng)
            items.append(EvalItem(closed_book_prompt(qa.question), qa.answer))
    return items


@torch.inference_mode()
def generate_answers(model, tokenizer, prompts: list[str], max_new_tokens: int = 16,
                     batch_size: int = 50) -> list[str]:
    """Greedy answers, decoded without special tokens and stripped, as the advisor does."""
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # left padding keeps every prompt's last token at the end of the batch
    try:
        answers = []
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True)
            output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                    eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            new_tokens = output[:, batch["input_ids"].shape[1]:]
            answers += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
        return answers
    finally:
        tokenizer.padding_side = padding_side


def accuracy(model, tokenizer, items: list[EvalItem]) -> float:
    """Fraction of exact matches after normalisation."""
    if not items:
        return float("nan")
    answers = generate_answers(model, tokenizer, [item.prompt for item in items])
    hits = sum(normalize_answer(a) == normalize_answer(item.answer) for a, item in zip(answers, items))
    return hits / len(items)
