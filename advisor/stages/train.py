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
from advisor.errors import DeviceError, TrainingError
from advisor.files import write_json
from advisor.measure.evidence import Training, seen_share
from advisor.stages.context import RunContext, log
from advisor.stages.models import LoadedModels


@dataclass(frozen=True)
class TunedModel:
    model: object  # the base model with the adapter merged in
    training: Training  # what the training did, with the blocks and pairs it saw
    key: str  # what the tuned weights depend on
    feedback: object = None  # finetune.feedback.FeedbackTraining: trained further on people's ratings


def fine_tune(ctx: RunContext, evalset: EvalSet, models: LoadedModels, budget_seconds: float) -> TunedModel:
    """The base model fine-tuned in place on the training side only: afterwards `models.base` is None, as the
    base weights are gone (a copy would hold a second model in memory, 0.5 GB for the default one), so every arm
    that answers with them runs before this stage."""
    from finetune.data import training_examples
    from finetune.train import latest_checkpoint, load_adapter, merged_for_inference, train_lora, uses_bf16
    from rag.prompting import encode_prompt

    cfg, tokenizer = ctx.config, models.tokenizer
    settings = cfg.lora_settings()
    examples, n_blocks = training_examples(
        tokenizer, [d.text for d in evalset.train_documents],
        training_prompts(tokenizer, evalset.train_pairs), cfg.max_seq_len,
        encode_prompt)
    augmented = augmented_data(cfg, evalset, model_paraphrases(ctx, evalset, models))
    added = augmented_examples(tokenizer, augmented, cfg.max_seq_len) if augmented else []
    examples += added
    # The arithmetic "auto" resolves to on this machine and model: an adapter trained in bf16 is another adapter.
    bf16 = uses_bf16(settings.precision, models.device, models.base_parameters or None)
    key = fingerprint(models.key, documents_fingerprint(evalset.train_documents),
                      [p.to_dict() for p in evalset.train_pairs], {**dataclasses.asdict(settings), "bf16": bf16},
                      cfg.max_seq_len, budget_seconds / 60,
                      [[[p.prompt, p.answer] for p in augmented.pairs], augmented.texts] if augmented else None,
                      # processes share batches in another order: another adapter (one process keeps its old key)
                      *([cfg.processes] if cfg.processes > 1 else []))
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
        training = dict(device=models.device, budget_seconds=budget_seconds, checkpoint_dir=checkpoints / key[:16],
                        save_every=cfg.checkpoint_every, save_seconds=cfg.checkpoint_minutes * 60,
                        on_step=lambda step, planned, loss: ctx.progress(
                            "train", step, planned, f"loss {loss:.3f}" if loss is not None else "", loss=loss))
        if cfg.processes > 1:
            tuned, trained = train_on_processes(ctx, models, model, examples, settings, adapter_dir, **training)
        else:
            tuned, trained = train_lora(model, tokenizer, examples, settings, adapter_dir, **training)
        shutil.rmtree(checkpoints, ignore_errors=True)  # the adapter is saved and cached: nothing to go on from
        result = trained.to_dict()
        done = Training.from_dict(result)
        ctx.progress("train", result["steps"], result["steps"],  # the steps that really ran
                     f"{done.steps} steps, {done.seen_text()}"
                     + (f", on {trained.processes} processes" if trained.processes > 1 else ""), result=done)
        write_json(ctx.run_dir / "training.json", result)
        log.info("training: %s", json.dumps(result))
        ctx.cache.put("train", key, result)
    training = Training.from_dict({**result, "blocks": n_blocks, "pairs": len(evalset.train_pairs)})
    if augmented:
        training.augmentation = {**augmented.about(), "examples": len(added),
                                 "tokens": sum(len(example["input_ids"]) for example in added)}
    return TunedModel(merged_for_inference(tuned), training, key)


def train_on_processes(ctx: RunContext, models: LoadedModels, model, examples: list[dict], settings, adapter_dir,
                       *, device: str, on_step, **training):
    """train_lora on --processes processes that torchrun starts (finetune.distributed), from a job folder written
    into the run folder (train-job/); returns `model` with the adapter the main process saved, and the TrainResult.
    Only the training runs there: the run's other stages stay in this process."""
    import torch

    from finetune.distributed import ERRORS_FILE, EXAMPLES_FILE, TrainingFailed, launch, write_job
    from finetune.train import load_adapter

    processes = ctx.config.processes
    if device == "mps":
        raise DeviceError("training on several processes needs CUDA GPUs or the CPU; torch has no DDP on MPS",
                          hint="pass --device cpu, or leave out --processes")
    if device == "cuda" and processes > torch.cuda.device_count():
        raise DeviceError(f"--processes {processes} trains one process per GPU, and this machine has "
                          f"{torch.cuda.device_count()}", hint=f"pass --processes {torch.cuda.device_count()} or fewer")
    job = write_job(ctx.run_dir / "train-job", model_path=models.reference.path,
                    dtype=str(model.dtype).removeprefix("torch."), examples=examples, settings=settings, device=device,
                    adapter_dir=adapter_dir, **training)
    log.info("training on %d processes: torchrun --nproc_per_node %d -m finetune.distributed %s",
             processes, processes, job)
    if device == "cuda":
        model.to("cpu")  # the GPUs' memory goes to the training processes meanwhile
    try:
        # The cores one process would use, shared out (torchrun would give each process one thread).
        trained = launch(job, processes, on_step=on_step,
                         threads_per_process=max(1, torch.get_num_threads() // processes))
    except TrainingFailed as exc:
        raise TrainingError(str(exc), hint=f"all the processes wrote is in {job.parent / ERRORS_FILE}; "
                                           f"to go on from the last checkpoint: advisor run --resume {ctx.run_dir}"
                            ) from None
    finally:
        model.to(device)
    # The training data's copy goes once trained (a failed run keeps it beside the errors; a resumed run writes it
    # again); the job and what the processes wrote stay, small, for reading.
    (job.parent / EXAMPLES_FILE).unlink(missing_ok=True)
    return load_adapter(model, adapter_dir), trained


def augmented_data(cfg: AdvisorConfig, evalset: EvalSet, paraphrases: dict | None = None):
    """The training side's facts restated (advisor.corpus.augment.Augmented) for a knowledge fine-tune with
    --augment, with a model's `paraphrases` (model_paraphrases) among them; None otherwise. Nothing is made
    from, or asks for, a held-out item."""
    from advisor.corpus.augment import augment

    if not augments(cfg):
        return None
    return augment(evalset.train_documents, evalset.held_out_pairs, cfg.seed, paraphrases=paraphrases)


def augments(cfg: AdvisorConfig) -> bool:
    return cfg.augment and cfg.goal == "knowledge"


def model_paraphrases(ctx: RunContext, evalset: EvalSet, models: LoadedModels) -> dict | None:
    """The training facts' sentences restated by --augment-model (default: the base model, when it has a chat
    template) within --paraphrase-minutes (advisor.corpus.augment.written_paraphrases), kept in the run's cache
    so that a resumed run trains on the same ones; None when no model is to write them."""
    from advisor.cache import model_fingerprint
    from advisor.corpus.augment import paraphrasable_facts, training_facts, written_paraphrases
    from advisor.corpus.probes import paraphrase_writer

    cfg = ctx.config
    if not augments(cfg) or cfg.augment_model == "none" or cfg.paraphrase_minutes == 0:
        return None
    facts = paraphrasable_facts(training_facts(evalset.train_documents, evalset.held_out_pairs)[0],
                                evalset.held_out_pairs)
    writer_key = models.key
    if cfg.augment_model:
        from advisor.models import load_generator, resolve_model

        reference = resolve_model(cfg.augment_model)
        writer_key = model_fingerprint(reference.path)
    key = fingerprint(writer_key, sorted({fact.sentence for fact in facts}), cfg.paraphrase_minutes, cfg.seed)
    cached = ctx.cache.get("paraphrases", key)
    if cached is not None:
        return cached
    if cfg.augment_model:
        model, tokenizer = load_generator(reference, models.device)
    else:
        model, tokenizer = models.base, models.tokenizer
    writer = paraphrase_writer(model, tokenizer)
    if writer is None:
        return {"kept": {}, "asked": 0, "seconds": 0.0,
                "stopped": "the model has no chat template, so it cannot be asked to write paraphrases"}
    ctx.progress("train", 0, None, "the model restates training facts in other words")
    written = written_paraphrases(facts, writer, cfg.paraphrase_minutes * 60, cfg.seed)
    log.info("paraphrases: %d kept of %d asked in %.1f s%s", len(written["kept"]), written["asked"],
             written["seconds"], f" ({written['stopped']})" if written["stopped"] else "")
    ctx.cache.put("paraphrases", key, written)
    return written


def augmented_examples(tokenizer, augmented, max_len: int) -> list[dict]:
    """The reordered documents as text blocks and the restated facts as prompt/answer examples, each prompt
    closed-book, as the fine-tuned arm answers."""
    from finetune.data import answer_examples, text_blocks
    from rag.prompting import build_prompt, encode_prompt

    return text_blocks(tokenizer, augmented.texts, max_len) + answer_examples(
        tokenizer, [(build_prompt(tokenizer, pair.prompt, None), pair.answer) for pair in augmented.pairs], max_len,
        encode_prompt)


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


def card_seconds(training: Training, device: str) -> float:
    """The fine-tune's machine time to price at one device's hourly rate: its seconds on each of its processes' GPUs
    (DDP gives each process a card of its own), or once where its processes shared one CPU machine."""
    return training.seconds * (training.processes if device == "cuda" else 1)


def training_note(result: Training, cfg: AdvisorConfig) -> str:
    """What the fine-tune saw and did, so a reader can judge whether it had a fair chance."""
    budget = ""
    if result.stopped_by_budget:
        minutes = result.budget_seconds / 60 if result.budget_seconds else cfg.budget_minutes
        budget = (f"; the {minutes:.3g}-minute budget allowed {result.planned_steps} of the "
                  f"{result.steps_wanted or result.planned_steps} steps the data plan asked for")
    thin = "" if result.passes >= 1 else (
        f"; the budget did not cover the augmented data: {seen_share(result.passes)} of its examples seen once, so a "
        "longer budget would give each form its chance" if result.augmentation
        else "; fewer than one pass: the fine-tune had little chance to learn the facts")
    return (f"LoRA r={cfg.lora_rank}, alpha={cfg.lora_alpha}, lr={cfg.learning_rate}, targets {cfg.lora_targets} "
            f"on {result.blocks} text block(s) of up to {cfg.max_seq_len} tokens"
            + (f" and {result.pairs} training QA pair(s)" if result.pairs else "")
            + augmentation_text(result.augmentation)
            + f": {result.steps} optimizer steps ({result.seen_text()}, "
            f"{result.tokens:,} real tokens, padding excluded) in {result.seconds:.1f} s, "
            f"{result.tokens_per_second:.0f} tokens/s"
            + (f" on {result.processes} processes (DDP), which shared each batch" if result.processes > 1 else "")
            + (" in bfloat16 arithmetic (autocast; the weights stay float32)" if result.precision == "bf16" else "")
            + (", its decoder layers compiled (torch.compile)" if result.compiled else "")
            + (f", final loss {result.losses[-1]['loss']:.3f}" if result.losses else "")
            + budget + thin
            + (f"; interrupted, and resumed from the checkpoint of step {result.resumed_from_step}"
               if result.resumed_from_step else "")
            + "; adapter merged into the weights for answering")


def augmentation_text(augmentation: dict | None) -> str:
    """', with N facts restated in M forms (...)' for an augmented fine-tune; '' otherwise."""
    if not augmentation:
        return ""
    forms = augmentation["forms"]
    left_out = augmentation.get("held_out_facts_left_out", 0)
    return (f", with {augmentation['facts']:,} facts of the training side restated ("
            + ", ".join(f"{count:,} {form}{'s' if count != 1 else ''}" for form, count in forms.items())
            + f": {augmentation['examples']:,} more examples, {augmentation['tokens']:,} tokens, made in "
            f"{augmentation['seconds']:.1f} s"
            + (f"; {left_out} held-out fact(s) left out" if left_out else "") + paraphrase_text(augmentation) + ")")


def paraphrase_text(augmentation: dict) -> str:
    """'; the model's paraphrases: 40 of 48 asked kept, in 55 s' and why it stopped, for a model that wrote them."""
    written = augmentation.get("paraphrases")
    if not written:
        return ""
    kept = augmentation["forms"].get("model paraphrase", 0)
    return (f"; model paraphrases: {kept} of {written['asked']} asked kept, in {written['seconds']:.0f} s"
            if written["asked"] else "; no model paraphrases") + (f" ({written['stopped']})" if written["stopped"]
                                                                   else "")
