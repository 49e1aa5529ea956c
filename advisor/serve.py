"""Answers a question from an exported winner (`advisor export`) the way the run answered its held-out ones."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from advisor.errors import ExportError
from advisor.export import EXPORT_FILE, RAG_FILE


@dataclass(frozen=True)
class ServedAnswer:
    answer: str  # the first line of what the model wrote, as the run scored it
    sources: list[str] = field(default_factory=list)  # the retrieved passages' documents, best first
    seconds: float = 0.0


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise ExportError(f"{str(path.parent)!r} is not an export folder (no {path.name})",
                          hint="pass a folder written by `advisor export`") from None
    except ValueError as exc:
        raise ExportError(f"{str(path)!r} is not readable JSON ({exc})") from None


def ask(export_dir: str | Path, question: str) -> ServedAnswer:
    """The exported model's answer to `question`, with the passages retrieved as the run retrieved them when the
    export holds an index: same prompt, greedy decoding, first line."""
    from advisor.measure.metrics import first_line
    from advisor.models import ResolvedModel, load_generator, resolve_embedding_model, resolve_model
    from rag.generation import generate
    from rag.prompting import build_prompt

    folder = Path(export_dir).expanduser()
    about = _read(folder / EXPORT_FILE)
    settings = _read(folder / RAG_FILE) if (folder / RAG_FILE).is_file() else None
    if (folder / "model").is_dir():
        generator = ResolvedModel("exported model", str(folder / "model"), "local folder")
    elif settings is not None:
        generator = resolve_model(settings["generator"])
    else:
        raise ExportError(f"{str(folder)!r} holds no model that transformers can load (a GGUF-only export)",
                          hint="serve it with Ollama or llama.cpp, or export again with --to hf")
    model, tokenizer = load_generator(generator, "cpu")
    started = time.perf_counter()
    passages, sources = None, []
    if settings is not None:
        import chromadb
        from chromadb.config import Settings

        from advisor.models import load_embedder
        from rag.retrieval import Retriever

        embedding = settings["embedding_model"]
        embedder = load_embedder(ResolvedModel(embedding, str(folder / embedding), "local folder")
                                 if (folder / embedding).is_dir() else resolve_embedding_model(embedding), "cpu")
        client = chromadb.PersistentClient(path=str(folder / "index"), settings=Settings(anonymized_telemetry=False))
        retriever = Retriever(embedder, client.get_collection(settings["collection"], embedding_function=None),
                              settings["top_k"])
        hits, _ = retriever.retrieve(question)
        passages, sources = [hit.text for hit in hits], [hit.source for hit in hits]
    generation = generate(model, tokenizer, build_prompt(tokenizer, question, passages),
                          about.get("max_new_tokens", 32))
    return ServedAnswer(first_line(generation.text), sources, time.perf_counter() - started)
