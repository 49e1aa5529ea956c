"""The embedding model's tuning: what each way of spending its budget buys in held-out retrieval, side by side.

`python -m benchmarks.embedding_tuning [--cases sample,calibration] [--variants ...] [--out PATH]` makes the
training-side (question, passage) pairs the advisor's tuned-embeddings stage makes (advisor.stages.embeddings
.retrieval_pairs, from the held-out split the advisor draws), on

- sample: the bundled ferry corpus and its QA file (30 held-out questions);
- calibration: the calibration world's knowledge-tuned-embeddings task (100 held-out questions);

then tunes all-MiniLM-L6-v2 (the default embedding model, offline from its package) each variant's way within its
budget and measures, with each model, where the held-out questions' documents rank among the chunks (hit rate in
the top-k and MRR, as the report's retrieval figures) and the training-side hit rate (CHECKED_PAIRS pairs). The
variants: no tuning; the advisor's (both columns take the gradient) at 120 s (its default budget) and 60 s;
passages embedded without gradient (finetune.embedding_tuning.passages_without_gradient) at 120 and 60 s.
Prints a table per case and writes benchmarks/results/embedding_tuning-<device>.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import SAMPLE, machine, progress, quiet_libraries, save_results

CASES = ("sample", "calibration")
# name -> (budget seconds, passages take the gradient); budget 0: the untuned model
VARIANTS = {"untuned": (0, True), "both 120 s": (120, True), "both 60 s": (60, True),
            "queries 120 s": (120, False), "queries 60 s": (60, False)}


def case_inputs(name: str, folder: Path, embedder):
    """(training documents' chunks, held-out pairs, training-side pairs, top-k) as the advisor makes them."""
    from advisor.calibration.calibrate import CALIBRATION_OPTIONS, TASKS, write_task
    from advisor.config import AdvisorConfig
    from advisor.corpus.evalset import build_eval_set
    from advisor.corpus.loading import load_corpus
    from advisor.corpus.qa import load_qa
    from advisor.stages.embeddings import retrieval_pairs
    from rag.splitting import chunk_size_for, split_documents

    if name == "sample":
        corpus, qa, options = SAMPLE / "corpus", SAMPLE / "qa.jsonl", {}
    else:
        task = next(t for t in TASKS if t.name == "knowledge-tuned-embeddings")
        corpus, qa, options = write_task(task, folder)
        options = {**CALIBRATION_OPTIONS, **options, **task.options}
    cfg = AdvisorConfig(corpus=str(corpus), qa=str(qa), **{k: v for k, v in options.items()
                                                          if k in AdvisorConfig.__dataclass_fields__})
    evalset = build_eval_set(load_corpus(corpus).documents, load_qa(qa), "knowledge", eval_fraction=cfg.eval_fraction,
                             seed=cfg.seed, max_eval=cfg.max_eval)
    size = chunk_size_for(embedder, cfg.chunk_size)
    chunks = split_documents(evalset.train_documents, embedder.tokenizer, size, min(cfg.chunk_overlap, size // 2))
    return chunks, evalset.pairs, retrieval_pairs(evalset, chunks, cfg.seed), cfg.top_k


def load_embedder():
    from advisor.models import load_embedder as load, resolve_embedding_model
    from advisor.config import AdvisorConfig

    return load(resolve_embedding_model(AdvisorConfig.default("embedding_model")), "cpu")


class InMemoryRetriever:
    """The top-k chunks by cosine similarity over every chunk, returned as rag.retrieval.Retriever returns them."""

    def __init__(self, embedder, chunks, top_k: int):
        import torch

        self.embedder, self.chunks, self.top_k = embedder, chunks, min(top_k, len(chunks))
        self.index = torch.as_tensor(embedder.encode([chunk.text for chunk in chunks], normalize_embeddings=True,
                                                     batch_size=64))

    def retrieve(self, query: str):
        import torch

        found = torch.as_tensor(self.embedder.encode([query], normalize_embeddings=True)) @ self.index.T
        return [self.chunks[i] for i in found[0].topk(self.top_k).indices.tolist()], {}


def retrieval(embedder, chunks, held_out, train_pairs, top_k: int) -> dict:
    """Held-out hit rate and MRR (a question's document among the top-k chunks' sources) and the training-side hit
    rate (its passage among the top-k: advisor.stages.embeddings.train_side_hit_rate, as the stage measures it)."""
    from advisor.stages.embeddings import train_side_hit_rate

    retriever = InMemoryRetriever(embedder, chunks, top_k)
    ranks = []
    for pair in held_out:
        sources = [hit.source for hit in retriever.retrieve(pair.question)[0]]
        ranks.append(sources.index(pair.source) + 1 if pair.source in sources else None)
    return {"held_out": len(ranks), "hit_rate": sum(r is not None for r in ranks) / len(ranks),
            "mrr": sum(1 / r for r in ranks if r) / len(ranks),
            "train_side_hit_rate": train_side_hit_rate(retriever, train_pairs, seed=0)}


def run_case(name: str, variants: list[str]) -> dict:
    from finetune.embedding_tuning import EPOCHS, tune_embedder

    with tempfile.TemporaryDirectory(prefix="embedding-tuning-") as scratch:
        base = load_embedder()
        chunks, held_out, pairs, top_k = case_inputs(name, Path(scratch), base)
        rows = {}
        for variant in variants:
            budget, passage_gradient = VARIANTS[variant]
            progress(f"{name}: {variant} ({len(pairs)} training-side pairs, {len(chunks)} chunks)")
            row = {"budget_seconds": budget, "passage_gradient": passage_gradient}
            if budget:
                started = time.perf_counter()
                tuned, training = tune_embedder(base, pairs, Path(scratch) / variant.replace(" ", "-"),
                                                budget_seconds=budget, epochs=EPOCHS, seed=0,
                                                passage_gradient=passage_gradient)
                row.update(seconds=time.perf_counter() - started, steps=training.steps,
                           planned_steps=training.planned_steps, pairs_seen=training.steps * training.batch_size,
                           seconds_per_step=training.seconds / max(1, training.steps))
            else:
                tuned = base
            row.update(retrieval(tuned, chunks, held_out, pairs, top_k))
            rows[variant] = row
    return {"chunks": len(chunks), "pairs": len(pairs), "top_k": top_k, "variants": rows}


def print_case(name: str, case: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name}: {case['pairs']} training-side pairs, {case['chunks']} chunks, top-{case['top_k']}")
    for column in ("variant", "steps", "s/step", "held-out hit rate", "MRR", "training-side hit rate"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for variant, row in case["variants"].items():
        table.add_row(variant, str(row.get("steps", "-")),
                      f"{row['seconds_per_step']:.2f}" if "seconds_per_step" in row else "-",
                      f"{row['hit_rate']:.3f} (n={row['held_out']})", f"{row['mrr']:.3f}",
                      f"{row['train_side_hit_rate']:.3f}")
    Console().print(table)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    quiet_libraries()
    variants = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}: choose from {list(VARIANTS)}")
    cases = {}
    for name in args.cases.split(","):
        cases[name] = run_case(name, variants)
        print_case(name, cases[name])
    save_results({"benchmark": "embedding_tuning", "machine": machine("cpu"), "measured_on": time.strftime("%Y-%m-%d"),
                  "cases": cases}, "embedding_tuning", "cpu", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
