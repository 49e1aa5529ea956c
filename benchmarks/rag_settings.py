"""Prompt, chunk size and top-k for a small model, chosen on the sample's training split, never on held-out questions.

`python -m benchmarks.rag_settings [--sample samples/ferry] [--base-model ID_OR_PATH]` answers the
training-side questions of the sample (the seeded split the advisor uses, so the held-out half is
never looked at) with each prompt and retrieval setting, prints a table and writes
benchmarks/results/rag_settings.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

INSTRUCTION_FIRST = "Answer the question with a short phrase."


def prompt_instruction_first(tokenizer, question, passages):
    """The prompt before this benchmark: instruction, passages, question."""
    body = f"{INSTRUCTION_FIRST}\n\n"
    if passages:
        body += "Context:\n" + "\n\n".join(passages) + "\n\n"
    body += f"Question: {question}"
    return tokenizer.apply_chat_template([{"role": "user", "content": body}], tokenize=False,
                                         add_generation_prompt=True)


def prompt_question_last(tokenizer, question, passages):
    """Passages first, then the question and the instruction, closest to where the answer starts."""
    body = "Context:\n" + "\n\n".join(passages) + "\n\n" if passages else ""
    instruction = "Answer in a few words, using the context above." if passages else "Answer in a few words."
    return tokenizer.apply_chat_template([{"role": "user", "content": f"{body}Question: {question}\n{instruction}"}],
                                         tokenize=False, add_generation_prompt=True)


def prompt_system(tokenizer, question, passages):
    """The instruction as a system turn replacing the template's default persona: the product's prompt."""
    from rag.prompting import build_prompt

    return build_prompt(tokenizer, question, passages)


CHUNK_SIZES = (64, 128, 254)  # embedding-model tokens; 254 was the default (MiniLM reads 256 at once)
PROMPTS = {"instruction-first": prompt_instruction_first, "question-last": prompt_question_last,
           "system": prompt_system}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="samples/ferry")
    parser.add_argument("--base-model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--out", default="benchmarks/results/rag_settings.json")
    parser.add_argument("--quick", action="store_true", help="only the prompt comparison at the defaults")
    args = parser.parse_args(argv)

    from advisor.config import AdvisorConfig
    from advisor.corpus.evalset import split_pairs
    from advisor.corpus.qa import load_qa
    from advisor.corpus.loading import load_corpus
    from advisor.measure.evaluate import qa_metrics
    from advisor.measure.likelihood import answer_log_likelihood
    from advisor.measure.metrics import first_line
    from advisor.models import load_embedder, load_generator, resolve_embedding_model, resolve_model
    from rag.generation import generate
    from rag.retrieval import build_index
    from rag.store import open_client, query
    from rag.embedding import embed_texts

    defaults = AdvisorConfig(corpus=args.sample)
    corpus = load_corpus(Path(args.sample) / "corpus")
    pairs = load_qa(Path(args.sample) / "qa.jsonl")
    train, held_out = split_pairs(pairs, defaults.eval_fraction, defaults.seed, defaults.max_eval)
    model, tokenizer = load_generator(resolve_model(args.base_model), "cpu")
    embedder = load_embedder(resolve_embedding_model(defaults.embedding_model), "cpu")
    metrics = qa_metrics()
    console = Console()
    console.print(f"{len(train)} training-side questions (the {len(held_out)} held-out ones are not used)")

    scratch = tempfile.TemporaryDirectory(prefix="rag-settings-")
    client = open_client(path=scratch.name)
    indexes = {}
    for size in CHUNK_SIZES:
        collection, chunks, _ = build_index(corpus.documents, embedder, client, chunk_size=size,
                                            chunk_overlap=min(32, size // 4), collection_name=f"chunks-{size}")
        indexes[size] = (collection, len(chunks))
    vectors = embed_texts(embedder, [p.question for p in train])

    rows = []
    retrieval = []
    for size, (collection, n_chunks) in indexes.items():
        for k in (1, 2, 3, 5):
            hits = [query(collection, v, k) for v in vectors]
            rate = statistics.mean(any(h.source == p.source for h in hs) for p, hs in zip(train, hits))
            retrieval.append({"chunk_size": size, "top_k": k, "chunks": n_chunks, "hit_rate": rate})

    def run(prompt_name, size, k):
        build = PROMPTS[prompt_name]
        scores = {m.name: [] for m in metrics}
        logprobs, seconds, prompt_tokens, answers = [], [], [], []
        for pair, vector in zip(train, vectors):
            passages = [h.text for h in query(indexes[size][0], vector, k)] if k else []
            prompt = build(tokenizer, pair.question, passages)
            start = time.perf_counter()
            generation = generate(model, tokenizer, prompt, defaults.max_new_tokens)
            seconds.append(time.perf_counter() - start)
            text = first_line(generation.text)
            for metric in metrics:
                scores[metric.name].append(metric.score(text, pair.answer))
            logprobs.append(answer_log_likelihood(model, tokenizer, prompt, pair.answer))
            prompt_tokens.append(generation.prompt_tokens)
            answers.append({"question": pair.question, "reference": pair.answer, "answer": text})
        row = {"prompt": prompt_name, "chunk_size": size if k else None, "top_k": k,
               **{name: statistics.mean(values) for name, values in scores.items()},
               "answer_logprob": statistics.mean(logprobs), "seconds_per_answer": statistics.mean(seconds),
               "prompt_tokens": statistics.mean(prompt_tokens), "answers": answers}
        rows.append(row)
        console.print(f"{prompt_name:18} chunk {row['chunk_size']} top-{k}: containment "
                      f"{row['answer_containment']:.2f}, F1 {row['token_f1']:.2f}, log-prob "
                      f"{row['answer_logprob']:.2f}, {row['seconds_per_answer']:.1f} s/answer")

    # First the prompt layouts, closed book and with the previous defaults' passages (254 tokens, top 3);
    # then chunk size and top-k with the best of them; then every layout again at the best setting.
    for name in PROMPTS:
        run(name, 254, 0)
        run(name, 254, 3)
    if not args.quick:
        def best(key):
            return max((r for r in rows if r["top_k"]), key=lambda r: (r["answer_containment"], r["token_f1"]))[key]

        prompt = best("prompt")
        for size, k in ((254, 2), (128, 2), (128, 3), (128, 5), (64, 3), (64, 5)):
            run(prompt, size, k)
        size, k = best("chunk_size"), best("top_k")
        for name in PROMPTS:
            if name != prompt:
                run(name, size, k)

    table = Table(title=f"RAG settings on {len(train)} training-side questions of {args.sample}")
    for column in ("prompt", "chunk", "top-k", "containment", "token F1", "exact", "log-prob", "s/answer",
                   "prompt tokens"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["prompt"], str(r["chunk_size"] or "–"), str(r["top_k"]), f"{r['answer_containment']:.2f}",
                      f"{r['token_f1']:.2f}", f"{r['exact_match']:.2f}", f"{r['answer_logprob']:.2f}",
                      f"{r['seconds_per_answer']:.1f}", f"{r['prompt_tokens']:.0f}")
    console.print(table)
    hit_table = Table(title="Retrieval hit rate (gold document among the top k)")
    for column in ("chunk", "chunks", "top-k", "hit rate"):
        hit_table.add_column(column)
    for r in retrieval:
        hit_table.add_row(str(r["chunk_size"]), str(r["chunks"]), str(r["top_k"]), f"{r['hit_rate']:.2f}")
    console.print(hit_table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"sample": args.sample, "base_model": args.base_model,
                                          "questions": len(train), "split": "training side only",
                                          "runs": rows, "retrieval": retrieval}, indent=2) + "\n")
    console.print(f"Results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
