"""Builds the index from documents and retrieves the passages for a question."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rag.embedding import embed_texts
from rag.splitting import Chunk, split_documents
from rag.store import Hit, query, sync_collection


@dataclass
class IndexStats:
    chunks: int
    chunk_size: int
    split_seconds: float
    embed_seconds: float  # embedding and storing the new chunks (the two alternate, a batch at a time)
    store_seconds: float  # reading what the collection holds, and deleting what left
    added: int = 0
    deleted: int = 0
    kept: int = 0
    rebuilt: str | None = None

    @property
    def seconds(self) -> float:
        return self.split_seconds + self.embed_seconds + self.store_seconds


def build_index(documents, embedder, client, *, chunk_size: int, chunk_overlap: int,
                collection_name: str = "corpus", on_batch=None,
                batch_size: int = 256, about: dict | None = None) -> tuple[object, list[Chunk], IndexStats]:
    """Splits the documents and brings the collection up to date: chunks it already holds (ids are content
    hashes) are kept, new ones embedded in batches (`on_batch(done, new)` after each) and added, the rest
    deleted. `about` goes into the collection's metadata, with the embedding dimension."""
    t0 = time.perf_counter()
    chunks = split_documents(documents, embedder.tokenizer, chunk_size, chunk_overlap)
    t1 = time.perf_counter()
    embed_seconds = 0.0

    def embed(texts):
        nonlocal embed_seconds
        start = time.perf_counter()
        vectors = embed_texts(embedder, texts)
        embed_seconds += time.perf_counter() - start
        return vectors

    dimension_of = getattr(embedder, "get_embedding_dimension", None) or getattr(
        embedder, "get_sentence_embedding_dimension", None)  # the newer name first
    dimension = dimension_of() if dimension_of else None
    synced = sync_collection(client, collection_name, chunks, embed, batch_size=batch_size, on_batch=on_batch,
                             about={**(about or {}), **({"dimension": dimension} if dimension else {})})
    t2 = time.perf_counter()
    return synced.collection, chunks, IndexStats(len(chunks), chunk_size, t1 - t0, embed_seconds,
                                                 t2 - t1 - embed_seconds, synced.added, synced.deleted,
                                                 synced.kept, synced.rebuilt)


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
