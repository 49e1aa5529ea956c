"""The models stage: the base model and the embedding model resolved (or a stand-in built) and loaded."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from advisor.cache import fingerprint, model_fingerprint
from advisor.corpus.loading import Corpus
from advisor.errors import ModelNotFoundError
from advisor.measure.summary import RANDOM_WEIGHTS
from advisor.stages.context import RunContext


@dataclass
class LoadedModels:
    """The resolved and loaded models of a run; `key` is what the base model's answers depend on."""

    reference: object  # ResolvedModel of the base model
    embedding: object  # ResolvedModel of the embedding model
    base: object  # the base model: the fine-tune trains on these very weights, after every arm that needs them
    tokenizer: object
    embedder: object
    device: str
    key: str
    base_parameters: int = 0  # counted when loaded: the fine-tune adds adapters to `base` in place


def load_models(ctx: RunContext, corpus: Corpus, fallback_dir: Path | None = None) -> LoadedModels:
    """The run's models on its device; with --offline-fallback, a base model that cannot be had is replaced by a
    stand-in with random weights built in `fallback_dir` (the run folder's by default)."""
    from advisor.measure.hardware import resolve_device
    from advisor.models import load_embedder, load_generator, resolve_embedding_model

    cfg = ctx.config
    ctx.progress("models", 0, 2, "the base model (a GGUF file is converted once, in under a minute)")
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    base_ref = resolve_base_model(ctx, corpus, fallback_dir or ctx.fallback_dir)
    if base_ref.note and base_ref.origin != "built locally":  # the stand-in has its own warning
        ctx.warn(f"Base model: {base_ref.note}.")
    embed_ref = resolve_embedding_model(cfg.embedding_model)
    if embed_ref.note:
        ctx.warn(f"Embedding model: {embed_ref.note}.")
    model, tokenizer = load_generator(base_ref, device)
    ctx.progress("models", 1, 2, f"base model from {base_ref.origin}")
    embedder = load_embedder(embed_ref, device)
    ctx.progress("models", 2, 2, f"embeddings from {embed_ref.origin}")
    # Everything the base model's answers depend on besides the questions.
    key = fingerprint(model_fingerprint(base_ref.path), device, cfg.seed, cfg.max_new_tokens, cfg.format_regex)
    return LoadedModels(base_ref, embed_ref, model, tokenizer, embedder, device, key,
                        sum(p.numel() for p in model.parameters()))


def resolve_base_model(ctx: RunContext, corpus: Corpus, fallback_dir: Path):
    from advisor.models import ResolvedModel, build_tiny_model, resolve_model

    cfg = ctx.config
    try:
        return resolve_model(cfg.base_model)
    except ModelNotFoundError as exc:
        if not cfg.offline_fallback:
            raise
        if not (fallback_dir / "model.safetensors").is_file():  # deterministic: an earlier run's is the same
            build_tiny_model([d.text for d in corpus.documents], fallback_dir, seed=cfg.seed)
        ctx.warn(f"BASE MODEL NOT AVAILABLE ({exc.message}). Using a small local model built "
                 f"just now with RANDOM WEIGHTS instead: the pipeline runs end to end, but "
                 f"{RANDOM_WEIGHTS}.")
        return ResolvedModel(cfg.base_model + " (unavailable; local stand-in)", str(fallback_dir),
                             "built locally", "random weights, built because the base model could not be had")


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
