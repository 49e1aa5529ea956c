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


@dataclass(frozen=True)
class SyncResult:
    collection: object
    added: int  # chunks embedded and stored now
    deleted: int  # chunks of documents that changed or left
    kept: int  # chunks already stored, untouched
    rebuilt: str | None = None  # why the collection was emptied first (it was made with another embedding model)


def sync_collection(client, name: str, chunks, embed, *, about: dict, batch_size: int = 256,
                    on_batch=None) -> SyncResult:
    """Makes collection `name` hold exactly `chunks`: only those it lacks are embedded (`embed(texts)` ->
    vectors) and added, those no longer wanted are deleted. `about` (embedding model and dimension) is kept
    in the collection's metadata; a collection made with another is emptied first, and the result says why."""
    rebuilt = None
    try:
        collection = client.get_collection(name, embedding_function=None)
        stored = collection.metadata or {}
        differs = {key: (stored.get(key), value) for key, value in about.items() if stored.get(key) != value}
        if differs:
            rebuilt = "; ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in differs.items())
            client.delete_collection(name)
            collection = None
    except Exception:  # absent: made below
        collection = None
    if collection is None:
        # embedding_function=None: Chroma's default would download a model at run time.
        collection = client.create_collection(name, embedding_function=None,
                                              metadata={"hnsw:space": "cosine", **about})
    existing = set(collection.get(include=[])["ids"])
    wanted = {c.id for c in chunks}
    stale = sorted(existing - wanted)
    for start in range(0, len(stale), batch_size * 4):
        collection.delete(ids=stale[start:start + batch_size * 4])
    new = [c for c in chunks if c.id not in existing]
    for start in range(0, len(new), batch_size):
        part = new[start:start + batch_size]
        collection.add(ids=[c.id for c in part], embeddings=embed([c.text for c in part]),
                       documents=[c.text for c in part],
                       metadatas=[{"source": c.source, "doc_id": c.doc_id} for c in part])
        if on_batch:
            on_batch(start + len(part), len(new))
    return SyncResult(collection, len(new), len(stale), len(wanted) - len(new), rebuilt)


def query(collection, embedding: list[float], k: int) -> list[Hit]:
    result = collection.query(query_embeddings=[embedding], n_results=k,
                              include=["documents", "metadatas", "distances"])
    return [Hit(chunk_id, meta.get("source", ""), text, float(distance))
            for chunk_id, text, meta, distance in zip(result["ids"][0], result["documents"][0],
                                                      result["metadatas"][0], result["distances"][0])]
