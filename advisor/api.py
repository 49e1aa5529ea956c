"""Conducts a run: load, profile, evaluate base / RAG / LoRA on the same held-out set, decide, report."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable, Union

from advisor.cache import StageCache, documents_fingerprint, fingerprint, model_fingerprint
from advisor.config import AdvisorConfig
from advisor.corpus.evalset import EvalSet, build_eval_set
from advisor.corpus.qa import load_qa
from advisor.corpus.loading import Corpus, load_corpus
from advisor.corpus.probes import NO_CHAT_TEMPLATE, question_writer
from advisor.corpus.profile import (SAMPLE_CHARACTERS, SHIPPED_REFERENCE_ABOUT, SHIPPED_REFERENCE_TEXT,
                                    profile_documents, reference_paragraphs, sample_documents, token_counts)
from advisor.errors import ConfigError, ModelNotFoundError, RunCancelled, VectorStoreError
from advisor.files import write_json
from advisor.measure.arms import ARM_KINDS, BASELINE, Arm, arm_names
from advisor.measure.cost import PriceTable, report_costs
from advisor.measure.evaluate import ArmRun, measure_arm, qa_metrics
from advisor.measure.summary import RANDOM_WEIGHTS
from advisor.measure.comparisons import compare_arms
from advisor.verdict.decide import ANSWER_LIKELIHOOD, STYLE_DOCUMENTS, primary_metric, recommend
from advisor.verdict.render import write_report
from advisor.verdict.report import Report

log = logging.getLogger("advisor")

@dataclass(frozen=True)
class BuiltIndex:
    retriever: object  # rag.retrieval.Retriever over the training documents
    stats: dict  # chunks, seconds, chunk_size, overlap
    key: str  # what retrieved passages depend on


@dataclass(frozen=True)
class TunedModel:
    model: object  # the base model with the adapter merged in
    training: dict  # TrainResult.to_dict(), with the blocks and pairs it saw
    key: str  # what the tuned weights depend on


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


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress: `stage` is a key of STAGES; `total` is None when unknown. Numbers are
    fields: `completed` of `total` (items, steps), `loss` during training, `elapsed` seconds since the
    stage began (with completed and total, an ETA); a stage that finishes carries its `result`, and `status`
    says what happened: "running", "done" (its last event), "skipped" (`message` says why) or "cancelled"."""

    stage: str
    completed: int
    total: int | None = None
    message: str = ""
    loss: float | None = None
    elapsed: float = 0.0
    result: Any = None  # the profile, the index's figures, the training result, an arm's mean scores
    status: str = "running"


ProgressCallback = Callable[[ProgressEvent], None]
CancelSignal = Union[threading.Event, Callable[[], bool]]


def planned_stages(config: AdvisorConfig) -> list[str]:
    """The stages a run of `config` passes through, in the order they run (keys of STAGES). The
    whole-corpus arm is listed when asked for; it runs only if the corpus fits the context window."""
    return [stage.name for stage in RUN_STAGES if stage.runs(config)]


def default_run_dir(corpus: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{Path(corpus).resolve().name or 'corpus'}-{stamp}"


class Advisor:
    """Runs the whole comparison for one AdvisorConfig; `run()` returns the Report it also writes."""

    def __init__(self, config: AdvisorConfig, on_progress: ProgressCallback | None = None,
                 about: list[str] | None = None, cancel: CancelSignal | None = None):
        self.config = config
        self.about = list(about or [])  # lines the report shows first: what this run is
        self.on_progress = on_progress or (lambda event: None)
        self.cancel = cancel  # checked at every progress point: each item, training step, indexing batch
        self.run_dir = Path(config.out) if config.out else default_run_dir(config.corpus)
        self.warnings: list[str] = []
        self._stage_started: dict[str, float] = {}
        self._stage_ended: dict[str, float] = {}
        self._train_budget_seconds = config.budget_minutes * 60  # --max-minutes may shrink it
        self._store = None  # the Chroma client, once opened
        self._fallback_dir = self.run_dir / "fallback-model"  # where --offline-fallback builds its stand-in

    def _progress(self, stage: str, completed: int, total: int | None = None, message: str = "", *,
                  loss: float | None = None, result: Any = None, status: str | None = None) -> None:
        """Tells on_progress; an event with a `result` ends its stage ("done") unless `status` says otherwise."""
        started = self._stage_started.setdefault(stage, time.perf_counter())
        self._stage_ended[stage] = time.perf_counter()
        status = status or ("done" if result is not None else "running")
        self.on_progress(ProgressEvent(stage, completed, total, message, loss, time.perf_counter() - started,
                                       result, status))
        if self.cancel is not None and (self.cancel.is_set() if isinstance(self.cancel, threading.Event)
                                        else self.cancel()):
            self.on_progress(ProgressEvent(stage, completed, total, "cancelled", None,
                                           time.perf_counter() - started, None, "cancelled"))
            raise RunCancelled(f"run cancelled during {STAGES.get(stage, stage).lower()}",
                               hint=f"to go on, reusing what finished: advisor run --resume {self.run_dir}")

    def _warn(self, text: str) -> None:
        log.warning(text)
        self.warnings.append(text)

    def run(self) -> Report:
        from advisor.lock import RunFolderLock

        fresh = not self.run_dir.exists()
        self._check_run_folder()
        with RunFolderLock(self.run_dir):  # a second run on this folder stops here, before touching anything
            handler = logging.FileHandler(self.run_dir / "advisor.log", encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            self._loaded = False
            try:
                return self._run()
            finally:
                log.removeHandler(handler)
                handler.close()
                if fresh and not self._loaded:
                    # The corpus or QA file could not be read: the error says why, and a folder holding
                    # only the settings would sit among the runs as if it were one.
                    shutil.rmtree(self.run_dir, ignore_errors=True)

    def _check_run_folder(self) -> None:
        """The run folder exists and takes files, or a clear error says why, before anything slow starts."""
        import tempfile

        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.run_dir):
                pass
        except OSError as exc:
            raise ConfigError(f"the run folder {str(self.run_dir)!r} cannot be written to ({exc.strerror or exc})",
                              hint="pass --out a folder you can write to") from None

    # --- the stages, in the order of the data flow -------------------------------------------

    def _run(self) -> Report:
        cfg = self.config
        write_json(self.run_dir / "config.json", cfg.to_dict())
        log.info("run folder %s, config %s", self.run_dir, json.dumps(cfg.to_dict()))
        state = RunState(time.perf_counter(), StageCache(self.run_dir))
        for stage in RUN_STAGES:  # the data flow of ../shared/DESIGN.md, in the one list that orders it
            if stage.runs(cfg):
                stage.do(self, state)
        return state.report

    # --- the stages, each reading and filling the RunState (RUN_STAGES lists them in order) ------

    def _stage_load(self, state: "RunState") -> None:
        state.corpus, state.pairs, state.reference = self._load()
        if self.config.chroma_url:
            self._open_store()  # a server that does not answer is said now, not after the models and the base arm

    def _stage_models(self, state: "RunState") -> None:
        state.models = self._load_models(state.corpus)

    def _stage_profile(self, state: "RunState") -> None:
        cfg = self.config
        state.model_check, state.profile = self._profile(state.corpus, state.models, state.reference)
        state.evalset = build_eval_set(state.corpus.documents, state.pairs, cfg.goal, eval_fraction=cfg.eval_fraction,
                                       seed=cfg.seed, max_eval=cfg.max_eval,
                                       write_questions=self._question_writer(state.models))
        for warning in state.evalset.warnings:
            self._warn(warning)
        state.whole = self._whole_corpus(state.evalset, state.models)

    def _stage_estimate(self, state: "RunState") -> None:
        state.evalset, state.whole, state.estimate = self._estimate(state.evalset, state.models, state.profile,
                                                                    state.whole, state.reference, state.started)
        write_json(self.run_dir / "eval_set.json", state.evalset.to_dict())

    def _stage_index(self, state: "RunState") -> None:
        state.index = self._index(state.cache, state.evalset, state.models)

    def _stage_answers(self, state: "RunState", kind) -> None:
        """One arm answers the held-out set; the whole-corpus arm is skipped, with the reason, when the corpus
        does not fit the window."""
        whole = state.whole
        if kind.whole_corpus and not whole["fits"]:
            why = whole.get("skipped") or (
                f"skipped: the whole corpus makes a prompt of {'at least ' if whole['at_least'] else ''}"
                f"{whole['prompt_tokens']:,} tokens, more than the base model's window of "
                f"{whole['context_window']:,}")
            self._progress(kind.name, 0, 0, why, result={"skipped": why}, status="skipped")
            return
        arm, = self._arms([kind.name], state.models, state.index, state.tuned, state.evalset, whole)
        state.arms.append(arm)
        state.runs[arm.name] = self._measure(state.cache, arm, state.evalset, state.models)

    def _stage_train(self, state: "RunState") -> None:
        models = state.models
        # The last reading of the base weights: the fine-tune trains on them in place (a copy would hold a
        # second model in memory, 0.5 GB for the default one).
        state.forgetting = [self._reference_nll(state.cache, models.key, models.base, models.tokenizer,
                                                state.reference)]
        state.tuned = self._fine_tune(state.cache, state.evalset, models)

    def _stage_report(self, state: "RunState") -> None:
        state.forgetting.append(self._reference_nll(state.cache, state.tuned.key, state.tuned.model,
                                                    state.models.tokenizer, state.reference))
        measured = [name for name in ARM_KINDS if name in state.runs]  # in the order every table shows them
        state.arms.sort(key=lambda arm: measured.index(arm.name))
        state.report = self._report(state)

    def _estimate(self, evalset: EvalSet, models: LoadedModels, profile: dict, whole: dict, reference: list[str],
                  started: float):
        """The run's expected time per stage, from the inputs' sizes and a probe of the models' speed here;
        with --max-minutes, the held-out questions, the fine-tune's budget and the whole-corpus arm are cut
        until it fits, each cut said. Returns (evalset, whole, Estimate)."""
        from advisor.measure.estimate import plan_run

        cfg = self.config
        self._progress("estimate", 0, 1, "probing the models' speed on this machine")
        # A resumed run makes the cuts its first try made: its finished stages answered those questions.
        saved, key = self.run_dir / "plan.json", fingerprint(cfg.to_dict(), evalset.fingerprint())
        earlier = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else {}
        plan = plan_run(cfg, evalset, models, profile, whole, reference, already=time.perf_counter() - started,
                        cuts=earlier.get("cuts") if earlier.get("key") == key else None)
        write_json(saved, {"key": key, "cuts": plan.cuts})
        for note in plan.estimate.notes:
            self._warn(note)
        self._train_budget_seconds = plan.train_budget_seconds
        self._progress("estimate", 1, 1, plan.estimate.text(), result=plan.estimate.to_dict())
        return plan.evalset, plan.whole, plan.estimate

    def _load(self):
        self._progress("load", 0, 1)
        corpus = load_corpus(self.config.corpus)
        pairs = load_qa(self.config.qa) if self.config.qa else None
        reference = self._reference_paragraphs()
        for skipped in corpus.skipped:
            log.warning("skipped %s: %s", skipped.path, skipped.reason)
        self._loaded = True
        self._progress("load", 1, 1, f"{len(corpus.documents)} documents, {len(corpus.skipped)} skipped")
        return corpus, pairs, reference

    def _load_models(self, corpus: Corpus) -> LoadedModels:
        from advisor.measure.hardware import resolve_device
        from advisor.models import load_embedder, load_generator, resolve_embedding_model

        cfg = self.config
        self._progress("models", 0, 2, "the base model (a GGUF file is converted once, in under a minute)")
        self._seed_everything(cfg.seed)
        device = resolve_device(cfg.device)
        base_ref = self._resolve_base_model(corpus)
        if base_ref.note and base_ref.origin != "built locally":  # the stand-in has its own warning
            self._warn(f"Base model: {base_ref.note}.")
        embed_ref = resolve_embedding_model(cfg.embedding_model)
        if embed_ref.note:
            self._warn(f"Embedding model: {embed_ref.note}.")
        model, tokenizer = load_generator(base_ref, device)
        self._progress("models", 1, 2, f"base model from {base_ref.origin}")
        embedder = load_embedder(embed_ref, device)
        self._progress("models", 2, 2, f"embeddings from {embed_ref.origin}")
        # Everything the base model's answers depend on besides the questions.
        key = fingerprint(model_fingerprint(base_ref.path), device, cfg.seed, cfg.max_new_tokens, cfg.format_regex)
        return LoadedModels(base_ref, embed_ref, model, tokenizer, embedder, device, key,
                            sum(p.numel() for p in model.parameters()))

    def _profile(self, corpus: Corpus, models: LoadedModels, reference: list[str]):
        from advisor.models import check_trained

        self._progress("profile", 0, 1)
        model_check = check_trained(models.base, models.tokenizer, [d.text for d in corpus.documents])
        if not model_check["trained"]:
            self._warn(f"The base model has {model_check['verdict']} (perplexity "
                       f"{model_check['perplexity']:.0f} against {model_check['uniform_perplexity']:.0f} "
                       f"for uniform guessing): {RANDOM_WEIGHTS}.")
        profile = profile_documents(corpus.documents, models.tokenizer,
                                    reference_texts=reference or reference_paragraphs(SHIPPED_REFERENCE_TEXT),
                                    seed=self.config.seed)
        self._progress("profile", 1, 1, result={**profile, "base_check": model_check})
        return model_check, profile

    def _question_writer(self, models: LoadedModels):
        """With --model-written-questions, a QuestionWriter on the base model (None when not asked, or when
        the model has no chat template to be asked with: then the run says so)."""
        if not self.config.model_written_questions:
            return None
        writer = question_writer(models.base, models.tokenizer)
        if writer is None:
            self._warn(NO_CHAT_TEMPLATE)
        return writer

    def _open_store(self):
        """The Chroma client, opened once per run: embedded in the run folder, or the server at --chroma-url
        (asked to answer)."""
        from rag.store import StoreUnavailable, open_client

        if self._store is not None:
            return self._store
        try:
            self._store = open_client(path=str(self.run_dir / "index"), url=self.config.chroma_url)
            return self._store
        except StoreUnavailable as exc:
            raise VectorStoreError(str(exc), hint="start one with: chroma run --path DIR, "
                                                  "or leave out --chroma-url") from None

    def _index(self, cache: StageCache, evalset: EvalSet, models: LoadedModels) -> BuiltIndex:
        """A retriever over the training documents' Chroma collection, reused when its inputs are unchanged."""
        from rag.retrieval import Retriever, build_index
        from rag.splitting import chunk_size_for
        cfg = self.config
        chunk_size = chunk_size_for(models.embedder, cfg.chunk_size)
        overlap = min(cfg.chunk_overlap, chunk_size // 2)
        store_key = fingerprint(model_fingerprint(models.embedding.path), chunk_size, overlap, cfg.chroma_url,
                                # a server is shared: each run folder keeps its own collection there
                                str(self.run_dir.resolve()) if cfg.chroma_url else None)
        key = fingerprint(store_key, documents_fingerprint(evalset.train_documents))
        client = self._open_store()
        cached = cache.get("index", key)
        self._progress("index", 0, None, "checking which chunks the index already holds")
        collection, _, built = build_index(evalset.train_documents, models.embedder, client,
                                           chunk_size=chunk_size, chunk_overlap=overlap,
                                           collection_name=f"advisor-{store_key[:16]}",
                                           about={"embedding_model": models.embedding.name},
                                           on_batch=lambda done, total: self._progress("index", done, total))
        if built.rebuilt:
            self._warn(f"The index had been made with another embedding model ({built.rebuilt}): it was emptied "
                       "and built again.")
        if cached is not None and not built.added and not built.deleted:
            stats = cached
            self._progress("index", stats["chunks"], stats["chunks"], f"{stats['chunks']} chunks, reused",
                           result=stats)
        else:
            # The one-off cost is a full build's: an update embeds only the new chunks, so their time per
            # chunk stands for all of them.
            full = built.seconds if not built.kept else (
                built.split_seconds + built.store_seconds + built.embed_seconds / max(1, built.added) * built.chunks)
            stats = {"chunks": built.chunks, "seconds": full, "embed_seconds": built.embed_seconds,
                     "added": built.added, "deleted": built.deleted, "kept": built.kept,
                     "update_seconds": built.seconds}
            cache.put("index", key, stats)
            said = (f"{built.chunks} chunks" if not built.kept else
                    f"{built.chunks} chunks: {built.added} new, {built.deleted} removed, {built.kept} kept")
            self._progress("index", built.chunks, built.chunks, said, result=stats)
        stats = {**stats, "chunk_size": chunk_size, "overlap": overlap}
        return BuiltIndex(Retriever(models.embedder, collection, cfg.top_k), stats, fingerprint(key, cfg.top_k))

    def _fine_tune(self, cache: StageCache, evalset: EvalSet, models: LoadedModels) -> TunedModel:
        """The base model fine-tuned in place (it is not the base model any more afterwards), trained on
        the training side only, or rebuilt from the adapter an earlier run trained on the same inputs."""
        from finetune.data import training_examples
        from finetune.train import latest_checkpoint, load_adapter, merged_for_inference, train_lora
        from rag.prompting import encode_prompt

        cfg, tokenizer = self.config, models.tokenizer
        settings = cfg.lora_settings()
        examples, n_blocks = training_examples(
            tokenizer, [d.text for d in evalset.train_documents],
            training_prompts(tokenizer, evalset.train_pairs), cfg.max_seq_len,
            encode_prompt)
        key = fingerprint(models.key, documents_fingerprint(evalset.train_documents),
                          [p.to_dict() for p in evalset.train_pairs], dataclasses.asdict(settings),
                          cfg.max_seq_len, self._train_budget_seconds / 60)
        model, models.base = models.base, None  # from here on only the tuned model exists
        adapter_dir = self.run_dir / "adapter"
        result = cache.get("train", key)
        if result is not None and (adapter_dir / "adapter_model.safetensors").is_file():
            self._progress("train", result["steps"], result["steps"], "reused from an earlier run")
            tuned = load_adapter(model, adapter_dir)
        else:
            # Checkpoints of this very training (same inputs) let an interrupted run go on from the last one.
            checkpoints = self.run_dir / "checkpoints"
            for other in (checkpoints.iterdir() if checkpoints.is_dir() else []):
                if other.name != key[:16]:
                    shutil.rmtree(other, ignore_errors=True)
            resume = latest_checkpoint(checkpoints / key[:16])
            self._progress("train", resume[1]["step"] if resume else 0, None,
                           f"going on from the checkpoint of step {resume[1]['step']}" if resume
                           else f"{len(examples)} examples")
            tuned, trained = train_lora(
                model, tokenizer, examples, settings, adapter_dir, device=models.device,
                budget_seconds=self._train_budget_seconds, checkpoint_dir=checkpoints / key[:16],
                save_every=cfg.checkpoint_every,
                on_step=lambda step, planned, loss: self._progress(
                    "train", step, planned, f"loss {loss:.3f}" if loss is not None else "", loss=loss))
            shutil.rmtree(checkpoints, ignore_errors=True)  # the adapter is saved and cached: nothing to go on from
            result = trained.to_dict()
            self._progress("train", result["steps"], result["steps"],  # the steps that really ran
                           f"{result['steps']} steps, {result['passes']:.1f} passes", result=result)
            write_json(self.run_dir / "training.json", result)
            log.info("training: %s", json.dumps(result))
            cache.put("train", key, result)
        result = {**result, "blocks": n_blocks, "pairs": len(evalset.train_pairs)}
        return TunedModel(merged_for_inference(tuned), result, key)

    def _whole_corpus(self, evalset: EvalSet, models: LoadedModels) -> dict:
        """Whether every training document fits in one prompt, with room for the question and the answer."""
        from rag.prompting import build_prompt, encode_prompt

        texts = [d.text for d in evalset.train_documents]
        window = getattr(models.base.config, "max_position_embeddings", None) or 0
        question = max((p.question for p in evalset.pairs), key=len, default="")
        # Far too long (a token rarely spans 12 characters): no need to tokenize a large corpus.
        characters = sum(len(t) for t in texts)
        at_least = characters > 12 * window
        tokens = characters // 12 if at_least else \
            len(encode_prompt(models.tokenizer, build_prompt(models.tokenizer, question, texts)))
        fits = self.config.full_context and bool(texts) and tokens + self.config.max_new_tokens <= window
        return {"fits": fits, "passages": texts if fits else None, "prompt_tokens": tokens, "at_least": at_least,
                "context_window": window, "asked": self.config.full_context}

    def _arms(self, names: list[str], models: LoadedModels, index: "BuiltIndex", tuned: "TunedModel | None",
              evalset: EvalSet, whole: dict) -> list[Arm]:
        """The arms among `names` that answer with the base weights (tuned is None) or the tuned ones,
        each with its model, retriever, one-off cost and cache key."""
        cfg = self.config
        items = evalset.fingerprint()
        stats = index.stats
        built = (f"index built in {stats['seconds']:.1f} s" if not stats.get("kept") else
                 f"index updated in {stats['update_seconds']:.1f} s ({stats['added']} new chunk(s), {stats['deleted']} "
                 f"removed, {stats['kept']} kept; a full build, which the one-off cost counts, takes about "
                 f"{stats['seconds']:.1f} s)")
        index_note = (f"top-{cfg.top_k} of {stats['chunks']} chunks ({stats['chunk_size']} embedding tokens each, "
                      f"overlap {stats['overlap']}); {built} "
                      f"({'Chroma server ' + cfg.chroma_url if cfg.chroma_url else 'embedded Chroma in the run folder'})")
        arms = []
        for kind in (ARM_KINDS[name] for name in names):
            if kind.tuned != (tuned is not None):
                continue
            notes = ["reference arm: the base model alone, answering closed-book"] if kind.name == BASELINE else []
            one_off = 0.0
            if kind.retrieval:
                notes.append(index_note)
                one_off += stats["seconds"]
            if tuned:
                notes.append(training_note(tuned.training, cfg))
                one_off += tuned.training["seconds"]
            passages = whole["passages"] if kind.whole_corpus else None
            if passages:
                notes.append(f"all {len(passages)} training documents in every prompt "
                             f"({whole['prompt_tokens']:,} tokens of the model's {whole['context_window']:,})")
            arms.append(Arm(kind, tuned.model if tuned else models.base, index.retriever if kind.retrieval else None,
                            fingerprint(tuned.key if tuned else models.key, index.key if kind.retrieval else None,
                                        documents_fingerprint(evalset.train_documents) if passages else None, items,
                                        # continuations are compared with the true text in its embedding
                                        model_fingerprint(models.embedding.path) if evalset.documents else None),
                            one_off_seconds=one_off, notes=notes, passages=passages))
        return arms

    def _measure(self, cache: StageCache, arm: Arm, evalset: EvalSet, models: LoadedModels) -> ArmRun:
        """Scores one arm, or reuses its scores from an earlier run with the same inputs."""
        from rag.embedding import embed_texts

        tokenizer, embedder = models.tokenizer, models.embedder
        cached = cache.get(f"arm-{arm.name}", arm.key)
        if cached is not None:
            run = ArmRun.from_dict(cached)
            self._progress(arm.name, evalset.n, evalset.n, "reused from an earlier run", result=run.means())
            return run
        self._progress(arm.name, 0, evalset.n)
        run = measure_arm(arm, evalset, tokenizer, max_new_tokens=self.config.max_new_tokens,
                          metrics=qa_metrics(self.config.format_regex), format_regex=self.config.format_regex,
                          embed=lambda texts: embed_texts(embedder, texts),
                          on_item=lambda done, total: self._progress(arm.name, done, total))
        cache.put(f"arm-{arm.name}", arm.key, dataclasses.asdict(run))
        self._progress(arm.name, evalset.n, evalset.n, result=run.means())
        return run

    def _report(self, state: "RunState") -> Report:
        from advisor.measure.hardware import describe_hardware
        from advisor.measure.summary import add_extra_prompt_tokens, add_forgetting, novelty, summarize_arm

        cfg = self.config
        arms, runs, forgetting, training, corpus = (state.arms, state.runs, state.forgetting, state.tuned.training,
                                                    state.corpus)
        profile, models, model_check, evalset, whole = (state.profile, state.models, state.model_check, state.evalset,
                                                        state.whole)
        self._progress("report", 0, 1)
        prices = PriceTable.load(cfg.prices)
        usd_per_hour = cfg.price_per_hour if cfg.price_per_hour is not None else prices.price(models.device)
        untrained = not model_check["trained"]
        arm_reports = {arm.name: summarize_arm(runs[arm.name], label=arm.kind.label, one_off_seconds=arm.one_off_seconds,
                                               notes=arm.notes, usd_per_hour=usd_per_hour, untrained=untrained,
                                               seed=cfg.seed)
                       for arm in arms}
        for arm in arms:
            if arm.kind.tuned:
                arm_reports[arm.name].details["training"] = training
        reference = f"your reference text ({cfg.reference_text})" if cfg.reference_text else SHIPPED_REFERENCE_ABOUT
        add_forgetting(arm_reports, *forgetting, tuned={arm.name for arm in arms if arm.kind.tuned}, seed=cfg.seed,
                       reference=reference)
        if forgetting[0]:
            profile = {**profile, "novelty": novelty(model_check, forgetting[0], reference)}
        add_extra_prompt_tokens(arm_reports, BASELINE)
        def compared(on):
            return compare_arms({name: run.scores.get(on.name, []) for name, run in runs.items()}, on, cfg.seed)

        metric = primary_metric(cfg.goal, bool(evalset.pairs), cfg.format_regex)  # goal both: its knowledge half's
        comparisons, likelihood = compared(metric), compared(ANSWER_LIKELIHOOD)
        style_metric = STYLE_DOCUMENTS if cfg.goal == "both" and evalset.documents else None
        style_comparisons = compared(style_metric) if style_metric else None
        recommendation = recommend(cfg.goal, metric, comparisons, likelihood, arm_reports, model_check, evalset.n,
                                   cfg.constraints, profile, style_comparisons, len(evalset.documents))
        secondary = {f"{key} ({ANSWER_LIKELIHOOD.name})": value for key, value in likelihood.items()}
        if style_comparisons is not None:
            secondary |= {f"{key} ({style_metric.name})": value for key, value in style_comparisons.items()}
        if evalset.n < 20:
            self._warn(f"Only {evalset.n} held-out items: differences smaller than the intervals shown are noise.")
        report = Report(
            config=cfg.to_dict(),
            corpus={"documents": len(corpus.documents),
                    "skipped": [{"path": s.path, "reason": s.reason} for s in corpus.skipped],
                    **{k: v for k, v in profile.items() if k != "documents"}},
            arms=arm_reports,
            recommendation=recommendation,
            models={"base": {"name": models.reference.name, "path": models.reference.path,
                             "origin": models.reference.origin, "note": models.reference.note},
                    "embedding": {"name": models.embedding.name, "path": models.embedding.path,
                                  "origin": models.embedding.origin, "note": models.embedding.note},
                    "base_check": model_check},
            hardware=describe_hardware(models.device),
            evaluation={"kind": evalset.kind, "n": evalset.n, "items_fingerprint": evalset.fingerprint(),
                        "made": evalset.about,
                        "primary_metric": metric.name, "primary_metric_meaning": metric.meaning,
                        **({"style_metric": style_metric.name, "style_n": len(evalset.documents)}
                           if style_metric else {}),
                        "train_pairs": len(evalset.train_pairs), "train_documents": len(evalset.train_documents),
                        "full_context": {k: v for k, v in whole.items() if k != "passages"},
                        "wall_seconds": time.perf_counter() - state.started,
                        **({"estimate": state.estimate.to_dict()} if state.estimate is not None else {}),
                        "stage_seconds": {stage: self._stage_ended[stage] - begun
                                          for stage, begun in self._stage_started.items()},
                        "pricing": {"usd_per_hour": usd_per_hour, "device": models.device,
                                    "source": "--price-per-hour" if cfg.price_per_hour is not None
                                    else f"{prices.source}, as of {prices.as_of}"}},
            costs=report_costs(cfg, arm_reports, warn=self._warn, tuned_training=training, corpus_tokens=profile.get("tokens", 0),
                              base_parameters=models.base_parameters,
                              usd_per_hour=usd_per_hour, prices=prices),
            comparisons={**comparisons, **secondary},
            warnings=self.warnings,
            about=self.about,
            run_dir=str(self.run_dir),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        write_report(report, self.run_dir)
        self._progress("report", 1, 1, str(self.run_dir / "report.md"))
        return report

    # --- reference text, for measuring forgetting ------------------------------------------------

    def _reference_paragraphs(self) -> list[str]:
        """The reference text's paragraphs: the user's, else the shipped general text; none with --no-forgetting."""
        if not self.config.forgetting:
            return []
        return reference_paragraphs(self.config.reference_text or SHIPPED_REFERENCE_TEXT)

    def _reference_nll(self, cache: StageCache, weights_key: str, model, tokenizer, paragraphs: list[str]) -> list:
        """Per-paragraph (NLL, tokens) of the reference text under `model`, for measuring forgetting."""
        from advisor.measure.likelihood import text_nll

        if not paragraphs:
            return []
        key = fingerprint(weights_key, paragraphs)
        cached = cache.get(f"reference-{weights_key[:8]}", key)
        if cached is None:
            cached = [list(text_nll(model, tokenizer, p)) for p in paragraphs]
            cache.put(f"reference-{weights_key[:8]}", key, cached)
        return cached

    # --- helpers -------------------------------------------------------------------------------

    def _resolve_base_model(self, corpus: Corpus):
        from advisor.models import ResolvedModel, build_tiny_model, resolve_model

        try:
            return resolve_model(self.config.base_model)
        except ModelNotFoundError as exc:
            if not self.config.offline_fallback:
                raise
            folder = self._fallback_dir
            if not (folder / "model.safetensors").is_file():  # deterministic: an earlier run's is the same
                build_tiny_model([d.text for d in corpus.documents], folder, seed=self.config.seed)
            self._warn(f"BASE MODEL NOT AVAILABLE ({exc.message}). Using a small local model built "
                       f"just now with RANDOM WEIGHTS instead: the pipeline runs end to end, but "
                       f"{RANDOM_WEIGHTS}.")
            return ResolvedModel(self.config.base_model + " (unavailable; local stand-in)", str(folder),
                                 "built locally", "random weights, built because the base model could not be had")

    @staticmethod
    def _seed_everything(seed: int) -> None:
        import numpy as np
        import torch

        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)


@dataclass
class RunState:
    """What the stages of one run hand each other, filled in as they go."""

    started: float
    cache: StageCache
    corpus: Corpus | None = None
    pairs: list | None = None  # the --qa file's pairs, or None
    reference: list[str] = field(default_factory=list)  # reference-text paragraphs (forgetting)
    models: LoadedModels | None = None
    model_check: dict | None = None
    profile: dict | None = None
    evalset: EvalSet | None = None
    whole: dict | None = None  # whether the whole corpus fits a prompt (Advisor._whole_corpus)
    estimate: Any = None
    index: BuiltIndex | None = None
    tuned: TunedModel | None = None
    arms: list[Arm] = field(default_factory=list)  # the arms measured so far
    runs: dict[str, ArmRun] = field(default_factory=dict)
    forgetting: list = field(default_factory=list)  # reference-text NLLs: the base weights', then the tuned ones'
    report: Report | None = None


@dataclass(frozen=True)
class Stage:
    """One stage of a run: its name (progress events and report.json key it), its title, whether a run of a
    config passes through it, and what it does (an Advisor method taking the RunState)."""

    name: str
    title: str
    runs: Callable[[AdvisorConfig], bool]
    do: Callable[["Advisor", RunState], None]


def _answers_stage(kind) -> Stage:
    def planned(config: AdvisorConfig) -> bool:
        return kind.name in arm_names(config.measures_finetune_rag(), config.full_context)
    return Stage(kind.name, kind.answers_title, planned, lambda advisor, state: advisor._stage_answers(state, kind))


def _always(config: AdvisorConfig) -> bool:
    return True


# The run, in order: the only place the order is written. The CLI's progress lines and the TUI's rows follow it.
RUN_STAGES = [
    Stage("load", "Loading the corpus", _always, Advisor._stage_load),
    Stage("models", "Loading models", _always, Advisor._stage_models),
    Stage("profile", "Profiling the corpus", _always, Advisor._stage_profile),
    Stage("estimate", "Estimating the run's time", _always, Advisor._stage_estimate),
    Stage("index", "Building the RAG index", _always, Advisor._stage_index),
    # The arms that keep the base weights first: an interrupted fine-tune loses none of their answers.
    *(_answers_stage(kind) for kind in ARM_KINDS.values() if not kind.tuned),
    Stage("train", "LoRA fine-tune", _always, Advisor._stage_train),
    *(_answers_stage(kind) for kind in ARM_KINDS.values() if kind.tuned),
    Stage("report", "Writing the report", _always, Advisor._stage_report),
]


class _StageTitles(Mapping):
    """name -> title of each stage in RUN_STAGES, read at each use (so that the list stays the one place)."""

    def __getitem__(self, name: str) -> str:
        for stage in RUN_STAGES:
            if stage.name == name:
                return stage.title
        raise KeyError(name)

    def __iter__(self):
        return (stage.name for stage in RUN_STAGES)

    def __len__(self) -> int:
        return len(RUN_STAGES)


STAGES = _StageTitles()  # for progress lines, rows and messages


def estimate_run(config: AdvisorConfig):
    """The estimate (advisor.measure.estimate.Estimate) a run of `config` makes before its slow stages, without
    the run: it reads the corpus, loads the models and probes their speed (seconds; a minute more the first
    time a GGUF file is converted). Nothing is written (an --offline-fallback stand-in is built in a temporary
    folder)."""
    import tempfile

    from advisor.measure.estimate import plan_run, probe_speed

    started = time.perf_counter()
    advisor = Advisor(config)
    corpus, pairs, reference = advisor._load()
    with tempfile.TemporaryDirectory(prefix="advisor-estimate-") as scratch:
        advisor._fallback_dir = Path(scratch) / "fallback-model"
        models = advisor._load_models(corpus)
    evalset = build_eval_set(corpus.documents, pairs, config.goal, eval_fraction=config.eval_fraction,
                             seed=config.seed, max_eval=config.max_eval)
    speed = probe_speed(models.base, models.tokenizer, models.embedder)
    # The tokens as the run's profile counts them: on the same seeded sample, scaled to the whole corpus.
    sample, _ = sample_documents(corpus.documents, seed=config.seed)
    read = [d.text[:SAMPLE_CHARACTERS] for d in sample]
    characters = sum(len(d.text) for d in corpus.documents)
    tokens = token_counts(models.tokenizer, read)["tokens"] * characters / max(1, sum(map(len, read)))
    profile = {"tokens": round(tokens), "documents": len(corpus.documents)}
    # What the run spends before its estimate: loading as here, and the profile's 16 passes of 256 tokens.
    already = time.perf_counter() - started + 16 * speed.prompt(256)
    whole = advisor._whole_corpus(evalset, models)
    return plan_run(config, evalset, models, profile, whole, reference, already=already, speed=speed).estimate


def _load_base_model(base_model: str):
    """(ResolvedModel, model, tokenizer) on the best device there is, for the commands that need no run."""
    from advisor.measure.hardware import resolve_device
    from advisor.models import load_generator, resolve_model

    reference = resolve_model(base_model)
    return (reference, *load_generator(reference, resolve_device("auto")))


def profile_corpus(corpus: str, base_model: str | None = None, *, novelty: bool = True, seed: int = 0) -> dict:
    """The profile a run makes, without the run: size, duplicates, personal data, style and freshness; with
    the base model's tokenizer, tokens and unfamiliar words; with `novelty`, its weights too (a few seconds),
    for how new the corpus is to it. A model that cannot be had leaves a note, not an error."""
    from transformers import AutoTokenizer

    from advisor.config import DEFAULT_BASE_MODEL
    from advisor.measure.summary import novelty as novelty_of
    from advisor.models import check_trained, resolve_model

    loaded = load_corpus(corpus)
    general = reference_paragraphs(SHIPPED_REFERENCE_TEXT)
    model = tokenizer = None
    note = ""
    try:
        if novelty:
            _, model, tokenizer = _load_base_model(base_model or DEFAULT_BASE_MODEL)
        else:
            tokenizer = AutoTokenizer.from_pretrained(resolve_model(base_model or DEFAULT_BASE_MODEL).path)
    except ModelNotFoundError as exc:
        note = f"tokens not counted: {exc.message}"
    profile = {**profile_documents(loaded.documents, tokenizer, reference_texts=general, seed=seed),
               "skipped": [{"path": s.path, "reason": s.reason} for s in loaded.skipped],
               **({"tokens_note": note} if note else {})}
    if model is not None:
        from advisor.measure.likelihood import text_nll

        check = check_trained(model, tokenizer, [d.text for d in loaded.documents])
        profile["novelty"] = novelty_of(check, [text_nll(model, tokenizer, p) for p in general], SHIPPED_REFERENCE_ABOUT)
        profile["base_check"] = check
    return profile


def make_evalset(corpus: str, *, max_probes: int = 100, seed: int = 0,
                 model_written_questions: bool = False, base_model: str | None = None) -> EvalSet:
    """The probes a knowledge run without a QA file is measured on, made offline from `corpus` (the base
    model writes their questions when asked and able); each pair's to_dict() is a --qa line."""
    from advisor.config import DEFAULT_BASE_MODEL

    writer = None
    warnings = []
    if model_written_questions:
        _, model, tokenizer = _load_base_model(base_model or DEFAULT_BASE_MODEL)
        writer = question_writer(model, tokenizer)
        if writer is None:
            warnings.append(NO_CHAT_TEMPLATE)
    evalset = build_eval_set(load_corpus(corpus).documents, None, "knowledge", eval_fraction=0.5, seed=seed,
                             max_eval=max_probes, write_questions=writer)
    evalset.warnings[:0] = warnings
    return evalset


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


def advise(corpus: str, goal: str = "knowledge", qa: str | None = None, *,
           on_progress: ProgressCallback | None = None, about: list[str] | None = None,
           cancel: CancelSignal | None = None, **options) -> Report:
    """Runs the advisor on `corpus` and returns its Report (also written to the run folder).

    `cancel` (a threading.Event, or a callable returning True) stops the run at its next progress
    point with RunCancelled; running again with the same settings reuses what finished."""
    config = AdvisorConfig(corpus=str(corpus), goal=goal, qa=str(qa) if qa else None, **options)
    return Advisor(config, on_progress, about, cancel).run()
