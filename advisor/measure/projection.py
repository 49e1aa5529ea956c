"""Estimates beyond what was measured (the full corpus, more passes, a larger base model), each with its formula."""

from __future__ import annotations

import json
from pathlib import Path

# The default larger model to project to: a 7B Llama-architecture decoder (Llama 2 7B's shape).
EXAMPLE_7B = {"name": "a 7B Llama-architecture model (example)", "hidden_size": 4096, "num_hidden_layers": 32,
              "intermediate_size": 11008, "num_attention_heads": 32, "num_key_value_heads": 32,
              "vocab_size": 32000, "tie_word_embeddings": False}
GIB = 1024 ** 3
HEADROOM = 1.2  # activations, buffers and the CUDA context on top of the states counted


def parameters_text(parameters: int) -> str:
    return f"{parameters / 1e9:.2f}B" if parameters >= 1e9 else f"{parameters / 1e6:.1f}M"


def parameter_count(config: dict) -> int:
    """Parameters of a Llama-style decoder from its config: embeddings, attention (with grouped
    key/value heads), gated MLP, norms, and an output head unless it is tied to the embeddings."""
    h, layers, inter = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    heads = config.get("num_attention_heads", 1)
    kv_dim = h * config.get("num_key_value_heads", heads) // heads
    vocab = config["vocab_size"]
    per_layer = 2 * h * h + 2 * h * kv_dim + 3 * h * inter + 2 * h
    head = 0 if config.get("tie_word_embeddings", False) else vocab * h
    return vocab * h + layers * per_layer + h + head


def read_model_config(name_or_path: str) -> dict | None:
    """config.json of a local folder or of a hub model (the local cache, or the hub when reachable)."""
    folder = Path(name_or_path).expanduser()
    try:
        if folder.is_dir():
            return json.loads((folder / "config.json").read_text(encoding="utf-8"))
        from huggingface_hub import hf_hub_download  # a hub id

        return json.loads(Path(hf_hub_download(name_or_path, "config.json")).read_text(encoding="utf-8"))
    except Exception:  # unreadable or unreachable: the caller falls back to the example
        return None


def project(measured: dict, *, corpus_tokens: int, epochs: float, larger: dict, memory_gib: dict[str, float],
            usd_per_hour: float) -> dict:
    """`measured`: {"seconds", "tokens", "parameters"} of the LoRA run; `larger`: a model config with a
    "name". Returns estimates, each with the formula it came from."""
    per_token = measured["seconds"] / measured["tokens"] if measured["tokens"] else float("nan")
    full_tokens = corpus_tokens * epochs
    full_seconds = per_token * full_tokens
    n_small, n_large = measured["parameters"], parameter_count(larger)
    scale = n_large / n_small
    lora_seconds = full_seconds * scale
    # Training FLOPs: full fine-tuning about 6·N·D (forward 2, backward 4); LoRA about 4·N·D (the
    # frozen weights need no weight gradients).
    full_ft_seconds = lora_seconds * 6 / 4
    lora_memory = 2 * n_large * HEADROOM / GIB  # bf16 weights; the adapter and its optimizer are small
    full_memory = 16 * n_large * HEADROOM / GIB  # bf16 weights and gradients, fp32 master copy and Adam's two states

    def fits(gib: float) -> list[str]:
        return sorted((card for card, size in memory_gib.items() if size >= gib), key=memory_gib.get)

    return {
        "full_corpus": {
            "tokens": full_tokens, "seconds": full_seconds, "usd": full_seconds * usd_per_hour / 3600,
            "formula": f"measured {per_token * 1000:.2f} s per 1,000 real tokens × {corpus_tokens:,} corpus tokens "
                       f"× {epochs:g} passes"},
        "larger_model": {
            "name": larger.get("name", "the named model"), "parameters": n_large,
            "lora_seconds_here": lora_seconds, "full_finetune_seconds_here": full_ft_seconds,
            "lora_usd_here": lora_seconds * usd_per_hour / 3600,
            "lora_memory_gib": lora_memory, "full_finetune_memory_gib": full_memory,
            "lora_fits": fits(lora_memory), "full_finetune_fits": fits(full_memory),
            "formula": f"time scales with parameters ({parameters_text(n_large)} / {parameters_text(n_small)} = {scale:,.0f}×) on "
                       "this hardware; full fine-tuning costs about 6·N·D FLOPs against LoRA's 4·N·D; memory: "
                       "LoRA 2 bytes per parameter (bf16 weights), full fine-tuning 16 (weights, gradients, fp32 "
                       f"master copy, Adam's two states), both × {HEADROOM} for activations"},
    }


def repriced(projections: dict, usd_per_hour: float) -> dict:
    """The projections at another price per hour: each estimate's USD again from its seconds, which stay."""
    full, large = projections["full_corpus"], projections["larger_model"]
    return {**projections, "full_corpus": {**full, "usd": full["seconds"] * usd_per_hour / 3600},
            "larger_model": {**large, "lora_usd_here": large["lora_seconds_here"] * usd_per_hour / 3600}}
