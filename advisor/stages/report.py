"""The report stage: every arm's figures summarized and compared, the recommendation, the report written."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone

from advisor.corpus.profile import SHIPPED_REFERENCE_ABOUT
from advisor.measure.arms import ARM_KINDS, BASELINE
from advisor.measure.comparisons import compare_arms
from advisor.measure.cost import PriceTable, report_costs
from advisor.measure.evidence import Evaluation
from advisor.stages.context import RunContext
from advisor.stages.state import RunState
from advisor.verdict.decide import ANSWER_LIKELIHOOD, STYLE_DOCUMENTS, primary_metric, recommend
from advisor.verdict.ratings import feedback_of
from advisor.verdict.render import write_report
from advisor.verdict.report import ModelsUsed, Report


def report_stage(ctx: RunContext, state: RunState) -> Report:
    """The Report of everything the run measured, written to the run folder."""
    from advisor.measure.hardware import describe_hardware
    from advisor.measure.summary import add_extra_prompt_tokens, add_forgetting, novelty, summarize_arm

    cfg = ctx.config
    measured = [name for name in ARM_KINDS if name in state.runs]  # in the order every table shows them
    arms = sorted(state.arms, key=lambda arm: measured.index(arm.name))
    runs, forgetting, corpus = state.runs, state.forgetting, state.corpus
    training = state.tuned.training if state.tuned else None
    profile, models, model_check, evalset = state.profile, state.models, state.model_check, state.evalset
    ctx.progress("report", 0, 1)
    prices = PriceTable.load(cfg.prices)
    usd_per_hour = cfg.price_per_hour if cfg.price_per_hour is not None else prices.price(models.device)
    untrained = not model_check.trained
    arm_reports = {arm.name: summarize_arm(runs[arm.name], label=arm.kind.label, one_off_seconds=arm.one_off_seconds,
                                           notes=arm.notes, usd_per_hour=usd_per_hour, untrained=untrained,
                                           seed=cfg.seed)
                   for arm in arms}
    for arm in arms:
        if arm.kind.tuned:
            arm_reports[arm.name].details["training"] = training.to_dict()
        if arm.kind.retrieval and arm.retriever is not None:  # what an export copies and serves with
            built = state.tuned_index if arm.kind.tuned_embeddings else state.index
            arm_reports[arm.name].details["index"] = {
                "collection": arm.retriever.collection.name, "top_k": cfg.top_k,
                "chunk_size": built.stats["chunk_size"], "overlap": built.stats["overlap"],
                "chunks": built.stats["chunks"], "seconds": built.stats.get("index_seconds", built.stats["seconds"])}
        if arm.kind.tuned_embeddings:
            arm_reports[arm.name].details["embedding_training"] = {
                key: value for key, value in state.tuned_index.stats.items() if key != "losses"}
    reference = f"your reference text ({cfg.reference_text})" if cfg.reference_text else SHIPPED_REFERENCE_ABOUT
    add_forgetting(arm_reports, forgetting, tuned={arm.name for arm in arms if arm.kind.tuned}, seed=cfg.seed,
                   reference=reference)
    if forgetting.measured:
        profile = dataclasses.replace(profile, novelty=novelty(model_check, forgetting.before, reference))
    add_extra_prompt_tokens(arm_reports, BASELINE)

    def compared(on):
        return compare_arms({name: run.scores.get(on.name, []) for name, run in runs.items()}, on, cfg.seed)

    metric = primary_metric(cfg.goal, bool(evalset.pairs), cfg.format_regex)  # goal both: its knowledge half's
    comparisons, likelihood = compared(metric), compared(ANSWER_LIKELIHOOD)
    style_metric = STYLE_DOCUMENTS if cfg.goal == "both" and evalset.documents else None
    style_comparisons = compared(style_metric) if style_metric else None
    feedback = feedback_of(ctx.run_dir, [arm.name for arm in arms])  # ratings given on an earlier run here
    recommendation = recommend(cfg.goal, metric, comparisons, likelihood, arm_reports, model_check, evalset.n,
                               cfg.constraints, profile, style_comparisons, len(evalset.documents), feedback)
    secondary = {f"{key} ({ANSWER_LIKELIHOOD.name})": value for key, value in likelihood.items()}
    if style_comparisons is not None:
        secondary |= {f"{key} ({style_metric.name})": value for key, value in style_comparisons.items()}
    if evalset.n < 20:
        ctx.warn(f"Only {evalset.n} held-out items: differences smaller than the intervals shown are noise.")
    report = Report(
        config=cfg.to_dict(),
        corpus=dataclasses.replace(profile, skipped=[{"path": s.path, "reason": s.reason} for s in corpus.skipped]),
        arms=arm_reports,
        recommendation=recommendation,
        models=ModelsUsed(_model_entry(models.reference), _model_entry(models.embedding), model_check),
        hardware=describe_hardware(models.device),
        evaluation=Evaluation(
            kind=evalset.kind, n=evalset.n, items_fingerprint=evalset.fingerprint(), made=evalset.about,
            primary_metric=metric.name, primary_metric_meaning=metric.meaning,
            style_metric=style_metric.name if style_metric else None,
            style_n=len(evalset.documents) if style_metric else None,
            train_pairs=len(evalset.train_pairs), train_documents=len(evalset.train_documents),
            full_context=state.whole, not_measured=dict(state.skipped) or None, wall_seconds=time.perf_counter() - state.started,
            estimate=state.estimate,
            stage_seconds=ctx.stage_seconds(),
            pricing={"usd_per_hour": usd_per_hour, "device": models.device,
                     "source": "--price-per-hour" if cfg.price_per_hour is not None
                     else f"{prices.source}, as of {prices.as_of}"}),
        costs=report_costs(cfg, arm_reports, warn=ctx.warn, tuned_training=training,
                           corpus_tokens=profile.tokens or 0, base_parameters=models.base_parameters,
                           usd_per_hour=usd_per_hour, prices=prices),
        feedback=feedback,
        comparisons={**comparisons, **secondary},
        warnings=ctx.warnings,
        about=ctx.about,
        run_dir=str(ctx.run_dir),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    write_report(report, ctx.run_dir)
    ctx.progress("report", 1, 1, str(ctx.run_dir / "report.md"))
    return report


def _model_entry(resolved) -> dict:
    return {"name": resolved.name, "path": resolved.path, "origin": resolved.origin, "note": resolved.note}
