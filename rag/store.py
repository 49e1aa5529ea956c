"""The Chroma vector store: embedded in a folder by default, or a Chroma server."""

from __future__ import annotations

from dataclasses import dataclass


class StoreUnavailable(RuntimeError):
    """The Chroma server could not be reached or refused the request."""


class StoreRefused(StoreUnavailable):
    """The Chroma server answered 401 or 403: a token is missing or wrong."""

    def __init__(self, message: str, *, token_given: bool):
        super().__init__(message)
        self.token_given = token_given


class StoreIncompatible(StoreUnavailable):
    """Something answers at the URL, but not a Chroma server this client can talk to."""

    def __init__(self, message: str, *, server_version: str | None, client_version: str):
        super().__init__(message)
        self.server_version, self.client_version = server_version, client_version


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    source: str
    text: str
    distance: float


def open_client(path: str | None = None, url: str | None = None, *, token: str | None = None):
    """A PersistentClient in `path`, or an HttpClient for `url` (http://host:port) once the server there has
    answered as a Chroma server of this client's major version; `token` is sent to it on every request."""
    import chromadb  # heavy; only the RAG arm needs it
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if not url:
        return chromadb.PersistentClient(path=path, settings=settings)
    from urllib.parse import urlparse

    # A server behind token auth reads one of the two, depending on its settings (Chroma's own token
    # provider reads Authorization by default, X-Chroma-Token when configured so; proxies mostly Authorization).
    headers = {"Authorization": f"Bearer {token}", "X-Chroma-Token": token} if token else {}
    check_server(url, headers, chromadb.__version__)
    parsed = urlparse(url)
    try:
        client = chromadb.HttpClient(host=parsed.hostname or "localhost", port=parsed.port or 8000,
                                     ssl=parsed.scheme == "https", headers=headers, settings=settings)
        client.heartbeat()
    except Exception as exc:
        raise StoreUnavailable(f"Chroma server at {url} did not answer ({exc})") from exc
    return client


def check_server(url: str, headers: dict, client_version: str, timeout: float = 10.0) -> str:
    """The version of the Chroma server at `url`, asked before chromadb's own client is made (which, against
    an old or foreign server, fails with the bare body of a 404); raises what makes it unusable."""
    import httpx  # chromadb's own HTTP library

    base = url.rstrip("/")

    def get(http, path):
        answer = http.get(base + path)
        if answer.status_code in (401, 403):
            said = "with the token given" if headers else "without a token"
            raise StoreRefused(f"Chroma server at {url} refused the request {said} (HTTP {answer.status_code} "
                               f"on {path})", token_given=bool(headers))
        return answer

    try:
        with httpx.Client(headers=headers, timeout=timeout) as http:
            beat = get(http, "/api/v2/heartbeat")
            alive = _json(beat)
            if beat.status_code == 200 and isinstance(alive, dict) and "nanosecond heartbeat" in alive:
                version = _json(get(http, "/api/v2/version"))
                get(http, "/api/v2/auth/identity")  # where a server that wants a token says so, if not before
            else:  # Chroma before 0.6 spoke only /api/v1 (and 1.x answers 410 Gone there)
                old = get(http, "/api/v1/version")
                version = _json(old) if old.status_code == 200 else None
                if not isinstance(version, str):
                    raise StoreIncompatible(
                        f"{url} does not answer as a Chroma server (HTTP {beat.status_code} on /api/v2/heartbeat, "
                        f"where this chromadb {client_version} client asks)", server_version=None,
                        client_version=client_version)
    except httpx.HTTPError as exc:
        raise StoreUnavailable(f"Chroma server at {url} did not answer ({exc})") from exc
    major = client_version.split(".")[0]
    if not isinstance(version, str):
        raise StoreIncompatible(f"Chroma server at {url} does not say its version; this chromadb {client_version} "
                                f"client talks to Chroma {major}.x servers only", server_version=None,
                                client_version=client_version)
    if version.split(".")[0] != major:
        raise StoreIncompatible(f"Chroma server at {url} is version {version}; this chromadb {client_version} "
                                f"client talks to Chroma {major}.x servers only", server_version=version,
                                client_version=client_version)
    return version


def _json(response):
    """The body as JSON, if it is a JSON object or string; else None (a foreign server's HTML page)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, (dict, str)) else None


def server_gone(exc: BaseException) -> bool:
    """Whether `exc` says the Chroma server stopped answering (refused, reset or dropped a connection)."""
    import httpx

    return isinstance(exc, httpx.TransportError)


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
    vectors) and added, `batch_size` at a time or fewer if the store takes fewer, and those no longer wanted are
    deleted. `about` (embedding model and dimension) is kept in the collection's metadata; a collection made
    with another is emptied first, and the result says why. Stopped midway, it keeps the batches already added:
    the next call embeds only the rest."""
    from chromadb.errors import NotFoundError

    rebuilt = None
    try:
        collection = client.get_collection(name, embedding_function=None)
        stored = collection.metadata or {}
        differs = {key: (stored.get(key), value) for key, value in about.items() if stored.get(key) != value}
        if differs:
            rebuilt = "; ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in differs.items())
            client.delete_collection(name)
            collection = None
    except NotFoundError:  # made below
        collection = None
    if collection is None:
        # embedding_function=None: Chroma's default would download a model at run time.
        collection = client.create_collection(name, embedding_function=None,
                                              metadata={"hnsw:space": "cosine", **about})
    largest = client.get_max_batch_size()  # the store's own limit (-1: none): a larger batch is refused whole
    if largest > 0:
        batch_size = min(batch_size, largest)
    existing = set(collection.get(include=[])["ids"])
    wanted = {c.id for c in chunks}
    stale = sorted(existing - wanted)
    deletes = min(batch_size * 4, largest) if largest > 0 else batch_size * 4
    for start in range(0, len(stale), deletes):
        collection.delete(ids=stale[start:start + deletes])
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
