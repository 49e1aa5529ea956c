"""Embeds texts in batches with a sentence-transformers model."""

from __future__ import annotations


def embed_texts(embedder, texts: list[str], batch_size: int = 32) -> list[list[float]]:
    """Unit-length vectors, so cosine distance in the store is a plain dot product."""
    vectors = embedder.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
    return vectors.tolist()
