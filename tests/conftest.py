"""Shared fixtures: offline hub, a tiny corpus with QA pairs, and a tiny causal LM built locally."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# No test may reach a model hub: CI has none, and a hidden download would make tests flaky.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

FACTS = [
    ("Orlen Bay", "lighthouse keeper", "Mara Velt", 1894),
    ("Kessit Point", "ferry captain", "Dovan Rusk", 1902),
    ("Talmor Reach", "harbour pilot", "Ilse Varn", 1911),
    ("Brisk Cove", "net mender", "Hollis Quade", 1923),
    ("Wenmarch", "customs officer", "Petra Lund", 1931),
    ("Ashgrove Sound", "signal clerk", "Tobin Reyes", 1947),
    ("Calder Rock", "rope maker", "Enna Strow", 1952),
    ("Mirrow Flats", "dock warden", "Pell Arkin", 1968),
]


def write_tiny_corpus(root: Path) -> tuple[Path, Path]:
    """Eight short documents in three formats and a QA file of sixteen pairs."""
    corpus = root / "corpus"
    (corpus / "stations").mkdir(parents=True)
    qa = []
    for i, (place, job, name, year) in enumerate(FACTS):
        text = (f"{name} served as the {job} at {place} for many years. The station at {place} "
                f"opened in {year}. {name} kept detailed logbooks of every storm that reached {place}.")
        if i % 3 == 0:
            path = f"stations/station_{i}.md"
            body = f"# {place}\n\n{text}\n"
        elif i % 3 == 1:
            path = f"station_{i}.txt"
            body = text
        else:
            path = f"station_{i}.html"
            body = f"<html><head><style>p {{color: red}}</style></head><body><p>{text}</p></body></html>"
        (corpus / path).write_text(body, encoding="utf-8")
        qa.append({"question": f"Who was the {job} at {place}?", "answer": name, "source": path})
        qa.append({"question": f"In which year did the {place} station open?", "answer": str(year),
                   "source": path})
    qa_path = root / "qa.jsonl"
    qa_path.write_text("\n".join(json.dumps(q) for q in qa) + "\n", encoding="utf-8")
    return corpus, qa_path


@pytest.fixture(autouse=True)
def user_cache_in_tmp(tmp_path_factory, monkeypatch):
    """GGUF conversions (the user's cache) go to a folder of this test session, never ~/.cache."""
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "user-cache"))


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> tuple[Path, Path]:
    return write_tiny_corpus(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_corpus) -> Path:
    """A 2-layer Llama with random weights and a BPE tokenizer trained in memory, saved to disk.

    Tests load it back through the same from_pretrained path a real model takes.
    """
    from advisor.corpus.loading import load_corpus
    from advisor.models import build_tiny_model

    corpus, _ = tiny_corpus
    texts = [d.text for d in load_corpus(corpus).documents]
    texts += ["Question: Who was it? Answer: nobody. Context: the station opened."] * 3
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny-model"), seed=0, vocab_size=400)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny model's exact weights as a float32 GGUF file (see tests/gguf_writer.py)."""
    from gguf_writer import write_llama_gguf

    return write_llama_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny-llama.F32.gguf")
