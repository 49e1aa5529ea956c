"""RAG against a real Chroma server (`chroma run`, started and stopped here): the same retrieval as the embedded
store; a server that does not answer, cannot be talked to or wants a token is one clear line before any model
loads; a token comes from the environment; a server stopped while indexing is resumed from the chunks it stored."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from chroma_fakes import routes, serving, token_proxy

import advisor


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_chroma(path: Path, port: int) -> subprocess.Popen:
    """`chroma run` with its data in `path`, once it answers on `port`; the caller stops it."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        pytest.fail("the chroma command (installed with chromadb) is missing from the virtual environment")
    server = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).read()
            return server
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"chroma run stopped with exit code {server.returncode}")
            time.sleep(0.1)
    _stop(server)
    pytest.fail("the Chroma server did not answer within 30 s")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def chroma_server(tmp_path):
    """The URL of a `chroma run` server with its data in tmp_path, up until the test ends."""
    port = _free_port()
    server = _start_chroma(tmp_path / "server", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(server)


def test_rag_on_a_chroma_server_retrieves_what_the_embedded_store_does(chroma_server, tiny_corpus, tiny_model_dir,
                                                                       tmp_path, fast_options):
    corpus, qa = tiny_corpus
    options = {**fast_options, "full_context": False, "goal": "knowledge", "qa": qa,
               "base_model": str(tiny_model_dir)}
    served = advisor.advise(corpus, out=str(tmp_path / "served"), chroma_url=chroma_server, **options)
    embedded = advisor.advise(corpus, out=str(tmp_path / "embedded"), **options)
    assert "Chroma server " + chroma_server in " ".join(served.arms["rag"].notes)
    import chromadb

    port = int(chroma_server.rsplit(":", 1)[1])
    collections = chromadb.HttpClient(host="127.0.0.1", port=port).list_collections()
    assert len(collections) == 1 and collections[0].count() > 0  # the chunks went to the server
    assert not (tmp_path / "served" / "index").exists() or not any((tmp_path / "served" / "index").iterdir())
    for name in ("retrieval_hit_rate", "retrieval_mrr", "answer_containment"):
        assert served.arms["rag"].quality[name]["value"] == embedded.arms["rag"].quality[name]["value"], name
    assert ([s["answer"] for s in served.arms["rag"].details["samples"]]
            == [s["answer"] for s in embedded.arms["rag"].details["samples"]])


def test_a_chroma_server_that_does_not_answer_is_one_clear_line_before_any_model_loads(tiny_corpus, tmp_path,
                                                                                      run_cli):
    corpus, qa = tiny_corpus
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    started = time.perf_counter()
    done = run_cli("run", corpus, "--qa", qa, "--chroma-url", url, "--base-model", "someone/uncached-model",
                   "--out", tmp_path / "run", "--quiet")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"Chroma server at {url} did not answer" in done.stderr
    assert "chroma run --path" in done.stderr  # how to start one
    assert "uncached-model" not in done.stderr  # the server is said before the model is looked for
    assert time.perf_counter() - started < 60


@pytest.mark.parametrize("table, said, hint", [
    ({"/api/v1/version": (200, "0.4.24")}, "is version 0.4.24; this chromadb", "start a Chroma 1.x server with"),
    ({}, "does not answer as a Chroma server (HTTP 404 on /api/v2/heartbeat", "check the URL and port"),
], ids=["chroma-0.4", "not-chroma"])
def test_a_server_this_client_cannot_talk_to_is_one_clear_line_before_any_model_loads(table, said, hint, tiny_corpus,
                                                                                      tmp_path, run_cli):
    import chromadb

    corpus, qa = tiny_corpus
    with serving(routes(table)) as (url, _):
        done = run_cli("run", corpus, "--qa", qa, "--chroma-url", url, "--base-model", "someone/uncached-model",
                       "--out", tmp_path / "run", "--quiet")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert url in done.stderr and said in done.stderr and hint in done.stderr
    assert chromadb.__version__ in done.stderr
    assert "uncached-model" not in done.stderr  # the server is said before the model is looked for


def test_a_token_from_the_environment_opens_a_server_that_wants_one(chroma_server, tiny_corpus, tiny_model_dir,
                                                                      tmp_path, fast_options, run_cli, monkeypatch):
    # The installed `chroma run` (Rust, chromadb 1.x) has no token auth of its own: a proxy in front of it asks
    # for the token, as a reverse proxy in front of a shared server does.
    corpus, qa = tiny_corpus
    env = {key: value for key, value in os.environ.items() if key != "ADVISOR_CHROMA_TOKEN"}
    with serving(token_proxy(chroma_server, "s3cret")) as (url, seen):
        cli_args = ("run", corpus, "--qa", qa, "--chroma-url", url, "--base-model", "someone/uncached-model",
                    "--out", tmp_path / "refused", "--quiet")
        refused = run_cli(*cli_args, env=env)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert f"Chroma server at {url} refused the request without a token (HTTP 401" in refused.stderr
        assert "set ADVISOR_CHROMA_TOKEN to the server's token" in refused.stderr
        assert "uncached-model" not in refused.stderr
        wrong = run_cli(*cli_args, env={**env, "ADVISOR_CHROMA_TOKEN": "guess"})
        assert wrong.returncode == 2 and "refused the request with the token given" in wrong.stderr
        assert "check the token in ADVISOR_CHROMA_TOKEN" in wrong.stderr and "guess" not in wrong.stderr

        monkeypatch.setenv("ADVISOR_CHROMA_TOKEN", "s3cret")
        served = advisor.advise(corpus, qa=qa, out=str(tmp_path / "served"), chroma_url=url, base_model=str(
            tiny_model_dir), **{**fast_options, "full_context": False})
    assert "Chroma server " + url in " ".join(served.arms["rag"].notes)
    adds = [path for method, path, headers in seen if path.endswith("/add") and
            headers.get("authorization") == "Bearer s3cret"]
    assert adds  # the chunks went through the proxy, with the token
    assert "s3cret" not in (tmp_path / "served" / "config.json").read_text()  # a secret stays out of the run folder


def test_a_server_stopped_while_indexing_is_resumed_from_the_chunks_it_stored(tiny_corpus, tiny_model_dir, tmp_path,
                                                                            capsys, monkeypatch):
    import chromadb
    from chromadb.api.fastapi import FastAPI

    import rag.retrieval
    from advisor import cli

    corpus, qa = tiny_corpus
    port, data, run_dir = _free_port(), tmp_path / "server", tmp_path / "run"
    url = f"http://127.0.0.1:{port}"
    # A server that takes two records a request: the index goes in several batches, and the first is stored
    # before the server stops.
    monkeypatch.setattr(FastAPI, "get_max_batch_size", lambda self: 2)
    # The CLI in this process: pytest's own Ctrl-C handler and environment stay as they were.
    monkeypatch.setattr(cli, "_stop_on_ctrl_c", lambda console: None)
    monkeypatch.setattr(cli, "_quiet_libraries", lambda: None)
    embedded = []  # the texts of each embedding call
    server = {"process": _start_chroma(data, port), "stop_at_call": 2}
    real_embed = rag.retrieval.embed_texts

    def embed(embedder, texts):
        embedded.append(list(texts))
        if len(embedded) == server["stop_at_call"]:
            _stop(server["process"])  # batch 1 is on the server; batch 2 will find nobody there
        return real_embed(embedder, texts)

    monkeypatch.setattr(rag.retrieval, "embed_texts", embed)
    try:
        stopped = cli.main(["run", str(corpus), "--qa", str(qa), "--chroma-url", url, "--base-model",
                            str(tiny_model_dir), "--out", str(run_dir), "--quiet", "--device", "cpu",
                            "--max-train-steps", "2", "--max-new-tokens", "4", "--tune-embeddings", "never",
                            "--no-full-context"])
        printed = capsys.readouterr().err
        said = printed.strip().splitlines()[-1]  # in this process, the models' loading bars come before it
        assert stopped == 2 and "Traceback" not in printed and said.startswith("error: Vector store problem"), said
        assert f"Chroma server at {url} stopped answering during building the RAG index" in said
        assert f"advisor run --resume {run_dir}" in said
        first_batch = set(embedded[0])
        assert len(first_batch) == 2

        server.update(process=_start_chroma(data, port), stop_at_call=None)
        embedded.clear()
        resumed = cli.main(["run", "--resume", str(run_dir), "--quiet"])
        assert resumed == 0, capsys.readouterr().err
        stored = chromadb.HttpClient(host="127.0.0.1", port=port).list_collections()
        assert len(stored) == 1
        chunk_texts = stored[0].get(include=["documents"])["documents"]
    finally:
        _stop(server["process"])
    notes = " ".join(json.loads((run_dir / "report.json").read_text())["arms"]["rag"]["notes"])
    chunks = int(re.search(r"top-\d+ of (\d+) chunks", notes).group(1))
    assert len(chunk_texts) == chunks > 4  # every chunk of the training documents, as the embedded store holds
    assert f"{chunks - 2} new chunk(s), 0 removed, 2 kept" in notes
    again = [text for call in embedded for text in call if text in set(chunk_texts)]
    assert not first_batch & set(again)  # the chunks stored before the server stopped were not embedded again
    assert sorted(again) == sorted(set(chunk_texts) - first_batch)  # and the others once each
