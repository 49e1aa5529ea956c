"""The Chroma store without a model: batches within the store's own limit, a sync stopped midway goes on from what
was stored, and a server that is not a Chroma this client can talk to is told apart from one that is."""

from types import SimpleNamespace

import pytest
from chroma_fakes import routes, serving

from rag.store import StoreIncompatible, StoreRefused, StoreUnavailable, check_server, sync_collection

CLIENT = "1.5.9"
CHROMA_1 = {"/api/v2/heartbeat": (200, {"nanosecond heartbeat": 1}), "/api/v2/version": (200, "1.0.0"),
            "/api/v2/auth/identity": (200, {"user_id": "", "tenant": "default_tenant"})}


class FakeCollection:
    def __init__(self, fail_on_add: int | None = None):
        self.ids: list[str] = []
        self.adds: list[int] = []  # the size of each add
        self.fail_on_add = fail_on_add
        self.metadata = {}

    def get(self, include):
        return {"ids": list(self.ids)}

    def add(self, ids, embeddings, documents, metadatas):
        if len(self.adds) + 1 == self.fail_on_add:
            raise ConnectionError("the server went away")
        self.adds.append(len(ids))
        self.ids += ids

    def delete(self, ids):
        self.ids = [i for i in self.ids if i not in ids]


class FakeClient:
    """A client whose store takes at most `largest` records a request (-1: no limit said)."""

    def __init__(self, largest: int, collection: FakeCollection):
        self.largest, self.collection, self.made = largest, collection, False

    def get_max_batch_size(self) -> int:
        return self.largest

    def get_collection(self, name, embedding_function=None):
        from chromadb.errors import NotFoundError

        if not self.made:
            raise NotFoundError(f"Collection [{name}] does not exist")
        return self.collection

    def create_collection(self, name, embedding_function=None, metadata=None):
        self.made = True
        self.collection.metadata = metadata
        return self.collection


CHUNKS = [SimpleNamespace(id=f"c{i}", text=f"chunk {i}", source="a.md", doc_id="a.md") for i in range(10)]


def _embedder(calls):
    def embed(texts):
        calls.append(list(texts))
        return [[float(len(t)), 1.0] for t in texts]
    return embed


@pytest.mark.parametrize("largest, sizes", [(3, [3, 3, 3, 1]), (-1, [10]), (5461, [10])])
def test_no_batch_is_larger_than_the_store_takes(largest, sizes):
    collection, calls = FakeCollection(), []
    synced = sync_collection(FakeClient(largest, collection), "idx", CHUNKS, _embedder(calls), about={})
    assert collection.adds == sizes and [len(c) for c in calls] == sizes
    assert synced.added == 10 and sorted(collection.ids) == sorted(c.id for c in CHUNKS)


def test_a_sync_stopped_midway_goes_on_from_the_batches_already_stored():
    collection, calls = FakeCollection(fail_on_add=2), []
    client = FakeClient(4, collection)
    with pytest.raises(ConnectionError):
        sync_collection(client, "idx", CHUNKS, _embedder(calls), about={})
    assert collection.adds == [4]
    stored = set(collection.ids)
    collection.fail_on_add, calls[:] = None, []
    synced = sync_collection(client, "idx", CHUNKS, _embedder(calls), about={})
    again = {text for batch in calls for text in batch}
    assert again == {c.text for c in CHUNKS if c.id not in stored}  # the first batch is not embedded again
    assert (synced.kept, synced.added) == (4, 6) and len(collection.ids) == 10


def test_a_chroma_server_of_the_clients_major_version_passes():
    with serving(routes(CHROMA_1)) as (url, _):
        assert check_server(url, {}, CLIENT) == "1.0.0"


@pytest.mark.parametrize("table, server_version", [
    ({"/api/v1/version": (200, "0.4.24")}, "0.4.24"),  # before 0.6: /api/v1 only
    ({**CHROMA_1, "/api/v2/version": (200, "0.6.3")}, "0.6.3"),  # /api/v2, an older major version
    ({**CHROMA_1, "/api/v2/version": (200, "2.0.1")}, "2.0.1"),  # a newer one
    ({}, None),  # not Chroma at all: 404 everywhere
    ({"/api/v2/heartbeat": (200, "<html>a web page</html>")}, None),
])
def test_a_server_this_client_cannot_talk_to_says_both_versions(table, server_version):
    with serving(routes(table)) as (url, _):
        with pytest.raises(StoreIncompatible) as raised:
            check_server(url, {}, CLIENT)
    assert raised.value.server_version == server_version and raised.value.client_version == CLIENT
    message = str(raised.value)
    assert url in message and CLIENT in message and (server_version is None or server_version in message)


def test_a_server_that_wants_a_token_refuses_without_it_and_lets_the_right_one_through():
    def answer(method, path, headers, body):
        if path != "/api/v2/heartbeat" and headers.get("authorization") != "Bearer s3cret":
            return 401, {"error": "AuthError", "message": "Unauthorized"}  # heartbeat open, as Chroma's own
        return CHROMA_1[path]

    with serving(answer) as (url, seen):
        with pytest.raises(StoreRefused) as refused:
            check_server(url, {}, CLIENT)
        assert not refused.value.token_given and "without a token" in str(refused.value) and "401" in str(refused.value)
        with pytest.raises(StoreRefused) as wrong:
            check_server(url, {"Authorization": "Bearer nope"}, CLIENT)
        assert wrong.value.token_given and "with the token given" in str(wrong.value)
        assert check_server(url, {"Authorization": "Bearer s3cret"}, CLIENT) == "1.0.0"
        assert seen[-1][2]["authorization"] == "Bearer s3cret"


def test_nothing_listening_is_a_server_that_did_not_answer():
    import socket

    with socket.socket() as probe:  # a port just freed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreUnavailable) as raised:
        check_server(f"http://127.0.0.1:{port}", {}, CLIENT)
    assert type(raised.value) is StoreUnavailable and "did not answer" in str(raised.value)
