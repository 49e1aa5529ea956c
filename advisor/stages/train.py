"""The train stage: the base model fine-tuned with LoRA in place within its time budget (or rebuilt from the
adapter an earlier run trained on the same inputs), and the reference text read before and after, for forgetting."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass

from advisor.cache import documents_fingerprint, fingerprint
from advisor.config import AdvisorConfig
from advisor.corpus.evalset import EvalSet
from advisor.files import write_json
from advisor.stages.context import RunContext, log
from advisor.stages.models import LoadedModels


@dataclass(frozen=True)
class TunedModel:
    model: object  # the base model with the adapter merged in
    training: dict  # TrainResult.to_dict(), with the blocks and pairs it saw
    key: str  # what the tuned weights depend on


def fine_tune(ctx: RunContext, evalset: EvalSet, models: LoadedModels, budget_seconds: float) -> TunedModel:
    """The base model fine-tuned in place on the training side only: afterwards `models.base` is None, as the
    base weights are gone (a copy would hold a second model in memory, 0.5 GB for the default one), so every arm
    that answers with them runs before this stage."""
    from finetune.data import training_examples
    from finetune.train import latest_checkpoint, load_adapter, merged_for_inference, train_lora
    from rag.prompting import encode_prompt

    cfg, tokenizer = ctx.config, models.tokenizer
    settings = cfg.lora_settings()
    examples, n_blocks = training_examples(
        tokenizer, [d.text for d in evalset.train_documents],
        training_prompts(tokenizer, evalset.train_pairs), cfg.max_seq_len,
        encode_prompt)
    key = fingerprint(models.key, documents_fingerprint(evalset.train_documents),
                      [p.to_dict() for p in evalset.train_pairs], dataclasses.asdict(settings),
                      cfg.max_seq_len, budget_seconds / 60)
    model, models.base = models.base, None  # from here on only the tuned model exists
    adapter_dir = ctx.run_dir / "adapter"
    result = ctx.cache.get("train", key)
    if result is not None and (adapter_dir / "adapter_model.safetensors").is_file():
        ctx.progress("train", result["steps"], result["steps"], "reused from an earlier run")
        tuned = load_adapter(model, adapter_dir)
    else:
        # Checkpoints of this very training (same inputs) let an interrupted run go on from the last one.
        checkpoints = ctx.run_dir / "checkpoints"
        for other in (checkpoints.iterdir() if checkpoints.is_dir() else []):
            if other.name != key[:16]:
                shutil.rmtree(other, ignore_errors=True)
        resume = latest_checkpoint(checkpoints / key[:16])
        ctx.progress("train", resume[1]["step"] if resume else 0, None,
                     f"going on from the checkpoint of step {resume[1]['step']}" if resume
                     else f"{len(examples)} examples")
        tuned, trained = train_lora(
            model, tokenizer, examples, settings, adapter_dir, device=models.device,
            budget_seconds=budget_seconds, checkpoint_dir=checkpoints / key[:16],
            save_every=cfg.checkpoint_every,
            on_step=lambda step, planned, loss: ctx.progress(
                "train", step, planned, f"loss {loss:.3f}" if loss is not None else "", loss=loss))
        shutil.rmtree(checkpoints, ignore_errors=True)  # the adapter is saved and cached: nothing to go on from
        result = trained.to_dict()
        ctx.progress("train", result["steps"], result["steps"],  # the steps that really ran
                     f"{result['steps']} steps, {result['passes']:.1f} passes", result=result)
        write_json(ctx.run_dir / "training.json", result)
        log.info("training: %s", json.dumps(result))
        ctx.cache.put("train", key, result)
    result = {**result, "blocks": n_blocks, "pairs": len(evalset.train_pairs)}
    return TunedModel(merged_for_inference(tuned), result, key)


def reference_nll(ctx: RunContext, weights_key: str, model, tokenizer, paragraphs: list[str]) -> list:
    """Per-paragraph (NLL, tokens) of the reference text under `model`, for measuring forgetting."""
    from advisor.measure.likelihood import text_nll

    if not paragraphs:
        return []
    key = fingerprint(weights_key, paragraphs)
    cached = ctx.cache.get(f"reference-{weights_key[:8]}", key)
    if cached is None:
        cached = [list(text_nll(model, tokenizer, p)) for p in paragraphs]
        ctx.cache.put(f"reference-{weights_key[:8]}", key, cached)
    return cached


def training_prompts(tokenizer, pairs) -> list[tuple[str, str]]:
    """(prompt, answer) for each training pair, in the prompt the arms answer from: a pair that names its passage
    is trained with that passage in the prompt, as retrieval gives it (retrieval-augmented fine-tuning)."""
    from rag.prompting import build_prompt

    return [(build_prompt(tokenizer, pair.question, [pair.passage] if pair.passage else None), pair.answer)
            for pair in pairs]


def training_note(result: dict, cfg: AdvisorConfig) -> str:
    """What the fine-tune saw and did, so a reader can judge whether it had a fair chance."""
    passes = result.get("passes", 0.0)
    budget = ""
    if result["stopped_by_budget"]:
        budget = (f"; the {cfg.budget_minutes:g}-minute budget allowed {result['planned_steps']} of the "
                  f"{result.get('steps_wanted', result['planned_steps'])} steps the data plan asked for")
    thin = "; fewer than one pass: the fine-tune had little chance to learn the facts" if passes < 1 else ""
    return (f"LoRA r={cfg.lora_rank}, alpha={cfg.lora_alpha}, lr={cfg.learning_rate}, targets {cfg.lora_targets} "
            f"on {result['blocks']} text block(s) of up to {cfg.max_seq_len} tokens"
            + (f" and {result['pairs']} training QA pair(s)" if result["pairs"] else "")
            + f": {result['steps']} optimizer steps ({passes:.1f} passes over the data, "
            f"{result['tokens']:,} real tokens, padding excluded) in {result['seconds']:.1f} s, "
            f"{result['tokens_per_second']:.0f} tokens/s"
            + (" in bfloat16 arithmetic (autocast; the weights stay float32)"
               if result.get("precision") == "bf16" else "")
            + (f", final loss {result['losses'][-1]['loss']:.3f}" if result["losses"] else "")
            + budget + thin
            + (f"; interrupted, and resumed from the checkpoint of step {result['resumed_from_step']}"
               if result.get("resumed_from_step") else "")
            + "; adapter merged into the weights for answering")
