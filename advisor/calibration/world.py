"""The calibration world: fictional people with known facts, their biographies, questions and task files."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_WORLD_SEED = 0

ATTRIBUTES = ("birth_city", "birth_year", "university", "field", "employer")

# One sentence per attribute in every biography; "{value}" is always a single word.
BIO_TEMPLATES: dict[str, tuple[str, ...]] = {
    "birth_city": (
        "{name} was born in {value}.",
        "{name} came into the world in the city of {value}.",
        "The birthplace of {name} is {value}.",
        "{name} is a native of {value}.",
        "{name} spent early childhood in {value}.",
    ),
    "birth_year": (
        "{name} was born in the year {value}.",
        "The birth year of {name} is {value}.",
        "{name} arrived on this earth in {value}.",
        "{name} first drew breath in {value}.",
        "{name} came along in {value}.",
    ),
    "university": (
        "{name} studied at {value} University.",
        "{name} graduated from {value} University.",
        "{name} earned a diploma from {value} University.",
        "The alma mater of {name} is {value} University.",
        "{name} was a student at {value} University.",
    ),
    "field": (
        "{name} specialized in {value}.",
        "{name} majored in {value}.",
        "The field of study of {name} was {value}.",
        "{name} devoted years of study to {value}.",
        "{name} holds a degree in {value}.",
    ),
    "employer": (
        "{name} works for {value}.",
        "{name} is employed by {value}.",
        "The employer of {name} is {value}.",
        "{name} earns a living at {value}.",
        "{name} draws a salary from {value}.",
    ),
}

# Worded unlike every biography sentence, so answering needs more than string matching.
QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "birth_city": (
        "What city is {name} from?",
        "Where did {name} first see the light of day?",
        "Which town is the hometown of {name}?",
        "Where is {name} originally from?",
    ),
    "birth_year": (
        "In what year was {name} born?",
        "When was {name} born?",
        "What is the year of birth of {name}?",
        "Which year saw the birth of {name}?",
    ),
    "university": (
        "Which university did {name} attend?",
        "Where did {name} go to college?",
        "At which school did {name} get an education?",
        "Which institution educated {name}?",
    ),
    "field": (
        "What did {name} study?",
        "What subject did {name} major in?",
        "Which discipline did {name} pursue?",
        "What academic area is {name} trained in?",
    ),
    "employer": (
        "Which company does {name} work for?",
        "Who employs {name}?",
        "Where is {name} on the payroll?",
        "What organization pays {name}?",
    ),
}

FIELDS_OF_STUDY = (
    "geology", "botany", "chemistry", "physics", "astronomy", "zoology", "linguistics", "economics",
    "philosophy", "history", "mathematics", "sociology", "anthropology", "architecture", "medicine",
    "law", "music", "painting", "sculpture", "literature", "psychology", "statistics", "engineering",
    "ecology", "genetics", "oceanography", "meteorology", "archaeology", "theology", "poetry",
)
BIRTH_YEARS = tuple(str(year) for year in range(1950, 1990))

# The style task's answer format, and a pattern that accepts it in decoded model output
# (a word-level tokenizer decodes with a space between tokens; the lower-casing tokenizer changes case).
# Its words are ones the base model has read (the prompt's "answer", the biographies' "the", "is",
# "."), as a real model knows the words of a house style and only lacks the habit.
STYLE_PREFIX = "the answer is"
STYLE_SUFFIX = "."
STYLE_FORMAT_REGEX = r"(?i)^the\s+answer\s+is\s+(?P<value>[^.\s][^.]*?)\s*\.$"
# Tokens of the shipped tokenizer that no pretraining text contains (an earlier style format). Their
# embeddings were never trained and ended up identical, so no LoRA on the linear layers can make the
# model write one rather than another; kept so that the pretraining command still reproduces the
# shipped tokenizer and the world's invented words.
UNSEEN_WORDS = "~~ verily , ~~"

# Words the model must know beyond the world's facts: the advisor's prompt format and the repeat task.
PROMPT_WORDS = ("Context:", "Question:", "Answer:", "Repeat:", "what?")

_ONSETS = ("b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r",
           "s", "st", "t", "th", "tr", "v", "z", "qu", "sh", "ch", "j", "w")
# Plain vowels and empty codas are listed twice so that most invented words stay short and readable.
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea")
_CODAS = ("", "", "", "n", "r", "l", "s", "th", "k", "m", "x", "nd", "rn")
_MAX_WORD_LENGTH = 9


@dataclass
class Person:
    """A fictional person: a unique full name and one value per attribute."""

    first: str
    last: str
    facts: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def slug(self) -> str:
        return f"{self.first}_{self.last}".lower()


@dataclass(frozen=True)
class Sentence:
    """One biography sentence, with the attribute and template it renders."""

    attribute: str
    template: str
    text: str


@dataclass(frozen=True)
class QA:
    """A question about one attribute of one person, with its bare answer."""

    question: str
    answer: str
    attribute: str


@dataclass
class WorldConfig:
    """Sizes of the generated world."""

    n_first_names: int = 260
    n_last_names: int = 260
    n_cities: int = 32
    n_universities: int = 32
    n_employers: int = 32
    n_filler_words: int = 500  # made-up values for reading examples that nothing can memorise
    n_group_a: int = 100
    n_group_b: int = 60


@dataclass
class World:
    """Everything generated from one seed: name pools, value lists and the two groups of people."""

    seed: int
    first_names: list[str]
    last_names: list[str]
    values: dict[str, list[str]]
    filler_words: list[str]
    group_a: list[Person]  # learned in pretraining
    group_b: list[Person]  # never seen in pretraining: the "new knowledge" domain
    bio_templates: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(BIO_TEMPLATES))
    question_templates: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(QUESTION_TEMPLATES))

    @property
    def group_a_qa_trained(self) -> list[Person]:
        """First half of group A: pretraining also shows closed-book questions about them."""
        return self.group_a[: len(self.group_a) // 2]

    @property
    def group_a_qa_heldout(self) -> list[Person]:
        """Second half of group A: only their biographies are pretrained, never a question about them."""
        return self.group_a[len(self.group_a) // 2:]

    def known_names(self) -> set[str]:
        return {person.name for person in self.group_a + self.group_b}

    def fresh_person(self, rng: random.Random, made_up_values: bool = False) -> Person:
        """A person outside groups A and B; with made_up_values, every value is a random filler word."""
        known = self.known_names()
        while True:
            first, last = rng.choice(self.first_names), rng.choice(self.last_names)
            if f"{first} {last}" not in known:
                break
        if made_up_values:
            facts = {attribute: rng.choice(self.filler_words) for attribute in ATTRIBUTES}
        else:
            facts = {attribute: rng.choice(self.values[attribute]) for attribute in ATTRIBUTES}
        return Person(first, last, facts)

    def vocabulary_texts(self) -> list[str]:
        """Every word the world can produce, as short texts for training a word-level tokenizer."""
        texts = [" ".join(self.first_names), " ".join(self.last_names), " ".join(self.filler_words)]
        texts += [" ".join(values) for values in self.values.values()]
        for templates in list(self.bio_templates.values()) + list(self.question_templates.values()):
            texts += [template.format(name="", value="") for template in templates]
        texts.append(" ".join(PROMPT_WORDS))
        texts.append(UNSEEN_WORDS)
        return texts


def _template_words() -> set[str]:
    """Lower-cased English words of the templates, which invented words must not collide with."""
    words: set[str] = set(FIELDS_OF_STUDY)
    for templates in list(BIO_TEMPLATES.values()) + list(QUESTION_TEMPLATES.values()):
        for template in templates:
            words.update(re.findall(r"[a-z]+", template.lower()))
    words.update(re.findall(r"[a-z]+", " ".join(PROMPT_WORDS + (UNSEEN_WORDS,)).lower()))
    return words


def _invent_words(rng: random.Random, count: int, syllables: tuple[int, int], taken: set[str]) -> list[str]:
    """Capitalised pronounceable words, unique against `taken` (which is updated)."""
    words = []
    while len(words) < count:
        n_syllables = rng.randint(*syllables)
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(n_syllables))
        if not 4 <= len(word) <= _MAX_WORD_LENGTH or word in taken:
            continue
        taken.add(word)
        words.append(word.capitalize())
    return words


def _draw_people(rng: random.Random, world_values: dict[str, list[str]], first_names: list[str],
                 last_names: list[str], count: int, taken_names: set[str]) -> list[Person]:
    people = []
    while len(people) < count:
        first, last = rng.choice(first_names), rng.choice(last_names)
        if f"{first} {last}" in taken_names:
            continue
        taken_names.add(f"{first} {last}")
        people.append(Person(first, last, {a: rng.choice(world_values[a]) for a in ATTRIBUTES}))
    return people


def build_world(seed: int = DEFAULT_WORLD_SEED, config: WorldConfig | None = None) -> World:
    """Generates the whole world deterministically from `seed`."""
    config = config or WorldConfig()
    rng = random.Random(seed)
    taken = _template_words()
    first_names = _invent_words(rng, config.n_first_names, (2, 2), taken)
    last_names = _invent_words(rng, config.n_last_names, (2, 3), taken)
    values = {
        "birth_city": _invent_words(rng, config.n_cities, (2, 3), taken),
        "birth_year": list(BIRTH_YEARS),
        "university": _invent_words(rng, config.n_universities, (2, 3), taken),
        "field": list(FIELDS_OF_STUDY),
        "employer": _invent_words(rng, config.n_employers, (2, 3), taken),
    }
    filler_words = _invent_words(rng, config.n_filler_words, (2, 3), taken)
    taken_names: set[str] = set()
    group_a = _draw_people(rng, values, first_names, last_names, config.n_group_a, taken_names)
    group_b = _draw_people(rng, values, first_names, last_names, config.n_group_b, taken_names)
    return World(seed, first_names, last_names, values, filler_words, group_a, group_b)


def render(template: str, person: Person, attribute: str) -> str:
    return template.format(name=person.name, value=person.facts[attribute])


def biography_sentences(person: Person, rng: random.Random,
                        templates: dict[str, str] | None = None) -> list[Sentence]:
    """One sentence per attribute, random templates (unless given) in random order."""
    sentences = []
    for attribute in ATTRIBUTES:
        template = templates[attribute] if templates else rng.choice(BIO_TEMPLATES[attribute])
        sentences.append(Sentence(attribute, template, render(template, person, attribute)))
    rng.shuffle(sentences)
    return sentences


def biography(person: Person, rng: random.Random) -> str:
    """A one-paragraph biography: one sentence per attribute."""
    return " ".join(sentence.text for sentence in biography_sentences(person, rng))


def paraphrases(person: Person, n: int, rng: random.Random) -> list[str]:
    """n biographies of one person; consecutive ones use a different template for every attribute."""
    offsets = {attribute: rng.randrange(len(BIO_TEMPLATES[attribute])) for attribute in ATTRIBUTES}
    renderings = []
    for index in range(n):
        templates = {attribute: BIO_TEMPLATES[attribute][(offsets[attribute] + index) % len(BIO_TEMPLATES[attribute])]
                     for attribute in ATTRIBUTES}
        renderings.append(" ".join(s.text for s in biography_sentences(person, rng, templates)))
    return renderings


def question(person: Person, attribute: str, rng: random.Random) -> QA:
    template = rng.choice(QUESTION_TEMPLATES[attribute])
    return QA(template.format(name=person.name), person.facts[attribute], attribute)


def questions(person: Person, rng: random.Random) -> list[QA]:
    """One question per attribute, each with a random question template."""
    return [question(person, attribute, rng) for attribute in ATTRIBUTES]


def copy_question(sentence: Sentence, person: Person) -> QA:
    """The biography sentence itself with the value replaced by "what": a find-and-copy question."""
    text = sentence.template.replace("{value}", "what").rstrip(".") + "?"
    return QA(text.format(name=person.name), person.facts[sentence.attribute], sentence.attribute)


def style_answer(value: str) -> str:
    """The style task's fixed answer format around a bare value."""
    return f"{STYLE_PREFIX} {value} {STYLE_SUFFIX}"


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def _task_folders(out_dir: str | Path) -> tuple[Path, Path]:
    """(the task's folder, its corpus/ folder, made)."""
    out_dir = Path(out_dir)
    (out_dir / "corpus").mkdir(parents=True, exist_ok=True)
    return out_dir, out_dir / "corpus"


def _write_biography(corpus: Path, person: Person, rng: random.Random) -> str:
    """One biography as corpus/<slug>.txt; returns that source name."""
    source = f"{person.slug}.txt"
    (corpus / source).write_text(biography(person, rng) + "\n", encoding="utf-8")
    return source


# How the knowledge task's corpus states each person's facts: one biography (a .txt file per person), or
# COPIES biographies per person as separate documents (a .jsonl file per person): the same one repeated,
# or paraphrases with different templates. Same facts, same questions: only the wording varies.
KNOWLEDGE_CORPORA = ("one", "repeated", "paraphrased")
COPIES = 5


def write_knowledge_task(world: World, out_dir: str | Path, corpus_kind: str = "one",
                         people: list[Person] | None = None, label: str = "knowledge") -> Path:
    """Writes corpus/ (one file per person, see KNOWLEDGE_CORPORA; by default group B, whom the base model
    never saw) and qa.jsonl; returns out_dir. `label` seeds the wording.

    qa.jsonl is the same for every corpus kind, so runs on different kinds answer the same questions.
    """
    if corpus_kind not in KNOWLEDGE_CORPORA:
        raise ValueError(f"corpus_kind must be one of {KNOWLEDGE_CORPORA}, not {corpus_kind!r}")
    out_dir, corpus = _task_folders(out_dir)
    text_rng = random.Random(f"{label}-{world.seed}")
    question_rng = random.Random(f"{label}-questions-{world.seed}")
    records = []
    for person in world.group_b if people is None else people:
        if corpus_kind == "one":
            source = _write_biography(corpus, person, text_rng)
        else:
            source = f"{person.slug}.jsonl"
            texts = paraphrases(person, COPIES, text_rng) if corpus_kind == "paraphrased" \
                else [biography(person, text_rng)] * COPIES
            _write_jsonl(corpus / source, [{"text": text} for text in texts])
        records += [{"question": qa.question, "answer": qa.answer, "source": source}
                    for qa in questions(person, question_rng)]
    _write_jsonl(out_dir / "qa.jsonl", records)
    return out_dir


def write_style_task(world: World, out_dir: str | Path, n_train: int = 300, n_eval: int = 60,
                     exchanges_per_document: int = 6) -> Path:
    """Writes corpus/style_NNN.txt of exchanges answered in the style format, and qa.jsonl.

    qa.jsonl holds the same training exchanges (split "train", what the fine-tune learns from) and the
    held-out questions (split "eval"). All exchanges are about group A, whose facts the base model
    knows, so only the format is new.
    Held-out questions are (person, attribute) pairs absent from the training exchanges, taken from
    the half of group A the base model was trained to answer, so its base accuracy is high.
    """
    out_dir, corpus = _task_folders(out_dir)
    rng = random.Random(f"style-{world.seed}")
    known_pairs = [(person, attribute) for person in world.group_a_qa_trained for attribute in ATTRIBUTES]
    other_pairs = [(person, attribute) for person in world.group_a_qa_heldout for attribute in ATTRIBUTES]
    rng.shuffle(known_pairs)
    eval_pairs = known_pairs[:n_eval]
    train_pool = known_pairs[n_eval:] + other_pairs
    if n_eval > len(known_pairs) or n_train > len(train_pool):
        raise ValueError(f"group A has too few (person, attribute) pairs for n_train={n_train}, n_eval={n_eval}")
    train_pairs = rng.sample(train_pool, n_train)
    records = []
    for person, attribute in train_pairs:
        qa = question(person, attribute, rng)
        records.append({"question": qa.question, "answer": style_answer(qa.answer), "split": "train"})
    for index in range(0, len(records), exchanges_per_document):
        text = "\n\n".join(f"Question: {r['question']}\nAnswer: {r['answer']}"
                           for r in records[index:index + exchanges_per_document]) + "\n"
        (corpus / f"style_{index // exchanges_per_document:03d}.txt").write_text(text, encoding="utf-8")
    for person, attribute in eval_pairs:
        qa = question(person, attribute, rng)
        records.append({"question": qa.question, "answer": style_answer(qa.answer), "split": "eval"})
    _write_jsonl(out_dir / "qa.jsonl", records)
    return out_dir


def write_known_task(world: World, out_dir: str | Path) -> Path:
    """The knowledge task's files, for the group-A people the base model was never asked about in pretraining:
    it learned their facts from biographies alone and answers them closed-book. Nothing here is new to the
    base model: neither retrieval nor a fine-tune has anything to add."""
    return write_knowledge_task(world, out_dir, "one", people=world.group_a_qa_heldout, label="known")


FITS_PEOPLE = 3  # no more biographies than the passages RAG retrieves (its default top-k)


def write_fits_task(world: World, out_dir: str | Path, n_people: int = FITS_PEOPLE) -> Path:
    """Writes corpus/ (the biographies of a few group-B people, one file each) and qa.jsonl asking every
    question template about every one of their facts, all held out ("split": "eval": nothing but the
    corpus is trained on). The corpus is no larger than what RAG retrieves, so the whole of it in the
    prompt gives the model what retrieval gives it, with no index to build or keep."""
    out_dir, corpus = _task_folders(out_dir)
    text_rng = random.Random(f"fits-{world.seed}")
    records = []
    for person in world.group_b[:n_people]:
        source = _write_biography(corpus, person, text_rng)
        records += [{"question": template.format(name=person.name), "answer": person.facts[attribute],
                     "source": source, "split": "eval"}
                    for attribute in ATTRIBUTES for template in QUESTION_TEMPLATES[attribute]]
    _write_jsonl(out_dir / "qa.jsonl", records)
    return out_dir


def write_both_task(world: World, out_dir: str | Path, n_people: int = 20, n_exchanges: int = 200,
                    exchanges_per_document: int = 1) -> Path:
    """Writes corpus/ with new facts and a new answer format, and qa.jsonl: held-out questions about the new
    facts whose answers are in the new format ("split": "eval"), and training pairs ("split": "train").

    The corpus holds one biography per group-B person (facts the base model does not know) and documents of
    worked exchanges: a question about the biography given as context, answered in the style format (people
    drawn afresh, as in the pretraining's reading exercises); as many other exchanges are training pairs
    whose passage is their biography, trained with it in the prompt as retrieval gives it. Retrieval brings
    the facts but not the format, a fine-tune learns the format but hardly the facts (each seen once), and
    the fine-tune answering with retrieved passages both. No question cites an exchange document, so goal
    'both' holds some of them out to measure the style on its own."""
    out_dir, corpus = _task_folders(out_dir)
    text_rng = random.Random(f"both-{world.seed}")
    question_rng = random.Random(f"both-questions-{world.seed}")
    records = []
    for person in world.group_b[:n_people]:
        source = _write_biography(corpus, person, text_rng)
        records += [{"question": qa.question, "answer": style_answer(qa.answer), "source": source, "split": "eval"}
                    for qa in questions(person, question_rng)]
    exchanges, pairs, asked = [], 0, {r["question"] for r in records}
    while pairs < n_exchanges:  # documents first, then as many training pairs
        person = world.fresh_person(text_rng)
        qa = question(person, text_rng.choice(ATTRIBUTES), text_rng)
        if qa.question in asked:  # a QA file may not ask one question twice
            continue
        asked.add(qa.question)
        passage = biography(person, text_rng)
        if len(exchanges) < n_exchanges:
            exchanges.append(f"Context: {passage}\nQuestion: {qa.question}\nAnswer: {style_answer(qa.answer)}")
        else:  # trained with its passage in the prompt, as the fine-tune with RAG answers
            records.append({"question": qa.question, "answer": style_answer(qa.answer), "passage": passage,
                            "split": "train"})
            pairs += 1
    for index in range(0, len(exchanges), exchanges_per_document):
        text = "\n\n".join(exchanges[index:index + exchanges_per_document]) + "\n"
        (corpus / f"style_{index // exchanges_per_document:03d}.txt").write_text(text, encoding="utf-8")
    _write_jsonl(out_dir / "qa.jsonl", records)
    return out_dir
