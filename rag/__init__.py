"""Retrieval-augmented generation: split, embed, store in Chroma, retrieve, and answer with context."""
