"""Pretrains the tiny calibration model from scratch on the calibration world: python -m advisor.calibration.pretrain."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

if __name__ == "__main__":  # the pretraining script only: a process that imports this module keeps its kernels
    # Idle OpenMP threads must sleep, not spin: with another busy process on a 2-core machine, spinning
    # threads made each step ten times slower. libgomp reads this once, so it goes before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Floating-point results depend on the vector instructions the kernels use: with its default AVX-512
    # kernels, an AVX-512 machine trains a different (equally good) model than the AVX2 machine that trained
    # the shipped one. With torch's kernels and MKL pinned to their AVX2 code paths, a rerun on an AVX-512
    # machine wrote the shipped model byte for byte. Both are read once at start-up, so set before torch loads.
    # Never on import: pinned to AVX2, an AVX-512 machine's bfloat16 attention fails in a later fine-tune
    # ("pack_vnni2 is only supported when avx512 is supported").
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
    os.environ.setdefault("MKL_CBWR", "AVX2")

import torch  # noqa: E402
from transformers import (GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast,
                          get_cosine_with_min_lr_schedule_with_warmup)

from advisor.calibration.data import IGNORE_INDEX, MixConfig, Packer, PretrainStream
from advisor.calibration.evaluate import accuracy, closed_book_items, reading_items
from advisor.calibration.tokenizer import build_tokenizer
from advisor.calibration.world import DEFAULT_WORLD_SEED, World, build_world

DEFAULT_SEED = 0
METRICS_FILE = "pretrain_metrics.json"
EVAL_SEED = "calibration-eval"  # the same evaluation questions whatever the training seed


@dataclass
class ModelConfig:
    """Shape of the Llama model; about 0.96M parameters with the world's vocabulary."""

    layers: int = 3
    hidden: int = 128
    heads: int = 4
    intermediate: int = 512
    max_positions: int = 512


@dataclass
class PretrainConfig:
    """Everything that determines a pretraining run."""

    out: str
    seed: int = DEFAULT_SEED
    world_seed: int = DEFAULT_WORLD_SEED
    steps: int = 2500
    rows_per_step: int = 8
    row_length: int = 256  # 8 x 256: about 2,000 tokens a step; short rows keep attention cheap
    learning_rate: float = 3e-3
    warmup_fraction: float = 0.04
    min_lr_rate: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    bf16: bool = False  # bf16 autocast is ~10x slower on CPUs without native bf16 (AVX2 only)
    threads: int = 2
    log_every: int = 100
    eval_reading_people: int = 200
    model: ModelConfig = field(default_factory=ModelConfig)
    mix: MixConfig = field(default_factory=MixConfig)


def make_model(config: ModelConfig, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    llama_config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=config.hidden, intermediate_size=config.intermediate,
        num_hidden_layers=config.layers, num_attention_heads=config.heads, num_key_value_heads=config.heads,
        max_position_embeddings=config.max_positions, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(llama_config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, do_sample=False, max_new_tokens=16)
    return model


def make_optimizer(model: torch.nn.Module, config: PretrainConfig):
    # Norm gains are not decayed: shrinking them only fights the normalisation.
    decayed = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": config.weight_decay},
                                   {"params": others, "weight_decay": 0.0}],
                                  lr=config.learning_rate, betas=(0.9, 0.95), foreach=True)
    scheduler = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, num_warmup_steps=max(1, int(config.warmup_fraction * config.steps)),
        num_training_steps=config.steps, min_lr_rate=config.min_lr_rate)
    return optimizer, scheduler


def evaluate(model, tokenizer, world: World, n_reading_people: int) -> dict[str, float]:
    """Reading with gold context (k=3), and closed-book recall on group A (trained/held-out) and group B."""
    model.eval()
    rng = random.Random(EVAL_SEED)
    return {
        "reading_accuracy": accuracy(model, tokenizer, reading_items(world, n_reading_people, rng)),
        "closed_book_a_trained": accuracy(model, tokenizer, closed_book_items(world.group_a_qa_trained, rng)),
        "closed_book_a_heldout": accuracy(model, tokenizer, closed_book_items(world.group_a_qa_heldout, rng)),
        "closed_book_b": accuracy(model, tokenizer, closed_book_items(world.group_b, rng)),
        # A uniform guess among the asked attribute's values, averaged over attributes.
        "closed_book_chance": sum(1 / len(v) for v in world.values.values()) / len(world.values),
    }


def save(model, tokenizer: PreTrainedTokenizerFast, out: Path) -> None:
    """Writes safetensors weights, configs and tokenizer; loadable with the Auto classes."""
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    # Name the class every transformers version knows (newer ones map it to their own backend).
    config_path = out / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    tokenizer_config["model_max_length"] = model.config.max_position_embeddings
    config_path.write_text(json.dumps(tokenizer_config, indent=2) + "\n")


def weighted_loss(model, batch: dict[str, torch.Tensor], bf16: bool = False) -> torch.Tensor:
    """Next-token cross-entropy on the target tokens, weighted per token (reading answers can count more)."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        # No attention mask: restarting position ids make transformers mask each packed document apart.
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
    labels, weights = batch["labels"][:, 1:], batch["loss_weights"][:, 1:]
    losses = torch.nn.functional.cross_entropy(
        logits[:, :-1].float().transpose(1, 2), labels, ignore_index=IGNORE_INDEX, reduction="none")
    return (losses * weights).sum() / weights.sum()


def _print_log(record: dict) -> None:
    print(f"step {record['step']:>5}  loss {record['loss']:.4f}  lr {record['lr']:.2e}  "
          f"{record['tokens_per_s']:,.0f} tokens/s", flush=True)


def train(config: PretrainConfig, on_log: Callable[[dict], None] | None = None) -> dict:
    """Builds world and tokenizer, pretrains, evaluates, saves to config.out; returns the metrics."""
    on_log = on_log or _print_log
    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    world = build_world(config.world_seed)
    tokenizer = build_tokenizer(world)
    model = make_model(config.model, tokenizer)
    optimizer, scheduler = make_optimizer(model, config)
    stream = PretrainStream(world, tokenizer, config.mix, random.Random(config.seed), max_tokens=config.row_length)
    packer = Packer(stream, config.row_length, tokenizer.pad_token_id)

    model.train()
    window_loss, window_steps, window_tokens, window_start = 0.0, 0, 0, time.perf_counter()
    total_tokens, last_loss = 0, float("nan")
    for step in range(1, config.steps + 1):
        stream.progress = (step - 1) / config.steps
        batch = packer.next_batch(config.rows_per_step)
        loss = weighted_loss(model, batch, config.bf16)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

        real_tokens = int((batch["input_ids"] != tokenizer.pad_token_id).sum())
        window_loss, window_steps, window_tokens = window_loss + loss.item(), window_steps + 1, window_tokens + real_tokens
        total_tokens += real_tokens
        if step % config.log_every == 0 or step == config.steps:
            elapsed = time.perf_counter() - window_start
            last_loss = window_loss / window_steps
            on_log({"step": step, "loss": last_loss, "lr": scheduler.get_last_lr()[0],
                    "tokens_per_s": window_tokens / max(elapsed, 1e-9)})
            window_loss, window_steps, window_tokens, window_start = 0.0, 0, 0, time.perf_counter()
    train_seconds = time.perf_counter() - started

    metrics = evaluate(model, tokenizer, world, config.eval_reading_people)
    metrics.update({
        "seed": config.seed, "world_seed": config.world_seed, "steps": config.steps,
        "train_tokens": total_tokens, "final_loss": last_loss,
        "parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(tokenizer),
        "train_seconds": round(train_seconds, 1), "total_seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__, "config": asdict(config),
    })
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save(model, tokenizer, out)
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def parse_args(argv: list[str] | None = None) -> PretrainConfig:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="folder for the model, tokenizer and metrics")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="training seed (init, data order)")
    parser.add_argument("--world-seed", type=int, default=DEFAULT_WORLD_SEED,
                        help="seed of the calibration world (vocabulary, groups A and B)")
    parser.add_argument("--steps", type=int, default=PretrainConfig.steps)
    parser.add_argument("--log-every", type=int, default=PretrainConfig.log_every)
    args = parser.parse_args(argv)
    return PretrainConfig(out=args.out, seed=args.seed, world_seed=args.world_seed, steps=args.steps,
                          log_every=args.log_every)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    metrics = train(config)
    shown = {k: v for k, v in metrics.items() if k != "config"}
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
