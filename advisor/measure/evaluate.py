"""Runs one arm over the held-out set and keeps every per-item score, answer and timing."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields, replace

from advisor.measure.metrics import AnswerContainment, ExactMatch, FormatMatch, TokenF1, TokenRecall, first_line


@dataclass
class ArmRun:
    """Raw measurements of one arm; the report summarizes them."""

    name: str
    scores: dict[str, list[float]] = field(default_factory=dict)  # metric name -> per-item values
    latencies: list[float] = field(default_factory=list)  # seconds per answer, end to end
    parts: dict[str, list[float]] = field(default_factory=dict)  # e.g. embed, retrieve, generate
    prompt_tokens: list[int] = field(default_factory=list)
    new_tokens: list[int] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)  # question, reference, answer (for the report)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "ArmRun":
        """Back from its cached form; fields that earlier versions kept and this one does not are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def means(self) -> dict[str, float]:
        """Each metric's mean over the items: a first look before the report's intervals."""
        return {metric: sum(values) / len(values) for metric, values in self.scores.items() if values}

    def add(self, metric: str, value: float) -> None:
        self.scores.setdefault(metric, []).append(value)

    def add_part(self, part: str, seconds: float) -> None:
        self.parts.setdefault(part, []).append(seconds)


@dataclass
class AnswerBook:
    """The run's answers and reference likelihoods so far, by the model's key and the prompt: an arm that asks a
    model a prompt another arm already asked it (tuned embeddings that retrieve the same passages as the plain
    ones, in the same order) takes that greedy answer and its reference's likelihood instead of computing them
    again (the same model on the same prompt gives them again), with the answer's measured time."""

    answers: dict[tuple[str, str], object] = field(default_factory=dict)  # (model, prompt) -> Generation
    likelihoods: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (model, prompt, reference)

    def answer(self, model: str, prompt: str):
        """The Generation kept for `prompt` (its reused_from names the arm that generated it), or None."""
        return self.answers.get((model, prompt))

    def keep(self, model: str, prompt: str, generation, arm: str) -> None:
        """`generation`, which `arm` gave (or took from an earlier arm), without its key/value cache."""
        self.answers[(model, prompt)] = replace(generation, kept=None, reused_from=generation.reused_from or arm)

    def add(self, other: "AnswerBook") -> None:
        self.answers.update(other.answers)
        self.likelihoods.update(other.likelihoods)


def qa_metrics(format_regex: str | None = None) -> list:
    metrics = [AnswerContainment(), ExactMatch(), TokenF1(), TokenRecall()]
    if format_regex:
        metrics.append(FormatMatch(format_regex))
    return metrics


# Answers timed one at a time per arm (latency and cost come from them); the rest are answered in
# batches, which give the same greedy answers several times faster (benchmarks/answering.py).
LATENCY_SAMPLE = 10
ANSWER_BATCH = 8


def _score_answer(run: ArmRun, pair, generation, prompt, hits, metrics, loglik: float) -> None:
    text = first_line(generation.text)
    for metric in metrics:
        run.add(metric.name, metric.score(text, pair.answer))
    if not math.isnan(loglik):
        run.add("answer_logprob", loglik)
    if hits is not None and pair.source:
        sources = [h.source for h in hits]
        rank = next((i + 1 for i, s in enumerate(sources) if s == pair.source), None)
        run.add("retrieval_hit_rate", float(rank is not None))
        run.add("retrieval_mrr", 1.0 / rank if rank else 0.0)
    run.prompt_tokens.append(generation.prompt_tokens)
    run.new_tokens.append(generation.new_tokens)
    run.samples.append({"question": pair.question, "reference": pair.answer, "answer": text,
                        **({"retrieved": [h.source for h in hits]} if hits is not None else {}),
                        **({"reused_from": generation.reused_from} if generation.reused else {})})


def evaluate_qa_arm(name: str, pairs, answer, likelihood, metrics, *, on_item=None, answer_batch=None,
                    likelihood_batch=None, timed: int | None = None, batch_size: int = ANSWER_BATCH) -> ArmRun:
    """`answer(question)` -> (Generation, prompt, timings, hits or None);
    `likelihood(prompt, reference)` -> mean log-probability per answer token;
    `answer_batch(questions)` -> a list of what `answer` returns: when given, only the first `timed` (LATENCY_SAMPLE)
    items are answered (and timed) one at a time, the rest in batches of `batch_size`, their likelihoods
    too with `likelihood_batch([(prompt, reference), ...])` (the same values, faster)."""
    run = ArmRun(name)
    if pairs:
        answer(pairs[0].question)  # warm-up, not timed: first calls pay for allocations and lazy set-up
    single = pairs if answer_batch is None else pairs[:LATENCY_SAMPLE if timed is None else timed]
    for index, pair in enumerate(single):
        start = time.perf_counter()
        generation, prompt, timings, hits = answer(pair.question)
        # a reused answer's latency is this arm's own steps (retrieval, the prompt) and that answer's measured time
        run.latencies.append(time.perf_counter() - start + (generation.seconds if generation.reused else 0.0))
        for part, seconds in timings.items():
            run.add_part(part, seconds)
        run.add_part("generate", generation.seconds)
        if generation.first_token_seconds is not None:
            run.add_part("first_token", generation.first_token_seconds)
        _score_answer(run, pair, generation, prompt, hits, metrics, likelihood(prompt, pair.answer))
        if on_item:
            on_item(index + 1, len(pairs))
    rest, done, batch_seconds = pairs[len(single):], len(single), 0.0
    for first in range(0, len(rest), batch_size):
        chunk = rest[first:first + batch_size]
        answers = answer_batch([pair.question for pair in chunk])
        items = [(prompt, pair.answer) for pair, (_, prompt, _, _) in zip(chunk, answers)]
        logliks = likelihood_batch(items) if likelihood_batch else [likelihood(*item) for item in items]
        for pair, (generation, prompt, _, hits), loglik in zip(chunk, answers, logliks):
            batch_seconds += generation.seconds
            _score_answer(run, pair, generation, prompt, hits, metrics, loglik)
        done += len(chunk)
        if on_item:
            on_item(done, len(pairs))
    reused = [sample["reused_from"] for sample in run.samples if "reused_from" in sample]
    if reused:
        run.extra["reused_answers"] = {"reused": len(reused), "answers": len(pairs), "from": sorted(set(reused))}
    if rest:
        run.extra["batched"] = {"answers": len(rest), "batch_size": batch_size,
                                "answers_per_second": len(rest) / batch_seconds if batch_seconds else None}
    return run


CONTINUATION_REFERENCE_WORDS = 120  # of the held-out text after the opening: what a continuation is compared with


def evaluate_style_arm(name: str, documents, context_for, nll, generate_from, *, opening_words: int = 24,
                       embed=None, format_regex: str | None = None, on_item=None) -> ArmRun:
    """Held-out documents: perplexity of each (after the arm's context), and a timed continuation of its
    opening compared with the true text that follows: embedding similarity (with `embed`), stylometric
    distance, and with `format_regex` the share of its complete lines in that format. Empty continuations
    are counted (extra["empty_continuations"], and "empty" in their samples) and scored, never dropped.

    `context_for(doc)` -> (context text, timings); `nll(text, context)` -> (sum NLL, tokens);
    `generate_from(prompt)` -> Generation; `embed(texts)` -> unit vectors.
    """
    from advisor.measure.metrics import line_format_share, stylometric_distance

    run = ArmRun(name)
    totals, pairs, empty = [], [], 0
    if documents:  # warm-up, not timed
        generate_from(split_opening(documents[0].text, opening_words)[0])
    for index, doc in enumerate(documents):
        start = time.perf_counter()
        context, timings = context_for(doc)
        opening, rest = split_opening(doc.text, opening_words)
        generation = generate_from((context + "\n" if context else "") + opening)
        run.latencies.append(time.perf_counter() - start)
        for part, seconds in {**timings, "generate": generation.seconds}.items():
            run.add_part(part, seconds)
        if generation.first_token_seconds is not None:
            run.add_part("first_token", generation.first_token_seconds)
        total, count = nll(doc.text, context)
        if count:
            totals.append((total, count))
            run.add("doc_nll_per_token", total / count)
        true_text = _first_words(rest, CONTINUATION_REFERENCE_WORDS)
        continuation = generation.text.strip()
        empty += not continuation
        # Every document with a true text is scored, so that every arm is judged on the same items: an empty
        # continuation is as far from the true text's style as the measure goes (1: every feature's relative
        # difference at its largest), and its similarity is set to 0 below.
        if true_text:
            run.add("stylometric_distance", stylometric_distance(continuation, true_text) if continuation else 1.0)
            pairs.append((continuation, true_text))
        if format_regex:  # lines as generated, the first joined to the opening's last; nothing to judge scores 0
            run.add("format_match", line_format_share(format_regex, generation.text, opening))
        run.prompt_tokens.append(generation.prompt_tokens)
        run.new_tokens.append(generation.new_tokens)
        run.samples.append({"document": doc.source, "opening": opening, "continuation": generation.text[:200],
                            **({"empty": True} if not continuation else {})})
        if on_item:
            on_item(index + 1, len(documents))
    if embed is not None and pairs:
        said = [pair for pair in pairs if pair[0]]
        vectors = zip(embed([p[0] for p in said]), embed([p[1] for p in said])) if said else []
        cosines = iter([float(sum(x * y for x, y in zip(a, b))) for a, b in vectors])
        for continuation, _ in pairs:
            # An empty text has no meaning to embed: nothing in common with the true text, cosine 0 (not -1,
            # which would say it means the opposite), in practice below any real continuation's similarity.
            run.add("style_similarity", next(cosines) if continuation else 0.0)
    run.extra["nll_totals"] = totals
    run.extra["empty_continuations"] = empty
    return run


def split_opening(text: str, words: int) -> tuple[str, str]:
    """(opening, the rest): the text as written (line breaks kept: a format lives in them) up to its
    `words`-th word, or to the end of that word's line when the line ends within as many words again, so
    that a continuation of a line-based format starts on a new line."""
    import re

    spans = [m.span() for m in re.finditer(r"\S+", text)]
    if len(spans) <= words:
        return text, ""
    cut = spans[words - 1][1]
    line_end = text.find("\n", cut)
    if line_end != -1 and len(text[cut:line_end].split()) <= words:
        cut = line_end
    return text[:cut], text[cut:]


def _first_words(text: str, keep: int) -> str:
    """`text` up to its `keep`-th word, line breaks kept, white space at its ends removed."""
    import re

    spans = [m.span() for m in re.finditer(r"\S+", text)]
    return text[:spans[min(len(spans), keep) - 1][1]].strip() if spans else ""


def whole_corpus_prefix(model, tokenizer, passages: list[str]):
    """The PrefixCache of the prompt's part that comes before the question when every passage is in it, as
    the prompt is encoded for answering (each answer's reference is then scored after its own prompt)."""
    from rag.prefix_cache import PrefixCache, shared_token_prefix
    from rag.prompting import build_prompt, encode_prompt

    # Two questions that share no first word: what their prompts share is the corpus and what leads it.
    prompts = [build_prompt(tokenizer, question, passages) for question in ("Who?", "Name the one.")]
    return PrefixCache.build(model, shared_token_prefix([encode_prompt(tokenizer, p) for p in prompts]))


def prefix_figures(prefix) -> dict:
    """What the whole-corpus prompt's cached prefix cost once and how many prompts it served."""
    return {"prefix_tokens": len(prefix.ids), "prefix_seconds": prefix.seconds, "from_cache": prefix.used,
            "computed_whole": prefix.missed}


def measure_arm(arm, evalset, tokenizer, *, max_new_tokens: int, metrics, on_item=None, embed=None,
                format_regex: str | None = None, book: AnswerBook | None = None,
                model_key: str | None = None) -> ArmRun:
    """Answers (or, for held-out documents, continues and scores) the evaluation set with one arm. With `book`
    and the key of the arm's weights, a question whose prompt an earlier arm asked the same weights takes that
    answer and likelihood from the book; this arm's own go into it when the arm is done (an arm's warm-up answer
    is not one to reuse)."""
    from advisor.measure.likelihood import (answer_log_likelihood, answer_log_likelihoods,
                                            answer_log_likelihoods_after, text_nll)
    from rag.generation import generate, generate_batch
    from rag.prompting import build_prompt

    model, retriever, fixed = arm.model, arm.retriever, arm.passages or []
    # The whole corpus opens every prompt: its key/value cache is computed once and each question answered
    # from a copy (as a deployment caches a fixed prompt prefix), one question at a time.
    prefix = whole_corpus_prefix(model, tokenizer, fixed) if fixed and not retriever else None
    window = getattr(getattr(model, "config", None), "max_position_embeddings", None) or 2048
    # prompt -> (what its answer's generation left, its row): the reference answer is scored from there rather
    # than reading the prompt again (prefill is most of the time with passages); the latest answers' only.
    kept = {}
    # Answers are shared across arms only where the prompt is read whole (not from the corpus's cached prefix).
    shared = book if book is not None and model_key is not None and prefix is None else None
    mine = AnswerBook()

    def keep(generations, prompts):
        kept.update((prompt, g.kept) for g, prompt in zip(generations, prompts) if g.kept is not None)

    def prompt_for(question):
        hits, timings = retriever.retrieve(question) if retriever else (None, {})
        start = time.perf_counter()
        prompt = build_prompt(tokenizer, question, [h.text for h in hits] if hits is not None else fixed)
        timings["prompt"] = time.perf_counter() - start
        return prompt, timings, hits

    def answer(question):
        kept.clear()  # before the next answer's cache is made (a whole corpus's is hundreds of megabytes)
        prompt, timings, hits = prompt_for(question)
        generation = shared.answer(model_key, prompt) if shared else None
        if generation is None:
            generation = generate(model, tokenizer, prompt, max_new_tokens, prefix=prefix, keep=True)
            keep([generation], [prompt])
        mine.keep(model_key, prompt, generation, arm.name)
        return generation, prompt, timings, hits

    def answer_batch(questions):
        kept.clear()
        prompted = [prompt_for(question) for question in questions]
        generations = [shared.answer(model_key, prompt) if shared else None for prompt, _, _ in prompted]
        wanted = [prompt for (prompt, _, _), found in zip(prompted, generations) if found is None]
        if wanted:
            fresh = iter(generate_batch(model, tokenizer, wanted, max_new_tokens, keep=True))
            generations = [found if found is not None else next(fresh) for found in generations]
            keep(generations, [prompt for prompt, _, _ in prompted])
        for generation, (prompt, _, _) in zip(generations, prompted):
            mine.keep(model_key, prompt, generation, arm.name)
        return [(generation, prompt, timings, hits) for generation, (prompt, timings, hits)
                in zip(generations, prompted)]

    def from_answers(items):
        """The items' likelihoods from their answers' caches when one batch's generation left them all, else None."""
        found = [kept.get(prompt) for prompt, _ in items]
        if (not found or None in found or len({id(after) for after, _ in found}) != 1
                or len({row for _, row in found}) != len(found)):  # a prompt asked twice: scored whole
            return None
        after = found[0][0]
        references = [None] * len(after.lengths)
        for (_, row), (_, reference) in zip(found, items):
            references[row] = reference
        values = answer_log_likelihoods_after(model, tokenizer, after, references)
        return [values[row] for _, row in found]

    def likelihood(prompt, reference):
        return likelihood_batch([(prompt, reference)], lambda items: [
            answer_log_likelihood(model, tokenizer, *items[0], window, prefix)])[0]

    def likelihood_batch(items, scored_whole=lambda items: answer_log_likelihoods(model, tokenizer, items)):
        known = {item: shared.likelihoods.get((model_key, *item)) for item in items} if shared else {}
        wanted = [item for item in items if known.get(item) is None]
        if wanted:
            values = from_answers(wanted)
            known.update(zip(wanted, values if values is not None else scored_whole(wanted)))
        for item in items:
            mine.likelihoods[(model_key, *item)] = known[item]
        return [known[item] for item in items]

    def context_for(doc):
        if not retriever:
            return "\n".join(fixed), {}
        hits, timings = retriever.retrieve(" ".join(doc.text.split()[:24]))
        return "\n".join(h.text for h in hits), timings

    def continue_text(prompt):
        # No end-of-text before the budget is spent: the held-out document goes on after its opening, and
        # greedy decoding that ends it after a complete line leaves nothing to judge (a fine-tune left 6 of
        # 8 continuations empty); every arm's continuation then has the same length to be judged on.
        return generate(model, tokenizer, prompt, max_new_tokens, min_new_tokens=max_new_tokens)

    def style(on_doc):
        return evaluate_style_arm(arm.name, evalset.documents, context_for,
                                  lambda text, context: text_nll(model, tokenizer, text, context),
                                  continue_text, embed=embed,
                                  format_regex=format_regex if not evalset.pairs else None, on_item=on_doc)

    if not evalset.pairs:
        return style(on_item)
    # From the cached prefix one question at a time, each scored after its answer: a batch would pad and compute
    # the corpus once per row, and keep a corpus-sized cache per row until it is scored.
    run = evaluate_qa_arm(arm.name, evalset.pairs, answer, likelihood, metrics, on_item=on_item,
                          answer_batch=None if prefix else answer_batch, likelihood_batch=likelihood_batch)
    if prefix:
        run.extra["prefix_cache"] = prefix_figures(prefix)
    if shared is not None:
        shared.add(mine)
    if evalset.documents:  # goal both: the style half, scored on the held-out documents
        styled = style(None)
        run.scores.update(styled.scores)
        run.extra.update(styled.extra)  # latency stays the answers' own
        run.samples += styled.samples
    return run
