"""Splits documents into chunks that fit the embedding model (langchain text splitters)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    source: str
    text: str


def chunk_size_for(embedder, requested: int | None, ceiling: int = 128) -> int:
    """Chunk length in the embedding model's tokens: what it reads at once, at most `ceiling`.

    128 suits a small model's reading: on the sample's training split, SmolLM2-135M-Instruct with
    three 128-token passages answered more questions than with three of 254 (0.47 against 0.30
    answer containment) from prompts half as long (benchmarks/rag_settings.py)."""
    if requested:
        return requested
    limit = getattr(embedder, "max_seq_length", None) or ceiling
    return max(16, min(limit - 2, ceiling))  # room for the [CLS]/[SEP] the embedder adds


def split_documents(documents, tokenizer, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """`documents` are objects with .id, .source and .text; lengths are counted in `tokenizer` tokens."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter  # import cost only when used

    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        tokenizer, chunk_size=chunk_size, chunk_overlap=min(chunk_overlap, chunk_size // 2))
    chunks = []
    for doc in documents:
        for number, piece in enumerate(splitter.split_text(doc.text)):
            if piece.strip():
                chunks.append(Chunk(id=f"{doc.id}::{number}", doc_id=doc.id, source=doc.source,
                                    text=piece.strip()))
    return chunks
