"""Indexing and retrieval against the raw floor: our build_index and Retriever beside encode + Chroma by hand.

`python -m benchmarks.indexing [--chunks 200 800 1600] [--repeats 2]` builds, for each size, a corpus of
synthetic documents from the ferry sample's words, and times in turn (interleaved, the order alternating
between repeats) our `build_index` (split, embed, store) and the raw floor (the same chunk texts encoded
in batches of 32 and added to a fresh Chroma collection), with the real all-MiniLM-L6-v2 (offline, its
packaged copy). Then: the growth exponent of our time against the number of chunks; adding 1% new
documents to the middle size's index against building it whole; and retrieval on that index, our Retriever
against encode + collection.query, p50 and p95 over the sample's questions, with the hits compared. Prints
a table and writes benchmarks/results/indexing-cpu.json. (The sizes stop at 1,600 chunks by default so that
`python -m benchmarks` stays within 20 minutes on two cores: embedding is nearly all of the time, 50
chunks a second here; --chunks 1000 4000 16000 takes about 20 minutes alone.)
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time

from benchmarks.common import SAMPLE, machine, progress, save_results, spread

TARGETS = {"build_ratio": 1.10, "exponent": 1.1, "update_share": 0.05, "retrieval_ratio": 1.2}
CHUNK_SIZE, OVERLAP = 128, 32


def synthetic_documents(count: int, seed: int, prefix: str = "doc"):
    """Documents of 200 to 400 words from the sample's words, a third shuffled in (no two alike)."""
    from advisor.corpus.loading import Document, load_corpus

    words = " ".join(d.text for d in load_corpus(SAMPLE / "corpus").documents).split()
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        n, start = rng.randint(200, 400), rng.randint(0, len(words) - 1)
        text = " ".join(rng.choice(words) if rng.random() < 0.3 else words[(start + i) % len(words)] for i in range(n))
        documents.append(Document(f"{prefix}{index}.md", f"{prefix}{index}.md", text))
    return documents


def documents_for(chunks: int, embedder, seed: int):
    """About `chunks` chunks' worth of documents (split as the index splits them)."""
    from rag.splitting import split_documents

    probe = synthetic_documents(40, seed)
    per_document = len(split_documents(probe, embedder.tokenizer, CHUNK_SIZE, OVERLAP)) / len(probe)
    return synthetic_documents(max(1, round(chunks / per_document)), seed)


def raw_build(texts, ids, embedder, client) -> float:
    start = time.perf_counter()
    vectors = embedder.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
    collection = client.create_collection("raw", embedding_function=None, metadata={"hnsw:space": "cosine"})
    for first in range(0, len(texts), 256):
        collection.add(ids=ids[first:first + 256], embeddings=vectors[first:first + 256].tolist(),
                       documents=texts[first:first + 256])
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, nargs="+", default=[200, 800, 1600])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    from advisor.config import DEFAULT_EMBEDDING_MODEL
    from advisor.corpus.qa import load_qa
    from advisor.models import load_embedder, resolve_embedding_model
    from rag.retrieval import Retriever, build_index
    from rag.splitting import split_documents
    from rag.store import open_client, query

    started = time.perf_counter()
    embedder = load_embedder(resolve_embedding_model(DEFAULT_EMBEDDING_MODEL), "cpu")
    embedder.encode(["warm-up"] * 64, batch_size=32)
    rows, middle = [], None
    for size in args.chunks:
        documents = documents_for(size, embedder, seed=size)
        chunks = split_documents(documents, embedder.tokenizer, CHUNK_SIZE, OVERLAP)
        texts, ids = [c.text for c in chunks], [c.id for c in chunks]
        ours, raw = [], []
        for repeat in range(args.repeats):
            for side in (("ours", "raw") if repeat % 2 == 0 else ("raw", "ours")):
                with tempfile.TemporaryDirectory() as folder:
                    client = open_client(path=folder)
                    if side == "raw":
                        raw.append(raw_build(texts, ids, embedder, client))
                    else:
                        start = time.perf_counter()
                        build_index(documents, embedder, client, chunk_size=CHUNK_SIZE, chunk_overlap=OVERLAP)
                        ours.append(time.perf_counter() - start)
        ratio = [o / r for o, r in zip(ours, raw)]
        rows.append({"chunks": len(chunks), "documents": len(documents), "ours_seconds": spread(ours),
                     "raw_seconds": spread(raw), "ratio": spread(ratio),
                     "ours_chunks_per_second": len(chunks) / statistics.median(ours)})
        progress(f"{len(chunks)} chunks: ours {statistics.median(ours):.1f} s, raw {statistics.median(raw):.1f} s")
        if size == args.chunks[len(args.chunks) // 2]:
            middle = documents
    xs = [math.log(row["chunks"]) for row in rows]
    ys = [math.log(row["ours_seconds"]["median"]) for row in rows]
    exponent = statistics.linear_regression(xs, ys).slope if len(rows) > 1 else float("nan")

    # 1% new documents on the middle size: an update against a full build; then retrieval on that index.
    extra = synthetic_documents(max(1, len(middle) // 100), seed=99, prefix="new")
    updates, fulls = [], []
    questions = [pair.question for pair in load_qa(SAMPLE / "qa.jsonl")]
    with tempfile.TemporaryDirectory() as root:
        for repeat in range(args.repeats):
            client = open_client(path=f"{root}/{repeat}")
            start = time.perf_counter()
            build_index(middle, embedder, client, chunk_size=CHUNK_SIZE, chunk_overlap=OVERLAP)
            fulls.append(time.perf_counter() - start)
            start = time.perf_counter()
            collection, _, updated = build_index(middle + extra, embedder, client, chunk_size=CHUNK_SIZE,
                                                 chunk_overlap=OVERLAP)
            updates.append(time.perf_counter() - start)
        retriever = Retriever(embedder, collection, 3)
        ours_ms, raw_ms, same = [], [], 0
        for question in questions * 2:  # interleaved: ours, then the raw path, question by question
            start = time.perf_counter()
            hits, _ = retriever.retrieve(question)
            ours_ms.append(1000 * (time.perf_counter() - start))
            start = time.perf_counter()
            vector = embedder.encode([question], normalize_embeddings=True, convert_to_numpy=True,
                                     show_progress_bar=False)[0]
            raw_hits = query(collection, vector.tolist(), 3)
            raw_ms.append(1000 * (time.perf_counter() - start))
            same += [h.chunk_id for h in hits] == [h.chunk_id for h in raw_hits]
    update = {"documents_added": len(extra), "chunks_added": updated.added, "kept": updated.kept,
              "update_seconds": spread(updates), "full_build_seconds": spread(fulls),
              "share": statistics.median(u / f for u, f in zip(updates, fulls))}

    def quantiles(values):
        cut = statistics.quantiles(values, n=20)
        return {"p50": statistics.median(values), "p95": cut[18]}

    retrieval = {"queries": len(ours_ms), "chunks": updated.chunks, "ours_ms": quantiles(ours_ms),
                 "raw_ms": quantiles(raw_ms), "same_hits": same}
    retrieval["ratio_p50"] = retrieval["ours_ms"]["p50"] / retrieval["raw_ms"]["p50"]

    print("| chunks | ours (s) | raw floor (s) | ratio | ours chunks/s |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['chunks']:,} | {row['ours_seconds']['median']:.1f} | {row['raw_seconds']['median']:.1f} | "
              f"{row['ratio']['median']:.2f}x | {row['ours_chunks_per_second']:.0f} |")
    print(f"growth exponent of our time: {exponent:.2f} (target <= {TARGETS['exponent']})")
    print(f"1% new documents ({update['documents_added']}, {update['chunks_added']} chunks): "
          f"{update['update_seconds']['median']:.2f} s against a full build's {update['full_build_seconds']['median']:.1f} s "
          f"= {100 * update['share']:.1f}% (target <= {100 * TARGETS['update_share']:.0f}%)")
    print(f"retrieval p50: ours {retrieval['ours_ms']['p50']:.1f} ms, raw {retrieval['raw_ms']['p50']:.1f} ms "
          f"({retrieval['ratio_p50']:.2f}x); p95 {retrieval['ours_ms']['p95']:.1f} / {retrieval['raw_ms']['p95']:.1f} ms; "
          f"same hits for {same} of {len(ours_ms)} questions")
    worst_ratio = max(row["ratio"]["median"] for row in rows)
    save_results({"machine": machine("cpu"), "settings": {"chunk_size": CHUNK_SIZE, "overlap": OVERLAP,
                                                          "repeats": args.repeats, "embedder": DEFAULT_EMBEDDING_MODEL},
                  "rows": rows, "exponent": exponent, "update": update, "retrieval": retrieval,
                  "targets": {"build_ratio_met": worst_ratio <= TARGETS["build_ratio"],
                              "exponent_met": exponent <= TARGETS["exponent"],
                              "update_met": update["share"] <= TARGETS["update_share"],
                              "retrieval_met": retrieval["ratio_p50"] <= TARGETS["retrieval_ratio"]},
                  "seconds": time.perf_counter() - started}, "indexing", "cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
