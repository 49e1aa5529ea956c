"""Shared fixtures: offline hub, a tiny corpus with QA pairs, a tiny causal LM built locally, the CLI in a
subprocess, the fast run settings and the ferry report; markers set by folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


TESTS = Path(__file__).parent
# What each folder's tests are (pyproject.toml describes the markers): `-m unit` runs the fast ones that load no
# model, `-m "not tui"` leaves out the app's.
FOLDER_MARKERS = {"unit": ("unit",), "integration": ("integration",), "calibration": ("integration",),
                  "tui": ("tui",)}
# A run that exercises every stage in seconds on the tiny model: tests change what they are about.
# Tuning the embeddings (tests/integration/test_tuned_embeddings.py) takes tens of seconds even on the tiny corpus.
FAST_OPTIONS = {"max_train_steps": 2, "device": "cpu", "max_new_tokens": 4, "tune_embeddings": "never"}
FERRY_REPORT = TESTS / "tui" / "fixtures" / "ferry-report.json"  # a real run's report.json on the ferry sample


MODEL_FIXTURES = ("tiny_model_dir", "tiny_gguf")


def pytest_collection_modifyitems(config, items):
    for item in items:
        folder = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        for marker in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(marker)
        if folder == "unit" and set(MODEL_FIXTURES) & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid} builds a model: it belongs in tests/integration, not tests/unit")


@pytest.fixture
def fast_options() -> dict:
    return dict(FAST_OPTIONS)


@pytest.fixture
def ferry_report() -> Path:
    return FERRY_REPORT


@pytest.fixture
def run_cli():
    """run_cli(*args, timeout=600, **subprocess options): `python -m advisor ARGS` in a subprocess, its output
    captured as text, no standard input (as in CI)."""
    def run(*args, timeout: float = 600, **options) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "advisor", *map(str, args)],
                              **{"capture_output": True, "text": True, "stdin": subprocess.DEVNULL, **options},
                              timeout=timeout)
    return run


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


CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_llama_tokenizer_model(texts: list[str], out: Path, architecture: str = "llama") -> Path:
    """A 2-layer model with random weights and a Llama-2 style tokenizer (BPE with byte fallback) trained in
    memory, with a ChatML template: the kind of tokenizer llama.cpp's converter reads without a known hash."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    bpe.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    bpe.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", *[f"<0x{i:02X}>" for i in range(256)]]
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="<|im_end|>",
                                        unk_token="<unk>", pad_token="<unk>")
    tokenizer.chat_template = CHATML
    config_class = {"llama": transformers.LlamaConfig, "mistral": transformers.MistralConfig}[architecture]
    torch.manual_seed(0)
    config = config_class(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=4, bos_token_id=1,
                          eos_token_id=tokenizer.eos_token_id, pad_token_id=0)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, tiny_corpus) -> Path:
    """A finished run (fine-tune and RAG arms) on a model whose tokenizer converts to GGUF: exported and planned
    by tests/integration/test_export.py and test_plan.py."""
    import advisor
    from advisor.corpus.loading import load_corpus

    corpus, qa = tiny_corpus
    texts = [d.text for d in load_corpus(corpus).documents] * 3
    model = build_llama_tokenizer_model(texts, tmp_path_factory.mktemp("llama-tokenizer-model"))
    run = tmp_path_factory.mktemp("export-run") / "run"
    advisor.advise(corpus, qa=qa, base_model=str(model), out=str(run), full_context=False,
                   **{**FAST_OPTIONS, "max_train_steps": 4})
    return run
