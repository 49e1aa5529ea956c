"""Builds the index from documents and answers questions with retrieved passages."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rag.embedding import embed_texts
from rag.generation import Generation, generate
from rag.prompting import build_prompt
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
                collection_name: str = "corpus") -> tuple[object, list[Chunk], IndexStats]:
    t0 = time.perf_counter()
    chunks = split_documents(documents, embedder.tokenizer, chunk_size, chunk_overlap)
    t1 = time.perf_counter()
    vectors = embed_texts(embedder, [c.text for c in chunks])
    t2 = time.perf_counter()
    collection = fill_collection(client, collection_name, chunks, vectors)
    t3 = time.perf_counter()
    return collection, chunks, IndexStats(len(chunks), chunk_size, t1 - t0, t2 - t1, t3 - t2)


@dataclass
class RagAnswer:
    generation: Generation
    hits: list[Hit]
    prompt: str
    timings: dict = field(default_factory=dict)  # seconds: embed, retrieve, generate


class RagAnswerer:
    """Retrieves top-k passages for a question and lets the model answer with them in the prompt."""

    def __init__(self, model, tokenizer, embedder, collection, top_k: int = 3, max_new_tokens: int = 32):
        self.model, self.tokenizer = model, tokenizer
        self.embedder, self.collection = embedder, collection
        self.top_k, self.max_new_tokens = top_k, max_new_tokens

    def retrieve(self, question: str) -> tuple[list[Hit], dict]:
        t0 = time.perf_counter()
        vector = embed_texts(self.embedder, [question])[0]
        t1 = time.perf_counter()
        hits = query(self.collection, vector, self.top_k)
        t2 = time.perf_counter()
        return hits, {"embed": t1 - t0, "retrieve": t2 - t1}

    def answer(self, question: str) -> RagAnswer:
        hits, timings = self.retrieve(question)
        prompt = build_prompt(self.tokenizer, question, [h.text for h in hits])
        generation = generate(self.model, self.tokenizer, prompt, self.max_new_tokens)
        timings["generate"] = generation.seconds
        return RagAnswer(generation, hits, prompt, timings)
