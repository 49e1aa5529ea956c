"""Nothing leaves the machine: the whole offline pipeline runs with every outgoing connection refused."""

import socket

import pytest

import advisor
from advisor.config import DEFAULT_EMBEDDING_MODEL

LOCAL = ("localhost", "127.0.0.1", "::1", "", None)


@pytest.fixture
def network_attempts(monkeypatch):
    """Every attempt to look up or reach another host, from any thread; each one is refused."""
    attempts = []
    real_getaddrinfo = socket.getaddrinfo

    def refuse_connect(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(("connect", address))
            raise ConnectionRefusedError(f"test blocks outgoing connections ({address})")
        return real_connect(self, address, *args)

    def refuse_lookup(host, *args, **kwargs):
        if host not in LOCAL:
            attempts.append(("lookup", host))
            raise socket.gaierror(f"test blocks name lookups ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: refuse_connect(self, address))
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    return attempts


def test_the_offline_pipeline_makes_no_connection(network_attempts, tiny_corpus, tiny_gguf, tmp_path):
    corpus, qa = tiny_corpus
    # A GGUF base model (converted into the user's cache) and the default embedding model id,
    # which offline resolves to the weights its package ships: every model path of a real run.
    report = advisor.advise(corpus, goal="knowledge", qa=qa, base_model=str(tiny_gguf),
                            embedding_model=DEFAULT_EMBEDDING_MODEL, out=str(tmp_path / "run"),
                            max_train_steps=2, device="cpu", max_new_tokens=4, tune_embeddings="never")
    assert report.models.base["origin"] == "GGUF file"
    assert report.models.embedding["origin"] == "bundled package"
    assert network_attempts == []


def test_the_guard_itself_catches_a_connection(network_attempts):
    with pytest.raises(OSError):
        socket.create_connection(("example.org", 80), timeout=1)
    assert network_attempts
