"""Incremental indexing: an index brought up to date holds what a full build of the same documents holds."""

import numpy as np
import pytest

from advisor.config import DEFAULT_EMBEDDING_MODEL
from advisor.corpus.loading import Document
from advisor.models import load_embedder, resolve_embedding_model
from rag.retrieval import Retriever, build_index
from rag.store import open_client

TOPICS = ["the morning ferry to Oskary", "the harbour master's office", "winter timetables", "the night mail run",
          "vehicle tariffs", "the lifeboat station", "pets on board", "the island school", "the dry dock",
          "the great storm of 1952"]


def _documents(topics):
    return [Document(f"{i}.md", f"{i}.md", " ".join(f"Paragraph {j} is about {topic}, and says something new about "
                                                    f"{topic} in its {j}th sentence." for j in range(12)))
            for i, topic in topics]


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(resolve_embedding_model(DEFAULT_EMBEDDING_MODEL), "cpu")


def _contents(collection) -> dict:
    got = collection.get(include=["documents", "metadatas", "embeddings"])
    return {i: (d, m["source"], np.asarray(e)) for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"],
                                                                    got["embeddings"])}


def test_an_updated_index_equals_a_full_build_and_embeds_only_what_changed(tmp_path, embedder):
    first = _documents(enumerate(TOPICS))
    client = open_client(path=str(tmp_path / "incremental"))
    _, chunks, built = build_index(first, embedder, client, chunk_size=48, chunk_overlap=8, collection_name="idx")
    assert built.added == built.chunks == len(chunks) > len(first) and built.kept == built.deleted == 0

    # One document edited, one removed, one added: the rest of the index stays as it was.
    second = list(first)
    second[2] = Document("2.md", "2.md", second[2].text.replace("winter", "summer"))
    del second[5]
    second += _documents([(10, "the new pier at Marrowmere")])
    collection, new_chunks, updated = build_index(second, embedder, client, chunk_size=48, chunk_overlap=8,
                                                  collection_name="idx")
    untouched = {c.id for c in chunks if c.doc_id not in ("2.md", "5.md")}
    assert updated.kept == len(untouched) and updated.added + updated.kept == updated.chunks == len(new_chunks)
    assert updated.deleted == len([c for c in chunks if c.doc_id in ("2.md", "5.md")]) - \
        len({c.id for c in chunks if c.doc_id == "2.md"} & {c.id for c in new_chunks})
    assert updated.added < 0.5 * updated.chunks  # only the edited and the new documents were embedded

    full, _, _ = build_index(second, embedder, open_client(path=str(tmp_path / "full")), chunk_size=48,
                             chunk_overlap=8, collection_name="idx")
    a, b = _contents(collection), _contents(full)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key][:2] == b[key][:2] and np.allclose(a[key][2], b[key][2], atol=1e-5)
    question = "When does the ferry leave for the new pier?"
    hits = [[h.chunk_id for h in Retriever(embedder, c, 3).retrieve(question)[0]] for c in (collection, full)]
    assert hits[0] == hits[1]


def test_a_collection_made_with_another_embedding_model_is_emptied_and_built_again(tmp_path, embedder):
    client = open_client(path=str(tmp_path / "store"))
    docs = _documents(enumerate(TOPICS[:3]))
    build_index(docs, embedder, client, chunk_size=48, chunk_overlap=8, collection_name="idx",
                about={"embedding_model": "someone/other-model"})
    collection, _, again = build_index(docs, embedder, client, chunk_size=48, chunk_overlap=8, collection_name="idx",
                                       about={"embedding_model": "all-MiniLM-L6-v2"})
    assert again.rebuilt and "someone/other-model" in again.rebuilt and again.kept == 0
    assert collection.metadata["embedding_model"] == "all-MiniLM-L6-v2" and collection.metadata["dimension"] == 384
