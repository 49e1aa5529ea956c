"""RAG against a real Chroma server (`chroma run`, started and stopped here): the same retrieval as the embedded
store, and a server that does not answer is one clear line before any model loads."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import advisor


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    """The URL of a `chroma run` server with its data in tmp_path, up until the test ends."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        pytest.fail("the chroma command (installed with chromadb) is missing from the virtual environment")
    port = _free_port()
    server = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"chroma run stopped with exit code {server.returncode}")
                time.sleep(0.1)
        else:
            pytest.fail("the Chroma server did not answer within 30 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


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
