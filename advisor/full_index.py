"""Indexes a whole corpus into Chroma (a server, at full scale) with a run's embedding model and chunking."""

from __future__ import annotations

from pathlib import Path


def index_corpus(corpus: str | Path, *, chroma_url: str | None = None, path: str | Path | None = None,
                 embedding_model: str, chunk_size: int | None, chunk_overlap: int, collection: str = "corpus",
                 device: str = "auto", on_batch=None):
    """Splits, embeds and stores every document of `corpus` in `collection` (at `chroma_url`, else in the folder
    `path`); chunks already stored are kept, so an interrupted indexing goes on where it stopped. Returns
    rag.retrieval.IndexStats."""
    from advisor.corpus.loading import load_corpus
    from advisor.errors import ConfigError
    from advisor.measure.hardware import resolve_device
    from advisor.models import load_embedder, resolve_embedding_model
    from advisor.stages.index import chroma_client
    from rag.retrieval import build_index
    from rag.splitting import chunk_size_for

    if not chroma_url and not path:
        raise ConfigError("say where the index goes", hint="pass --chroma-url URL or --path DIR")
    documents = load_corpus(str(corpus)).documents
    resolved = resolve_embedding_model(embedding_model)
    embedder = load_embedder(resolved, resolve_device(device))
    client = chroma_client(Path(path or "."), chroma_url)
    size = chunk_size_for(embedder, chunk_size)
    _, _, stats = build_index(documents, embedder, client, chunk_size=size, chunk_overlap=min(chunk_overlap, size // 2),
                              collection_name=collection, about={"embedding_model": resolved.name},
                              on_batch=on_batch)
    return stats
