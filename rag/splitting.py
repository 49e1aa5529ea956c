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

    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=min(chunk_overlap, chunk_size // 2),
                                              length_function=token_counter(tokenizer))
    chunks = []
    for doc in documents:
        seen: dict[str, int] = {}
        for piece in splitter.split_text(doc.text):
            if piece.strip():
                chunks.append(Chunk(id=chunk_id(doc.id, piece.strip(), seen), doc_id=doc.id, source=doc.source,
                                    text=piece.strip()))
    return chunks


def token_counter(tokenizer):
    """len(tokenizer.tokenize(text)), as langchain's from_huggingface_tokenizer counts, but through the fast
    tokenizer's own encoder and remembered: the splitter asks for the length of each word and each merge of
    them, a hundred and eighty thousand times for a thousand chunks, and the transformers wrapper around
    each call was three quarters of the indexing's overhead (benchmarks/indexing.py)."""
    from functools import lru_cache

    from tokenizers import Tokenizer

    shared = getattr(tokenizer, "backend_tokenizer", None)
    if shared is None:  # a slow tokenizer: its own tokenize
        return lambda text: len(tokenizer.tokenize(text))
    backend = Tokenizer.from_str(shared.to_str())  # a copy, so that padding and truncation can be off
    backend.no_padding()
    backend.no_truncation()

    @lru_cache(maxsize=1 << 16)
    def count(text: str) -> int:
        return len(backend.encode(text, add_special_tokens=False).ids)

    return count


def chunk_id(doc_id: str, text: str, seen: dict[str, int]) -> str:
    """A chunk's id from its document and its text (and, for a passage repeated in one document, which
    repeat it is): the same chunk always gets the same id, so an index can keep what did not change."""
    import hashlib

    digest = hashlib.sha256(f"{doc_id}\0{text}".encode()).hexdigest()[:24]
    seen[digest] = seen.get(digest, -1) + 1
    return digest if not seen[digest] else f"{digest}-{seen[digest]}"
