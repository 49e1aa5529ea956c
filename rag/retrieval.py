"""Builds the index from documents and retrieves the passages for a question."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rag.embedding import embed_texts
from rag.splitting import Chunk, split_documents
from rag.store import Hit, fill_collection, query


@dataclass
class IndexStats:
    chunks: int
    chunk_size: int
    split_seconds: float
    embed_seconds: float
    store_seconds: float

    @property
    def seconds(self) -> float:
        return self.split_seconds + self.embed_seconds + self.store_seconds


def build_index(documents, embedder, client, *, chunk_size: int, chunk_overlap: int,
                collection_name: str = "corpus", on_batch=None,
                batch_size: int = 256) -> tuple[object, list[Chunk], IndexStats]:
    """Splits, embeds (in batches; `on_batch(chunks_done, chunks)` after each) and stores the chunks."""
    t0 = time.perf_counter()
    chunks = split_documents(documents, embedder.tokenizer, chunk_size, chunk_overlap)
    t1 = time.perf_counter()
    vectors = []
    for start in range(0, len(chunks), batch_size):
        vectors += embed_texts(embedder, [c.text for c in chunks[start:start + batch_size]])
        if on_batch:
            on_batch(len(vectors), len(chunks))
    t2 = time.perf_counter()
    collection = fill_collection(client, collection_name, chunks, vectors)
    t3 = time.perf_counter()
    return collection, chunks, IndexStats(len(chunks), chunk_size, t1 - t0, t2 - t1, t3 - t2)


class Retriever:
    """The top-k passages for a question, with the time spent embedding it and searching the store."""

    def __init__(self, embedder, collection, top_k: int = 3):
        self.embedder, self.collection, self.top_k = embedder, collection, top_k

    def retrieve(self, question: str) -> tuple[list[Hit], dict]:
        t0 = time.perf_counter()
        vector = embed_texts(self.embedder, [question])[0]
        t1 = time.perf_counter()
        hits = query(self.collection, vector, self.top_k)
        t2 = time.perf_counter()
        return hits, {"embed": t1 - t0, "retrieve": t2 - t1}
