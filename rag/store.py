"""The Chroma vector store: embedded in a folder by default, or a Chroma server."""

from __future__ import annotations

from dataclasses import dataclass


class StoreUnavailable(RuntimeError):
    """The Chroma server could not be reached or refused the request."""


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    source: str
    text: str
    distance: float


def open_client(path: str | None = None, url: str | None = None):
    """A PersistentClient in `path`, or an HttpClient for `url` (http://host:port)."""
    import chromadb  # heavy; only the RAG arm needs it
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if url:
        from urllib.parse import urlparse

        parsed = urlparse(url)
        try:
            client = chromadb.HttpClient(host=parsed.hostname or "localhost", port=parsed.port or 8000,
                                         ssl=parsed.scheme == "https", settings=settings)
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"Chroma server at {url} did not answer ({exc})") from exc
        return client
    return chromadb.PersistentClient(path=path, settings=settings)


def fill_collection(client, name: str, chunks, embeddings, batch_size: int = 512):
    """(Re)creates collection `name` holding `chunks` with their precomputed `embeddings`."""
    try:
        client.delete_collection(name)
    except Exception:  # absent already: nothing to delete
        pass
    # embedding_function=None: Chroma's default would download a model at run time.
    collection = client.create_collection(name, embedding_function=None,
                                          metadata={"hnsw:space": "cosine"})
    for start in range(0, len(chunks), batch_size):
        part = chunks[start:start + batch_size]
        collection.add(ids=[c.id for c in part], embeddings=embeddings[start:start + batch_size],
                       documents=[c.text for c in part],
                       metadatas=[{"source": c.source, "doc_id": c.doc_id} for c in part])
    return collection


def query(collection, embedding: list[float], k: int) -> list[Hit]:
    result = collection.query(query_embeddings=[embedding], n_results=k,
                              include=["documents", "metadatas", "distances"])
    return [Hit(chunk_id, meta.get("source", ""), text, float(distance))
            for chunk_id, text, meta, distance in zip(result["ids"][0], result["documents"][0],
                                                      result["metadatas"][0], result["distances"][0])]
