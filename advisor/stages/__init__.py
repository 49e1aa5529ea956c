"""The run's stages, one module each, and RUN_STAGES: the one list that orders them."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

from advisor.config import AdvisorConfig
from advisor.measure.arms import ARM_KINDS, ArmKind, arm_names
from advisor.measure.evidence import Forgetting
from advisor.stages.answers import answers_stage
from advisor.stages.context import RunContext
from advisor.stages.embeddings import tuned_index_stage
from advisor.stages.estimate import estimate_stage
from advisor.stages.feedback import checked_rated, feedback_stage
from advisor.stages.index import build_index_stage, open_store
from advisor.stages.load import load_inputs
from advisor.stages.models import load_models
from advisor.stages.profile import profile_stage
from advisor.stages.report import report_stage
from advisor.stages.state import RunState
from advisor.stages.train import fine_tune, reference_nll


@dataclass(frozen=True)
class Stage:
    """One stage of a run: its name (progress events and report.json key it), its title, whether a run of a
    config passes through it, and what it does with the run's context and state."""

    name: str
    title: str
    runs: Callable[[AdvisorConfig], bool]
    do: Callable[[RunContext, RunState], None]


# --- each stage as the RunState sees it: which fields it reads, which it fills -------------------------------


def _load(ctx: RunContext, state: RunState) -> None:
    inputs = load_inputs(ctx)
    state.pairs, state.reference, state.corpus = inputs.pairs, inputs.reference, inputs.corpus
    if ctx.config.feedback_ratings:  # too few ratings are said now, before anything slow
        state.rated, problems = checked_rated(ctx.config.feedback_ratings)
        for problem in problems:
            ctx.warn(problem)
    if ctx.config.chroma_url:
        state.store = open_store(ctx)  # a server that does not answer is said now, not after the models


def _models(ctx: RunContext, state: RunState) -> None:
    state.models = load_models(ctx, state.corpus)


def _profile(ctx: RunContext, state: RunState) -> None:
    profiled = profile_stage(ctx, state.corpus, state.pairs, state.models, state.reference)
    state.model_check, state.profile, state.evalset, state.whole = (profiled.model_check, profiled.profile,
                                                                    profiled.evalset, profiled.whole)
    if state.rated:  # the questions whose answers train are measured no more
        kept = state.evalset.without_questions({item.question for item in state.rated})
        state.rated_held_out = state.evalset.n - kept.n
        state.evalset = kept


def _estimate(ctx: RunContext, state: RunState) -> None:
    plan = estimate_stage(ctx, state.evalset, state.profile, state.whole, state.models, state.reference,
                          state.started)
    state.evalset, state.whole, state.estimate = plan.evalset, plan.whole, plan.estimate
    state.train_budget_seconds = plan.train_budget_seconds
    if ctx.config.may_tune_embeddings() and not plan.tune_embeddings:
        state.skipped["rag_tuned"] = (f"the embeddings were not tuned, so that the run fits --max-minutes "
                                      f"{ctx.config.max_minutes:g} (--tune-embeddings always keeps them)")


def _index(ctx: RunContext, state: RunState) -> None:
    state.store = state.store or open_store(ctx)
    state.index = build_index_stage(ctx, state.evalset, state.models, state.store)


def _tune_embeddings(ctx: RunContext, state: RunState) -> None:
    if "rag_tuned" in state.skipped:  # cut by --max-minutes
        ctx.progress("embeddings", 0, 0, f"skipped: {state.skipped['rag_tuned']}", status="skipped")
        return
    state.tuned_index, why_not = tuned_index_stage(ctx, state.evalset, state.models, state.index, state.store)
    if state.tuned_index is None:
        state.skipped["rag_tuned"] = why_not
        ctx.progress("embeddings", 0, 0, f"skipped: {why_not}", status="skipped")


def _answers(kind: ArmKind) -> Callable[[RunContext, RunState], None]:
    def do(ctx: RunContext, state: RunState) -> None:
        if kind.name in state.skipped:
            ctx.progress(kind.name, 0, 0, f"skipped: {state.skipped[kind.name]}", status="skipped")
            return
        index = state.tuned_index if kind.tuned_embeddings else state.index
        tuned = state.feedback_tuned if kind.from_feedback else state.tuned
        done = answers_stage(ctx, kind, state.models, index, tuned, state.evalset, state.whole,
                             rated_held_out=state.rated_held_out, book=state.answer_book)
        if done is not None:
            arm, run = done
            state.arms.append(arm)
            state.runs[arm.name] = run
    return do


def _train(ctx: RunContext, state: RunState) -> None:
    models = state.models
    # The last reading of the base weights: the fine-tune trains on them in place.
    state.forgetting = Forgetting(reference_nll(ctx, models.key, models.base, models.tokenizer, state.reference))
    state.tuned = fine_tune(ctx, state.evalset, models, state.train_budget_seconds)


def _feedback(ctx: RunContext, state: RunState) -> None:
    state.feedback_tuned = feedback_stage(ctx, state.rated, state.models, state.tuned)


def _report(ctx: RunContext, state: RunState) -> None:
    with (state.feedback_tuned.model.disable_adapter() if state.feedback_tuned else contextlib.nullcontext()):
        # the fine-tune itself, without the layers the ratings trained
        state.forgetting.after = reference_nll(ctx, state.tuned.key, state.tuned.model, state.models.tokenizer,
                                               state.reference)
    state.report = report_stage(ctx, state)


def _answers_entry(kind: ArmKind) -> Stage:
    def planned(config: AdvisorConfig) -> bool:
        return kind.name in arm_names(config.measures_finetune_rag(), config.full_context,
                                      config.may_tune_embeddings(), config.feedback_ratings is not None)
    return Stage(kind.name, kind.answers_title, planned, _answers(kind))


def _always(config: AdvisorConfig) -> bool:
    return True


# The run, in order: the only place the order is written. The CLI's progress lines and the TUI's rows follow it.
RUN_STAGES = [
    Stage("load", "Loading the corpus", _always, _load),
    Stage("models", "Loading models", _always, _models),
    Stage("profile", "Profiling the corpus", _always, _profile),
    Stage("estimate", "Estimating the run's time", _always, _estimate),
    Stage("index", "Building the RAG index", _always, _index),
    Stage("embeddings", "Tuning the embeddings", lambda config: config.may_tune_embeddings(), _tune_embeddings),
    # The arms that keep the base weights first: an interrupted fine-tune loses none of their answers.
    *(_answers_entry(kind) for kind in ARM_KINDS.values() if not kind.tuned),
    Stage("train", "LoRA fine-tune", _always, _train),
    *(_answers_entry(kind) for kind in ARM_KINDS.values() if kind.tuned and not kind.from_feedback),
    # The ratings' LoRA goes into the fine-tune's weights: every other tuned arm has answered by now.
    Stage("feedback", "Training on people's ratings", lambda config: config.feedback_ratings is not None,
          _feedback),
    *(_answers_entry(kind) for kind in ARM_KINDS.values() if kind.from_feedback),
    Stage("report", "Writing the report", _always, _report),
]


def planned_stages(config: AdvisorConfig) -> list[str]:
    """The stages a run of `config` passes through, in the order they run (keys of STAGES). The
    whole-corpus arm is listed when asked for; it runs only if the corpus fits the context window."""
    return [stage.name for stage in RUN_STAGES if stage.runs(config)]


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
