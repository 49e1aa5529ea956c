"""How long a run will take, stage by stage: its inputs' sizes times the models' speed, probed on this machine."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from advisor.corpus.profile import CorpusProfile
from advisor.measure.whole_corpus import WholeCorpusFit
from advisor.records import Record

# The share of max_new_tokens an answer uses on average (it stops at its end token): SmolLM2's answers on the
# bundled sample mostly run to the limit (benchmarks/whole_run.py reports how close the estimates came).
ANSWER_LENGTH_SHARE = 0.9
# What a LoRA optimizer step costs beyond its forward and backward passes (the Trainer's bookkeeping, the
# adapters' update, a checkpoint every few steps): 0.13 s a step for a 2-layer test model on 2 cores, where
# the passes themselves take a few milliseconds.
STEP_OVERHEAD_SECONDS = 0.1
# Training on several processes (--processes) starts them first, each importing the Trainer and loading the model:
# 10 to 18 s for two on 2 cores with the tiny test model.
PROCESSES_START_SECONDS = 15.0
PROBE_TRAIN_TOKENS = 64
PROBE_TOKENS = (32, 256)
PROBE_NEW_TOKENS = 8


@dataclass(frozen=True)
class Speed:
    """The models' speed on this machine, from a few seconds of probing."""

    forward_seconds: float  # one forward pass, whatever its length (the fixed cost of a call)
    token_seconds: float  # each prompt token of a forward pass
    new_token_seconds: float  # each generated token
    batch_share: float  # a batched answer's time over an answer alone
    embed_seconds: float  # one passage or question embedded
    train_token_seconds: float = 0.0  # each token of a training batch: forward and backward
    probe_seconds: float = 0.0

    def prompt(self, tokens: float) -> float:
        return self.forward_seconds + tokens * self.token_seconds

    def answer(self, prompt_tokens: float, new_tokens: float, context: float = 0.0) -> float:
        """One greedy answer; `context` tokens already cached add to each new token's attention."""
        return self.prompt(prompt_tokens) + new_tokens * (self.new_token_seconds
                                                          + 0.5 * context * self.token_seconds / 64)

    def in_batch(self, prompt_tokens: float, new_tokens: float = 0.0) -> float:
        """One row of a batched call: the call's fixed cost and each generated token are shared with the other
        rows (batch_share), the prompt's tokens are not (they are compute, row by row)."""
        return prompt_tokens * self.token_seconds + (self.forward_seconds
                                                     + new_tokens * self.new_token_seconds) * self.batch_share


def _timed(work, repeat: int = 2) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def probe_speed(model, tokenizer, embedder=None) -> Speed:
    """Times a short and a long forward pass, a short answer alone and in a batch of 4, a training batch's
    forward and backward pass, and 8 embeddings."""
    import torch

    started = time.perf_counter()
    device = next(model.parameters()).device
    vocabulary = max(2, min(len(tokenizer), getattr(model.config, "vocab_size", len(tokenizer))) - 1)
    generator = torch.Generator().manual_seed(0)

    def ids(length, rows=1):
        return torch.randint(1, vocabulary, (rows, length), generator=generator).to(device)

    def forward(length):
        with torch.no_grad():
            model(input_ids=ids(length), logits_to_keep=1)

    forward(8)  # warm-up
    short, long = (_timed(lambda n=n: forward(n)) for n in PROBE_TOKENS)
    token = max(0.0, (long - short) / (PROBE_TOKENS[1] - PROBE_TOKENS[0]))
    fixed = max(0.0, short - PROBE_TOKENS[0] * token)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def answers(rows):
        prompt = ids(PROBE_TOKENS[0], rows)
        with torch.no_grad():
            model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                           max_new_tokens=PROBE_NEW_TOKENS, min_new_tokens=PROBE_NEW_TOKENS, pad_token_id=pad)

    alone = _timed(lambda: answers(1))  # the first generate() call pays for its set-up
    batched = _timed(lambda: answers(4), repeat=1) / 4
    new_token = max(0.0, (alone - short) / PROBE_NEW_TOKENS)
    train_token = _train_token_seconds(model, ids(PROBE_TRAIN_TOKENS, 4))
    embed = 0.0
    if embedder is not None:
        texts = [" ".join(["word"] * 100)] * 8
        embedder.encode(texts[:1])
        embed = _timed(lambda: embedder.encode(texts), repeat=1) / len(texts)
    return Speed(fixed, token, new_token, min(1.0, batched / alone) if alone else 1.0, embed, train_token,
                 time.perf_counter() - started)


def _train_token_seconds(model, batch) -> float:
    """A training batch's forward and backward pass per token, with gradients for the activations only (as a
    LoRA step computes them: the base weights are frozen), and no weight changed."""
    import torch

    embeddings = model.get_input_embeddings()
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for parameter, _ in frozen:
            parameter.requires_grad_(False)

        def step():
            inputs = embeddings(batch).detach().requires_grad_(True)
            with torch.enable_grad():
                model(inputs_embeds=inputs, labels=batch).loss.backward()

        seconds = _timed(step, repeat=1)
    finally:
        for parameter, wanted in frozen:
            parameter.requires_grad_(wanted)
    return seconds / batch.numel()


@dataclass(frozen=True)
class ArmPlan:
    """What one arm will answer: its prompt's length, and with retrieval, a question to embed each time."""

    name: str
    prompt_tokens: float
    retrieval: bool = False
    cached_prefix: int = 0  # tokens of a prompt prefix computed once (the whole corpus)


@dataclass
class Estimate(Record):
    """Expected seconds per stage (keys of advisor.api.STAGES) and in all, and what they rest on; the report's
    evaluation keeps it beside the actual times."""

    stages: dict[str, float] = field(default_factory=dict)
    speed: dict = field(default_factory=dict)
    basis: str = ""
    already: float = 0.0  # seconds the stages before the estimate took
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.already + sum(self.stages.values())

    def text(self) -> str:
        """'about 7 min: answers 4, fine-tune 3' (in the total's unit; stages under half a minute are not
        named)."""
        answers = sum(s for name, s in self.stages.items()
                      if name not in ("index", "embeddings", "train", "feedback", "report", "reference"))
        parts = [("index", self.stages.get("index", 0.0)), ("tuned embeddings", self.stages.get("embeddings", 0.0)),
                 ("answers", answers), ("fine-tune", self.stages.get("train", 0.0)),
                 ("training on ratings", self.stages.get("feedback", 0.0))]
        total = _minutes(self.total)
        if total.endswith(" s"):
            return f"about {total}"
        named = ", ".join(f"{label} {_minutes(seconds, unit=False)}" for label, seconds in parts if seconds >= 30)
        return f"about {total}" + (f": {named}" if named else "")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "total": self.total, "text": self.text()}

    @classmethod
    def from_dict(cls, data: "dict | Estimate | None") -> "Estimate":
        if isinstance(data, dict):  # the total and the text are worked out, not read
            data = {key: value for key, value in data.items() if key not in ("total", "text")}
        return super().from_dict(data)


def _rate(seconds_each: float, what: str) -> str:
    return f"{1 / seconds_each:,.0f} {what}/s" if seconds_each > 0 else f"{what} too fast to time"


def _minutes(seconds: float, unit: bool = True) -> str:
    """'40 s', '2.5 min', '12 min'; without `unit`, minutes as a bare number ('0.5', '3')."""
    if seconds < 90 and unit:
        return f"{max(1, round(seconds / 10) * 10):.0f} s"
    text = f"{seconds / 60:.0f}" if seconds >= 600 else f"{seconds / 60:.1f}".removesuffix(".0")
    return f"{text} min" if unit else text


def estimate_stages(speed: Speed, *, arms: list[ArmPlan], questions: int, documents: int, max_new_tokens: int,
                    chunks: int, train_seconds: float, reference_tokens: int, timed: int,
                    style_prompt_tokens: float = 64.0, embedding_seconds: float = 0.0,
                    feedback_seconds: float = 0.0) -> dict[str, float]:
    """Seconds per stage. Each arm answers `timed` questions alone and the rest in batches, and scores each
    reference answer with one more forward pass of its tokens on its answer's cache; held-out `documents`
    (style) are continued to max_new_tokens alone and scored. Retrieval embeds each question; a cached prefix
    is computed once."""
    answer_tokens = ANSWER_LENGTH_SHARE * max_new_tokens
    stages = {"index": chunks * speed.embed_seconds, **({"embeddings": embedding_seconds} if embedding_seconds else {})}
    for arm in arms:
        alone = speed.answer(arm.prompt_tokens, answer_tokens, arm.cached_prefix)
        singles = min(questions, timed) + (1 if questions else 0)  # and a warm-up
        rest = max(0, questions - timed)
        if arm.cached_prefix:  # answered and scored one at a time, from the prefix's cache
            seconds = (singles + rest) * alone + questions * speed.prompt(answer_tokens)
        else:
            seconds = singles * alone + rest * speed.in_batch(arm.prompt_tokens, answer_tokens)
            seconds += min(questions, timed) * speed.prompt(answer_tokens) + rest * speed.in_batch(answer_tokens)
        if arm.retrieval:
            seconds += (questions + documents) * speed.embed_seconds
        if arm.cached_prefix:
            seconds += speed.prompt(arm.cached_prefix)
        if documents:
            seconds += (documents + 1) * speed.answer(style_prompt_tokens + arm.prompt_tokens, max_new_tokens)
            seconds += documents * speed.prompt(style_prompt_tokens * 4)
        stages[arm.name] = seconds
    stages["train"] = train_seconds
    if feedback_seconds:  # training on people's ratings
        stages["feedback"] = feedback_seconds
    stages["reference"] = 2 * (speed.prompt(reference_tokens) if reference_tokens else 0.0)
    return stages


# A contrastive step on a (query, passage) pair costs about this many embeddings of a passage: the passage's and
# the query's forward and backward passes and the update (5.2 s a step of 32 pairs against 0.021 s an embedding,
# all-MiniLM-L6-v2 on the ferry sample, 2 cores).
EMBEDDING_STEP_PER_PAIR = 8.0
TOKENS_PER_PAIR = 8  # the ferry sample's training side: 755 question/passage pairs from about 5,600 tokens


def embedding_seconds(speed: Speed, *, train_tokens: float, chunks: int, budget_seconds: float, epochs: float,
                      most_pairs: int, checked: int) -> float:
    """Tuning the embedding model: its training within its budget, re-embedding every chunk, and retrieving
    `checked` training-side questions before and after."""
    pairs = min(most_pairs, train_tokens / TOKENS_PER_PAIR)
    training = min(budget_seconds, epochs * pairs * EMBEDDING_STEP_PER_PAIR * speed.embed_seconds)
    return training + (chunks + 2 * checked) * speed.embed_seconds


def train_seconds(speed: Speed, *, steps: int, batch_size: int, tokens_per_example: float,
                  budget_seconds: float, processes: int = 1) -> float:
    """The fine-tune's expected time: its data plan's steps at the probed speed, within its time budget. On several
    processes, their start comes first; each step is still counted at one process's speed (where they share a
    CPU's cores, it hardly changes; on GPUs it is an upper bound)."""
    per_step = STEP_OVERHEAD_SECONDS + batch_size * tokens_per_example * speed.train_token_seconds
    return min(budget_seconds, steps * per_step + (PROCESSES_START_SECONDS if processes > 1 else 0.0))


# A KTO step costs about this many LoRA steps on the same batch: the policy's forward and backward passes, plus
# forward passes of the reference and of the mismatched answers its KL term is estimated from.
KTO_STEP_IN_LORA_STEPS = 2.0


def feedback_seconds(speed: Speed, *, examples: int, tokens_per_example: float, budget_seconds: float) -> float:
    """Training on people's ratings: KTO's passes over the rated answers at the probed speed, within its budget."""
    from finetune.feedback import BATCH, EPOCHS

    steps = math.ceil(examples / BATCH) * EPOCHS
    lora = train_seconds(speed, steps=math.ceil(steps), batch_size=BATCH, tokens_per_example=tokens_per_example,
                         budget_seconds=math.inf)
    return min(budget_seconds, lora * KTO_STEP_IN_LORA_STEPS)


def rated_lines(path: str | None) -> int:
    """How many rated answers a --feedback-ratings file holds (its non-empty lines; 0 without one)."""
    from pathlib import Path

    try:
        return sum(1 for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()) if path else 0
    except OSError:
        return 0


@dataclass
class RunPlan:
    """What a run will do after its estimate: the held-out set (cut to fit --max-minutes), the whole-corpus
    decision, the fine-tune's time budget, and the Estimate itself."""

    evalset: object
    whole: WholeCorpusFit
    train_budget_seconds: float
    estimate: Estimate
    cuts: dict = field(default_factory=dict)  # {"questions", "train_budget_seconds", "skip_whole", "skip_tuning"}
    tune_embeddings: bool = False  # the tuned-embeddings stage is to run (--tune-embeddings, less --max-minutes's cut)


LEAST_QUESTIONS = 20  # --max-minutes never cuts the held-out set below this: fewer say little
# --max-minutes plans the run to this share of its limit: estimates of whole runs have come out up to 16% short
# (benchmarks/results/whole_run-cpu.json), and a limit is a promise.
MAX_MINUTES_MARGIN = 0.85


def most_that_fit(seconds_for, limit: float, *, least: int, most: int) -> int:
    """The largest n in [least, most] with seconds_for(n) within `limit` (seconds_for grows with n); `least`
    when none fits."""
    low, high = least, most
    while low < high:
        middle = (low + high + 1) // 2
        if seconds_for(middle) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def plan_run(cfg, evalset, models, profile: CorpusProfile, whole: WholeCorpusFit, reference: list[str], *, already: float,
             speed: Speed | None = None, cuts: dict | None = None) -> RunPlan:
    """The estimate for `cfg` on these inputs and, with cfg.max_minutes, the cuts that make it fit; `cuts`
    (an earlier plan's, for a resumed run) are made again as they were, whatever this machine's speed now."""
    import random

    from advisor.measure.arms import ARM_KINDS, arm_names
    from advisor.measure.evaluate import LATENCY_SAMPLE
    from finetune.train import wanted_steps
    from rag.prompting import build_prompt, encode_prompt
    from finetune.embedding_tuning import CHECKED_PAIRS, EPOCHS, MAX_PAIRS
    from rag.splitting import chunk_size_for

    speed = speed or probe_speed(models.base, models.tokenizer, models.embedder)
    tokenizer = models.tokenizer
    question = next((pair.question for pair in evalset.pairs), "What is it?")
    question_tokens = len(encode_prompt(tokenizer, build_prompt(tokenizer, question)))
    chunk = chunk_size_for(models.embedder, cfg.chunk_size)
    corpus_tokens = float(profile.tokens or 0)
    documents = max(1, profile.documents or len(evalset.train_documents) + len(evalset.documents))
    train_tokens = corpus_tokens * len(evalset.train_documents) / documents
    examples = math.ceil(train_tokens / cfg.max_seq_len) + len(evalset.train_pairs)
    steps = wanted_steps(cfg.lora_settings(), max(1, examples))
    per_example = min(cfg.max_seq_len, (train_tokens + 2 * question_tokens * len(evalset.train_pairs)) / max(1, examples))
    reference_tokens = sum(len(tokenizer(p)["input_ids"]) for p in reference)
    # A chat model restating the training facts before the knowledge fine-tune: its budget (a first batch that
    # fails the checks ends it at once).
    paraphrasing = cfg.paraphrase_minutes * 60 if (
        cfg.augment and cfg.goal == "knowledge" and cfg.augment_model != "none"
        and (cfg.augment_model or getattr(tokenizer, "chat_template", None))) else 0.0
    budget = cfg.budget_minutes * 60
    notes: list[str] = []
    rated = rated_lines(cfg.feedback_ratings)  # read once: --max-minutes tries many plans

    def stages_for(pairs: int, fits: bool, budget_seconds: float, tune: bool) -> dict[str, float]:
        arms = []
        for name in arm_names(cfg.measures_finetune_rag(), fits, tune, cfg.feedback_ratings is not None):
            kind = ARM_KINDS[name]
            tokens = question_tokens + (cfg.top_k * chunk if kind.retrieval else 0)
            arms.append(ArmPlan(name, tokens, kind.retrieval, whole.prompt_tokens if kind.whole_corpus else 0))
        chunks = math.ceil(train_tokens / max(1, chunk - min(cfg.chunk_overlap, chunk // 2)))
        tuning = embedding_seconds(speed, train_tokens=train_tokens, chunks=chunks,
                                   budget_seconds=cfg.embedding_budget_minutes * 60, epochs=EPOCHS,
                                   most_pairs=MAX_PAIRS, checked=CHECKED_PAIRS) if tune else 0.0
        return estimate_stages(speed, arms=arms, questions=pairs, documents=len(evalset.documents),
                               max_new_tokens=cfg.max_new_tokens, chunks=chunks, embedding_seconds=tuning,
                               train_seconds=train_seconds(speed, steps=steps, batch_size=cfg.batch_size,
                                                           tokens_per_example=per_example,
                                                           budget_seconds=budget_seconds,
                                                           processes=cfg.processes) + paraphrasing,
                               reference_tokens=reference_tokens, timed=LATENCY_SAMPLE,
                               feedback_seconds=feedback_seconds(
                                   speed, examples=rated,
                                   tokens_per_example=question_tokens + ANSWER_LENGTH_SHARE * cfg.max_new_tokens,
                                   budget_seconds=cfg.feedback_budget_minutes * 60))

    pairs, fits, tune = len(evalset.pairs), whole.fits, cfg.may_tune_embeddings()
    limit = cfg.max_minutes * 60 * MAX_MINUTES_MARGIN if cfg.max_minutes else None
    if cuts is None:
        cuts = {"questions": pairs, "train_budget_seconds": budget, "skip_whole": False, "skip_tuning": False}
        if limit is not None:
            cuts = _cuts_to_fit(lambda n, f, b, t: already + sum(stages_for(n, f, b, t).values()), limit, pairs,
                                fits, budget, tune, optional_tuning=cfg.tune_embeddings == "auto")
    keep, skip_whole = min(pairs, cuts["questions"]), fits and cuts["skip_whole"]
    if tune and cuts.get("skip_tuning"):
        tune = False
        notes.append(f"--max-minutes {cfg.max_minutes:g}: the embeddings are not tuned (--tune-embeddings auto), "
                     "so that the run fits")
    if keep < pairs:
        chosen = sorted(random.Random(f"max-minutes-{cfg.seed}").sample(range(pairs), keep))
        evalset = evalset.measuring([evalset.pairs[i] for i in chosen])
        notes.append(f"--max-minutes {cfg.max_minutes:g}: every arm answers the same {keep} of the {pairs} "
                     f"held-out questions (a seeded sample), so that the run fits; the intervals are wider for it")
        pairs = keep
    if cuts["train_budget_seconds"] < budget:
        budget = cuts["train_budget_seconds"]
        notes.append(f"--max-minutes {cfg.max_minutes:g}: the fine-tune's budget is {budget / 60:.1f} "
                     f"minutes instead of {cfg.budget_minutes:g}, so that the run fits")
    if skip_whole:
        reason = (f"skipped: answering with the whole corpus in the prompt ({whole.prompt_tokens:,} tokens) "
                  f"would take about {_minutes(stages_for(pairs, True, budget, tune)['full_context'])}, more than "
                  f"--max-minutes {cfg.max_minutes:g} leaves")
        whole, fits = whole.skip(reason), False
        notes.append(f"The whole-corpus arm was {reason}.")
    stages = stages_for(pairs, fits, budget, tune)
    if limit is not None and already + sum(stages.values()) > limit:
        notes.append(f"--max-minutes {cfg.max_minutes:g}: even cut to {pairs} questions and a "
                     f"{budget / 60:.1f}-minute fine-tune, the run is expected to take about "
                     f"{_minutes(already + sum(stages.values()))}")
    basis = (f"{pairs} questions, {len(evalset.documents)} held-out documents, {corpus_tokens:,.0f} corpus tokens, "
             f"a fine-tune of {steps} steps within {budget / 60:.1f} min, at the speed probed here "
             f"({_rate(speed.new_token_seconds, 'new tokens')} alone, {_rate(speed.token_seconds, 'prompt tokens')})")
    estimate = Estimate(stages, asdict(speed), basis, already, notes)
    return RunPlan(evalset, whole, budget, estimate, cuts, tune_embeddings=tune)


def _cuts_to_fit(seconds_for, limit: float, pairs: int, fits: bool, budget: float, tune: bool, *,
                 optional_tuning: bool) -> dict:
    """What --max-minutes cuts, in this order until the run fits: the tuned embeddings when only --tune-embeddings
    auto asked for them, held-out questions (down to LEAST_QUESTIONS), the fine-tune's budget (down to 30 s),
    then the whole-corpus arm. `seconds_for(questions, fits, budget, tune)`."""
    skip_tuning = tune and optional_tuning and seconds_for(pairs, fits, budget, tune) > limit
    tune = tune and not skip_tuning
    keep = pairs
    if seconds_for(pairs, fits, budget, tune) > limit and pairs:
        keep = most_that_fit(lambda n: seconds_for(n, fits, budget, tune), limit, least=min(LEAST_QUESTIONS, pairs),
                             most=pairs)
    total = seconds_for(keep, fits, budget, tune)
    if total > limit:
        without_training = seconds_for(keep, fits, 0.0, tune)
        budget = min(budget, max(30.0, limit - without_training))
    skip = fits and seconds_for(keep, fits, budget, tune) > limit
    return {"questions": keep, "train_budget_seconds": budget, "skip_whole": skip, "skip_tuning": skip_tuning}
