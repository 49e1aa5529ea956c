"""Conducts a run: load, profile, evaluate base / RAG / LoRA on the same held-out set, decide, report."""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import datetime
from pathlib import Path

from advisor.cache import StageCache
from advisor.config import AdvisorConfig
from advisor.corpus.evalset import EvalSet, build_eval_set
from advisor.corpus.loading import load_corpus
from advisor.corpus.probes import NO_CHAT_TEMPLATE, question_writer
from advisor.corpus.profile import (SHIPPED_REFERENCE_ABOUT, SHIPPED_REFERENCE_TEXT, CorpusProfile, corpus_tokens,
                                    profile_documents, reference_paragraphs)
from advisor.errors import ConfigError, ModelNotFoundError
from advisor.files import write_json
import advisor.stages as stages
from advisor.memory import release_freed_memory
from advisor.stages import STAGES, Stage, planned_stages
from advisor.stages.context import CancelSignal, ProgressCallback, ProgressEvent, RunContext
from advisor.stages.index import lost_server
from advisor.stages.load import load_inputs
from advisor.stages.models import load_models
from advisor.stages.profile import fit_of
from advisor.stages.state import RunState
from advisor.verdict.report import Report

log = logging.getLogger("advisor")
# What callers import from the API besides Advisor and advise: the progress events and the stages they name.
__all__ = ["Advisor", "CancelSignal", "ProgressCallback", "ProgressEvent", "STAGES", "Stage",
           "advise", "default_run_dir", "estimate_run", "make_evalset", "planned_stages", "profile_corpus"]


def default_run_dir(corpus: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{Path(corpus).resolve().name or 'corpus'}-{stamp}"


class Advisor:
    """Runs the whole comparison for one AdvisorConfig; `run()` returns the Report it also writes."""

    def __init__(self, config: AdvisorConfig, on_progress: ProgressCallback | None = None,
                 about: list[str] | None = None, cancel: CancelSignal | None = None):
        self.config = config
        self.run_dir = Path(config.out) if config.out else default_run_dir(config.corpus)
        self.context = RunContext(config, self.run_dir, StageCache(self.run_dir),
                                  on_progress or (lambda event: None), cancel,
                                  title=lambda stage: STAGES.get(stage, stage), about=list(about or []))

    @property
    def warnings(self) -> list[str]:
        return self.context.warnings

    @property
    def on_progress(self) -> ProgressCallback:
        """What each ProgressEvent is handed to; set it before run() (the CLI does, once its display is up)."""
        return self.context.on_progress

    @on_progress.setter
    def on_progress(self, callback: ProgressCallback) -> None:
        self.context.on_progress = callback

    def run(self) -> Report:
        from advisor.lock import RunFolderLock

        fresh = not self.run_dir.exists()
        self._check_run_folder()
        with RunFolderLock(self.run_dir):  # a second run on this folder stops here, before touching anything
            handler = logging.FileHandler(self.run_dir / "advisor.log", encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            state = RunState(time.perf_counter(), train_budget_seconds=self.config.budget_minutes * 60)
            try:
                return self._run(state)
            finally:
                log.removeHandler(handler)
                handler.close()
                if fresh and state.corpus is None:
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

    def _run(self, state: RunState) -> Report:
        """The data flow of ../shared/DESIGN.md: each stage of RUN_STAGES that this config passes through, in
        order, reading and filling the RunState."""
        cfg = self.config
        write_json(self.run_dir / "config.json", cfg.to_dict())
        log.info("run folder %s, config %s", self.run_dir, json.dumps(cfg.to_dict()))
        for stage in stages.RUN_STAGES:  # read at each run: the list is the one place the order lives
            if stage.runs(cfg):
                try:
                    stage.do(self.context, state)
                except Exception as exc:
                    lost = lost_server(self.context, stage.title, exc)
                    if lost is None:
                        raise
                    raise lost from None
                release_freed_memory()  # the next stage's peak should not stack on this one's freed memory
        return state.report


def estimate_run(config: AdvisorConfig):
    """The estimate (advisor.measure.estimate.Estimate) a run of `config` makes before its slow stages, without
    the run: it reads the corpus, loads the models and probes their speed (seconds; a minute more the first
    time a GGUF file is converted). Nothing is written (an --offline-fallback stand-in is built in a temporary
    folder)."""
    import tempfile

    from advisor.measure.estimate import plan_run, probe_speed

    started = time.perf_counter()
    ctx = RunContext(config, Path("."), StageCache(Path(".")))  # nothing is written: no run folder
    inputs = load_inputs(ctx)
    corpus, pairs, reference = inputs.corpus, inputs.pairs, inputs.reference
    with tempfile.TemporaryDirectory(prefix="advisor-estimate-") as scratch:
        models = load_models(ctx, corpus, fallback_dir=Path(scratch) / "fallback-model")
    evalset = build_eval_set(corpus.documents, pairs, config.goal, eval_fraction=config.eval_fraction,
                             seed=config.seed, max_eval=config.max_eval)
    speed = probe_speed(models.base, models.tokenizer, models.embedder)
    tokens, _ = corpus_tokens(models.tokenizer, corpus.documents, seed=config.seed)  # as the run's profile counts
    profile = CorpusProfile(documents=len(corpus.documents), tokens=tokens)
    # What the run spends before its estimate: loading as here, and the profile's 16 passes of 256 tokens.
    already = time.perf_counter() - started + 16 * speed.prompt(256)
    whole = fit_of(config, evalset, models)
    return plan_run(config, evalset, models, profile, whole, reference, already=already, speed=speed).estimate


def _load_base_model(base_model: str):
    """(ResolvedModel, model, tokenizer) on the best device there is, for the commands that need no run."""
    from advisor.measure.hardware import resolve_device
    from advisor.models import load_generator, resolve_model

    reference = resolve_model(base_model)
    return (reference, *load_generator(reference, resolve_device("auto")))


def profile_corpus(corpus: str, base_model: str | None = None, *, novelty: bool = True,
                   seed: int = 0) -> CorpusProfile:
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
    profile = profile_documents(loaded.documents, tokenizer, reference_texts=general, seed=seed)
    profile.skipped = [{"path": s.path, "reason": s.reason} for s in loaded.skipped]
    profile.tokens_note = note or None
    if model is not None:
        from advisor.measure.likelihood import text_nll

        check = check_trained(model, tokenizer, [d.text for d in loaded.documents])
        profile.novelty = novelty_of(check, [text_nll(model, tokenizer, p) for p in general], SHIPPED_REFERENCE_ABOUT)
        profile.base_check = check.to_dict()
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


def advise(corpus: str, goal: str = "knowledge", qa: str | None = None, *,
           on_progress: ProgressCallback | None = None, about: list[str] | None = None,
           cancel: CancelSignal | None = None, **options) -> Report:
    """Runs the advisor on `corpus` and returns its Report (also written to the run folder).

    `cancel` (a threading.Event, or a callable returning True) stops the run at its next progress
    point with RunCancelled; running again with the same settings reuses what finished."""
    config = AdvisorConfig(corpus=str(corpus), goal=goal, qa=str(qa) if qa else None, **options)
    return Advisor(config, on_progress, about, cancel).run()
