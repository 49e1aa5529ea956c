"""Conducts a run: load, profile, evaluate base / RAG / LoRA on the same held-out set, decide, report."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from advisor.config import AdvisorConfig
from advisor.corpus.evalset import QAPair, load_qa, make_cloze_probes, split_documents, split_pairs
from advisor.corpus.loading import Corpus, load_corpus
from advisor.corpus.profile import profile_documents
from advisor.errors import ConfigError, ModelNotFoundError, VectorStoreError
from advisor.measure.cost import PRICES_AS_OF, ComputeCost, price_per_hour
from advisor.measure.evaluate import ArmRun, evaluate_qa_arm, evaluate_style_arm, qa_metrics
from advisor.measure.metrics import perplexity_summary, summarize
from advisor.measure.timing import latency_summary
from advisor.verdict.decide import ANSWER_LIKELIHOOD, compare_arms, decide, primary_metric
from advisor.files import write_json
from advisor.verdict.render import write_report
from advisor.verdict.report import ArmReport, Report

log = logging.getLogger("advisor")

STAGES = {
    "load": "Loading the corpus",
    "models": "Loading models",
    "profile": "Profiling the corpus",
    "base": "Base model answers",
    "index": "Building the RAG index",
    "rag": "RAG answers",
    "train": "LoRA fine-tune",
    "finetune": "Fine-tuned answers",
    "report": "Writing the report",
}
RANDOM_WEIGHTS = "random weights: quality figures are meaningless"


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress: `stage` is a key of STAGES; `total` is None when unknown."""

    stage: str
    completed: int
    total: int | None = None
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def default_run_dir(corpus: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{Path(corpus).resolve().name or 'corpus'}-{stamp}"


class Advisor:
    """Runs the whole comparison for one AdvisorConfig; `run()` returns the Report it also writes."""

    def __init__(self, config: AdvisorConfig, on_progress: ProgressCallback | None = None,
                 about: list[str] | None = None):
        self.config = config
        self.about = list(about or [])  # lines the report shows first: what this run is
        self.on_progress = on_progress or (lambda event: None)
        self.run_dir = Path(config.out) if config.out else default_run_dir(config.corpus)
        self.warnings: list[str] = []

    def _progress(self, stage: str, completed: int, total: int | None = None, message: str = "") -> None:
        self.on_progress(ProgressEvent(stage, completed, total, message))

    def _warn(self, text: str) -> None:
        log.warning(text)
        self.warnings.append(text)

    def run(self) -> Report:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.run_dir / "advisor.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            return self._run()
        finally:
            log.removeHandler(handler)
            handler.close()

    # --- the stages, in the order of the data flow -------------------------------------------

    def _run(self) -> Report:
        cfg = self.config
        started = time.perf_counter()
        write_json(self.run_dir / "config.json", cfg.to_dict())
        log.info("run folder %s, config %s", self.run_dir, json.dumps(cfg.to_dict()))

        self._progress("load", 0, 1)
        corpus = load_corpus(cfg.corpus)
        pairs = load_qa(cfg.qa) if cfg.qa else None
        reference = self._reference_paragraphs()
        for skipped in corpus.skipped:
            log.warning("skipped %s: %s", skipped.path, skipped.reason)
        self._progress("load", 1, 1, f"{len(corpus.documents)} documents, {len(corpus.skipped)} skipped")

        self._progress("models", 0, 2, "the base model (a GGUF file is converted once, in under a minute)")
        from advisor.measure.hardware import describe_hardware, resolve_device
        from advisor.models import load_embedder, load_generator, resolve_embedding_model

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

        self._progress("profile", 0, 1)
        from advisor.models import check_trained

        texts = [d.text for d in corpus.documents]
        model_check = check_trained(model, tokenizer, texts)
        untrained = not model_check["trained"]
        if untrained:
            self._warn(f"The base model has {model_check['verdict']} (perplexity "
                       f"{model_check['perplexity']:.0f} against {model_check['uniform_perplexity']:.0f} "
                       f"for uniform guessing): {RANDOM_WEIGHTS}.")
        profile = profile_documents(corpus.documents, tokenizer)
        self._progress("profile", 1, 1)

        # The held-out set: QA pairs, cloze probes, or (style without QA) whole documents.
        train_docs, eval_docs = corpus.documents, []
        train_pairs: list[QAPair] = []
        eval_pairs: list[QAPair] = []
        eval_kind = "qa"
        if pairs:
            train_pairs, eval_pairs = split_pairs(pairs, cfg.eval_fraction, cfg.seed, cfg.max_eval)
        elif cfg.goal == "knowledge":
            eval_kind = "cloze"
            eval_pairs = make_cloze_probes(corpus.documents, cfg.max_eval, cfg.seed)
            if not eval_pairs:
                self._warn("No QA file and no sentence in the corpus made a fill-in-the-blank probe: "
                           "no quality can be measured; pass --qa.")
        else:
            eval_kind = "documents"
            train_docs, eval_docs = split_documents(corpus.documents, cfg.eval_fraction, cfg.seed, cfg.max_eval)
            if not eval_docs:
                self._warn("A single document cannot be both trained on and held out: no quality "
                           "can be measured; add documents.")
        from advisor.cache import StageCache, documents_fingerprint, fingerprint, model_fingerprint

        write_json(self.run_dir / "eval_set.json", {
            "kind": eval_kind, "pairs": [p.to_dict() for p in eval_pairs],
            "documents": [d.source for d in eval_docs], "train_pairs": len(train_pairs)})
        n_eval = len(eval_pairs) if eval_kind != "documents" else len(eval_docs)
        items_key = fingerprint(eval_kind, [p.to_dict() for p in eval_pairs], documents_fingerprint(eval_docs))

        from advisor.measure.likelihood import answer_log_likelihood, text_nll
        from rag.generation import generate
        from rag.prompting import build_prompt

        cache = StageCache(self.run_dir)
        base_key = fingerprint(model_fingerprint(base_ref.path), device, cfg.seed, cfg.max_new_tokens,
                               cfg.format_regex, items_key)
        arms: dict[str, ArmRun] = {}

        def closed_book(question):
            prompt = build_prompt(tokenizer, question)
            return generate(model, tokenizer, prompt, cfg.max_new_tokens), prompt, {}, None

        def likelihood(prompt, reference):
            return answer_log_likelihood(model, tokenizer, prompt, reference)

        def nll(text, context):
            return text_nll(model, tokenizer, text, context)

        def generate_from(prompt):
            return generate(model, tokenizer, prompt, cfg.max_new_tokens)

        metrics = qa_metrics(cfg.format_regex)

        def evaluate(name: str, key: str, answer, context_for) -> ArmRun:
            """Scores one arm, or reuses its scores from an earlier run with the same inputs."""
            cached = cache.get(f"arm-{name}", key)
            if cached is not None:
                self._progress(name, n_eval, n_eval, "reused from an earlier run")
                return ArmRun(**cached)
            self._progress(name, 0, n_eval)
            on_item = lambda done, total: self._progress(name, done, total)  # noqa: E731
            if eval_kind == "documents":
                run = evaluate_style_arm(name, eval_docs, context_for, nll, generate_from, on_item=on_item)
            else:
                run = evaluate_qa_arm(name, eval_pairs, answer, likelihood, metrics, on_item=on_item)
            cache.put(f"arm-{name}", key, dataclasses.asdict(run))
            return run

        # Base arm: the reference every lift is measured against.
        arms["base"] = evaluate("base", base_key, closed_book, lambda d: ("", {}))
        arms["base"].notes.append("reference arm: the base model alone, answering closed-book")

        # RAG arm.
        from rag.retrieval import RagAnswerer
        from rag.splitting import chunk_size_for

        chunk_size = chunk_size_for(embedder, cfg.chunk_size)
        overlap = min(cfg.chunk_overlap, chunk_size // 2)
        index_key = fingerprint(model_fingerprint(embed_ref.path), chunk_size, overlap, cfg.chroma_url,
                                documents_fingerprint(train_docs))
        collection, index_stats = self._index(cache, index_key, train_docs, embedder, chunk_size, overlap)
        answerer = RagAnswerer(model, tokenizer, embedder, collection, cfg.top_k, cfg.max_new_tokens)

        def with_retrieval(question):
            result = answerer.answer(question)
            return result.generation, result.prompt, result.timings, result.hits

        def retrieved_context(doc):
            hits, timings = answerer.retrieve(" ".join(doc.text.split()[:24]))
            return "\n".join(h.text for h in hits), timings

        arms["rag"] = evaluate("rag", fingerprint(base_key, index_key, cfg.top_k), with_retrieval,
                               retrieved_context)
        arms["rag"].one_off_seconds = index_stats["seconds"]
        arms["rag"].notes.append(
            f"top-{cfg.top_k} of {index_stats['chunks']} chunks ({chunk_size} embedding tokens each, "
            f"overlap {overlap}); index built in {index_stats['seconds']:.1f} s "
            f"({'Chroma server ' + cfg.chroma_url if cfg.chroma_url else 'embedded Chroma in the run folder'})")

        reference_key = fingerprint(reference)
        forgetting = {"before": self._reference_nll(cache, fingerprint(base_key, reference_key), model, tokenizer,
                                                     reference)}

        # Fine-tune arm: LoRA on the training side only, then closed-book answers.
        from finetune.data import answer_examples, text_blocks
        from rag.prompting import encode_prompt

        examples = text_blocks(tokenizer, [d.text for d in train_docs], cfg.max_seq_len)
        n_blocks = len(examples)
        examples += answer_examples(tokenizer, [(build_prompt(tokenizer, p.question), p.answer) for p in train_pairs],
                                    cfg.max_seq_len, encode_prompt)
        train_key = fingerprint(base_key, documents_fingerprint(train_docs), [p.to_dict() for p in train_pairs],
                                cfg.max_seq_len, cfg.lora_targets, cfg.lora_rank, cfg.lora_alpha, cfg.learning_rate, cfg.epochs,
                                cfg.max_train_steps, cfg.min_train_steps, cfg.batch_size, cfg.budget_minutes)
        from finetune.train import merged_for_inference

        model, train_result = self._fine_tune(cache, train_key, model, tokenizer, examples, device)
        model = merged_for_inference(model)
        arms["finetune"] = evaluate("finetune", train_key, closed_book, lambda d: ("", {}))
        forgetting["after"] = self._reference_nll(cache, fingerprint(train_key, reference_key), model, tokenizer,
                                                  reference)
        ft = arms["finetune"]
        ft.one_off_seconds = train_result["seconds"]
        ft.notes.append(training_note(train_result, cfg, n_blocks, len(train_pairs)))

        # Summaries, decision, report.
        self._progress("report", 0, 1)
        usd_per_hour = price_per_hour(device, cfg.price_per_hour)
        arm_reports = {name: self._summarize_arm(run, usd_per_hour, untrained) for name, run in arms.items()}
        arm_reports["finetune"].details["training"] = train_result
        self._add_forgetting(arm_reports, forgetting)
        metric = primary_metric(cfg.goal, bool(eval_pairs) and eval_kind != "documents", cfg.format_regex)
        per_item = {name: run.scores.get(metric.name, []) for name, run in arms.items()}
        comparisons = compare_arms(per_item, metric, cfg.seed)
        likelihood = compare_arms({name: run.scores.get(ANSWER_LIKELIHOOD.name, []) for name, run in arms.items()},
                                  ANSWER_LIKELIHOOD, cfg.seed)
        recommendation = decide(cfg.goal, metric, comparisons, arm_reports, model_check, n_eval, likelihood)
        if n_eval < 20:
            self._warn(f"Only {n_eval} held-out items: differences smaller than the intervals shown are noise.")
        report = Report(
            config=cfg.to_dict(),
            corpus={"documents": len(corpus.documents),
                    "skipped": [{"path": s.path, "reason": s.reason} for s in corpus.skipped],
                    **{k: v for k, v in profile.items() if k != "documents"}},
            arms=arm_reports,
            recommendation=recommendation,
            models={"base": {"name": base_ref.name, "path": base_ref.path, "origin": base_ref.origin,
                             "note": base_ref.note},
                    "embedding": {"name": embed_ref.name, "path": embed_ref.path, "origin": embed_ref.origin,
                                  "note": embed_ref.note},
                    "base_check": model_check},
            hardware=describe_hardware(device),
            evaluation={"kind": eval_kind, "n": n_eval, "items_fingerprint": items_key,
                        "primary_metric": metric.name, "primary_metric_meaning": metric.meaning,
                        "train_pairs": len(train_pairs), "train_documents": len(train_docs),
                        "wall_seconds": time.perf_counter() - started,
                        "pricing": {"usd_per_hour": usd_per_hour, "device": device,
                                    "source": "--price-per-hour" if cfg.price_per_hour is not None
                                    else f"default table, prices as of {PRICES_AS_OF}"}},
            comparisons={**comparisons, **{f"{key} ({ANSWER_LIKELIHOOD.name})": value
                                           for key, value in likelihood.items()}},
            warnings=self.warnings,
            about=self.about,
            run_dir=str(self.run_dir),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        write_report(report, self.run_dir)
        self._progress("report", 1, 1, str(self.run_dir / "report.md"))
        return report

    # --- stages with reusable results ---------------------------------------------------------

    def _index(self, cache, key: str, documents, embedder, chunk_size: int, overlap: int):
        """The Chroma collection of the training documents, reused when its inputs are unchanged."""
        from rag.retrieval import build_index
        from rag.store import StoreUnavailable, open_client

        cfg = self.config
        try:
            client = open_client(path=str(self.run_dir / "index"), url=cfg.chroma_url)
        except StoreUnavailable as exc:
            raise VectorStoreError(str(exc), hint="start one with: chroma run --path DIR, "
                                                  "or leave out --chroma-url") from None
        name = f"advisor-{key[:16]}"
        cached = cache.get("index", key)
        if cached is not None:
            try:
                collection = client.get_collection(name, embedding_function=None)
                if collection.count() == cached["chunks"]:
                    self._progress("index", 1, 1, f"{cached['chunks']} chunks, reused")
                    return collection, cached
            except Exception:  # missing or damaged: build it again
                log.info("cached index %s unusable; rebuilding", name)
        self._progress("index", 0, 1)
        collection, _, stats = build_index(documents, embedder, client, chunk_size=chunk_size,
                                           chunk_overlap=overlap, collection_name=name)
        stats = {"chunks": stats.chunks, "seconds": stats.seconds, "embed_seconds": stats.embed_seconds}
        cache.put("index", key, stats)
        self._progress("index", 1, 1, f"{stats['chunks']} chunks")
        return collection, stats

    def _fine_tune(self, cache, key: str, model, tokenizer, examples, device: str):
        """Trains the LoRA adapter, or loads the one an earlier run trained on the same inputs."""
        from finetune.train import LoraSettings, load_adapter, train_lora

        cfg = self.config
        adapter_dir = self.run_dir / "adapter"
        cached = cache.get("train", key)
        if cached is not None and (adapter_dir / "adapter_model.safetensors").is_file():
            self._progress("train", cached["steps"], cached["steps"], "reused from an earlier run")
            return load_adapter(model, adapter_dir), cached
        settings = LoraSettings(rank=cfg.lora_rank, alpha=cfg.lora_alpha, learning_rate=cfg.learning_rate,
                                epochs=cfg.epochs, max_steps=cfg.max_train_steps, min_steps=cfg.min_train_steps,
                                batch_size=cfg.batch_size, seed=cfg.seed, target_modules=cfg.lora_target_modules())
        self._progress("train", 0, None, f"{len(examples)} examples")
        model, result = train_lora(
            model, tokenizer, examples, settings, adapter_dir, device=device,
            budget_seconds=cfg.budget_minutes * 60,
            on_step=lambda step, planned, loss: self._progress(
                "train", step, planned, f"loss {loss:.3f}" if loss is not None else ""))
        result = result.to_dict()
        self._progress("train", result["steps"], result["steps"],  # the steps that really ran
                       f"{result['steps']} steps, {result['passes']:.1f} passes")
        write_json(self.run_dir / "training.json", result)
        log.info("training: %s", json.dumps(result))
        cache.put("train", key, result)
        return model, result

    def _reference_paragraphs(self) -> list[str]:
        path = self.config.reference_text
        if not path:
            return []
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"reference text {path!r} cannot be read as UTF-8 text ({exc})") from None
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        if not paragraphs:
            raise ConfigError(f"reference text {path!r} is empty")
        return paragraphs

    def _reference_nll(self, cache, key: str, model, tokenizer, paragraphs: list[str]) -> list:
        """Per-paragraph (NLL, tokens) of the reference text under `model`, for measuring forgetting."""
        from advisor.measure.likelihood import text_nll

        if not paragraphs:
            return []
        cached = cache.get("reference", key)
        if cached is None:
            cached = [list(text_nll(model, tokenizer, p)) for p in paragraphs]
            cache.put("reference", key, cached)
        return cached

    def _add_forgetting(self, arm_reports: dict[str, ArmReport], forgetting: dict) -> None:
        if not forgetting["before"]:
            arm_reports["finetune"].notes.append(
                "forgetting not measured: pass --reference-text FILE (general text the model should keep)")
            return
        seed = self.config.seed
        before = perplexity_summary([tuple(x) for x in forgetting["before"]], seed=seed)
        after = perplexity_summary([tuple(x) for x in forgetting["after"]], seed=seed)
        arm_reports["base"].quality["reference_perplexity"] = before
        arm_reports["rag"].quality["reference_perplexity"] = before  # RAG leaves the weights alone
        arm_reports["finetune"].quality["reference_perplexity"] = after
        change = after["value"] / before["value"] - 1
        arm_reports["finetune"].notes.append(
            f"forgetting: perplexity on the reference text went from {before['value']:.2f} to "
            f"{after['value']:.2f} ({change:+.1%}) after the fine-tune")

    # --- helpers -------------------------------------------------------------------------------

    def _resolve_base_model(self, corpus: Corpus):
        from advisor.models import ResolvedModel, build_tiny_model, resolve_model

        try:
            return resolve_model(self.config.base_model)
        except ModelNotFoundError as exc:
            if not self.config.offline_fallback:
                raise
            folder = self.run_dir / "fallback-model"
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

    def _summarize_arm(self, run: ArmRun, usd_per_hour: float, untrained: bool) -> ArmReport:
        seed = self.config.seed
        quality = {name: summarize(values, seed=seed) for name, values in run.scores.items()}
        if "nll_totals" in run.extra:
            quality["perplexity"] = perplexity_summary(run.extra["nll_totals"], seed=seed)
        if untrained:  # retrieval figures do not depend on the generator
            for name, entry in quality.items():
                if not name.startswith("retrieval_"):
                    entry["warning"] = RANDOM_WEIGHTS
        latency = latency_summary(run.latencies)
        latency["parts_p50"] = {part: latency_summary(values)["p50"] for part, values in run.parts.items()}
        if run.prompt_tokens:
            latency["prompt_tokens_mean"] = statistics.mean(run.prompt_tokens)
            total_gen = sum(run.parts.get("generate", [])) or sum(run.latencies)
            latency["tokens_per_second"] = sum(run.new_tokens) / total_gen if total_gen else 0.0
        mean_latency = statistics.mean(run.latencies) if run.latencies else 0.0
        cost = ComputeCost(run.one_off_seconds, mean_latency).priced(usd_per_hour)
        notes = list(run.notes) + ([RANDOM_WEIGHTS] if untrained else [])
        return ArmReport(quality=quality, latency_ms=latency, cost_usd=cost, notes=notes,
                         details={"samples": run.samples[:20], "one_off_seconds": run.one_off_seconds,
                                  "scores": run.scores})  # per item, in eval_set.json's order


def training_note(result: dict, cfg: AdvisorConfig, n_blocks: int, n_pairs: int) -> str:
    """What the fine-tune saw and did, so a reader can judge whether it had a fair chance."""
    passes = result.get("passes", 0.0)
    budget = ""
    if result["stopped_by_budget"]:
        budget = (f"; the {cfg.budget_minutes:g}-minute budget allowed {result['planned_steps']} of the "
                  f"{result.get('steps_wanted', result['planned_steps'])} steps the data plan asked for")
    thin = "; fewer than one pass: the fine-tune had little chance to learn the facts" if passes < 1 else ""
    return (f"LoRA r={cfg.lora_rank}, alpha={cfg.lora_alpha}, lr={cfg.learning_rate}, targets {cfg.lora_targets} "
            f"on {n_blocks} text block(s) of up to {cfg.max_seq_len} tokens"
            + (f" and {n_pairs} training QA pair(s)" if n_pairs else "")
            + f": {result['steps']} optimizer steps ({passes:.1f} passes over the data, "
            f"{result['tokens']:,} real tokens, padding excluded) in {result['seconds']:.1f} s, "
            f"{result['tokens_per_second']:.0f} tokens/s"
            + (f", final loss {result['losses'][-1]['loss']:.3f}" if result["losses"] else "")
            + budget + thin + "; adapter merged into the weights for answering")


def advise(corpus: str, goal: str = "knowledge", qa: str | None = None, *,
           on_progress: ProgressCallback | None = None, about: list[str] | None = None, **options) -> Report:
    """Runs the advisor on `corpus` and returns its Report (also written to the run folder)."""
    config = AdvisorConfig(corpus=str(corpus), goal=goal, qa=str(qa) if qa else None, **options)
    return Advisor(config, on_progress, about).run()
