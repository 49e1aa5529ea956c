"""Renders a Report as Markdown and writes it with its JSON; nothing here computes a figure."""

from __future__ import annotations

from pathlib import Path

from advisor.files import write_atomic, write_json
from advisor.verdict.html import render_html
from advisor.verdict.report import FIGURES, Report
from advisor.verdict.wording import (feedback_lines, LATENCY_PARTS, METRIC_LABELS, break_even_text, cost_volumes, evaluation_text,
                                     format_number, hand_over, headline, interval_text, latency_basis, profile_sections,
                                     quality_cell, reason_markdown, references, run_time_text, stated_constraints,
                                     total_cost, verdict_title)


def _cost_lines(report: Report, arms: list[str]) -> list[str]:
    costs, volumes = report.costs, cost_volumes(report)
    constraints = report.constraints
    lines = ["", f"## {FIGURES['costs']}", "",
             "Total cost in USD (one-off plus answers) after this many questions, at this hardware's prices:", "",
             "| | " + " | ".join(f"{v:,}" for v in volumes) + " |", "|---" * (len(volumes) + 1) + "|"]
    lines += [f"| {a} | " + " | ".join(format_number(total_cost(report.arms[a].cost_usd, v), 4) for v in volumes)
              + " |" for a in arms]
    said = break_even_text(report)
    if said:
        lines += ["", f"Break-even against RAG: {said}"]
    if costs.monthly_usd is not None:
        lines += ["", f"At your {constraints.get('queries_per_month', 0):,} questions a month (USD): "
                  + ", ".join(f"{a} {format_number(costs.monthly_usd.get(a), 2)}" for a in arms) + "."]
    if costs.freshness_usd_per_month is not None:
        lines += ["", f"Keeping each option fresh as the data changes {constraints.get('data_changes')} (redoing "
                  "its indexing or training, USD a month): "
                  + ", ".join(f"{a} {format_number(v, 4)}" for a, v in costs.freshness_usd_per_month.items()) + "."]
    projections = costs.projections
    if projections:
        full, large = projections["full_corpus"], projections["larger_model"]
        fits = lambda cards: ", ".join(cards) if cards else "none of the listed GPUs"  # noqa: E731
        lines += ["", "## Projections (estimates, not measurements)", "",
                  f"- Fine-tuning on the whole corpus for the configured passes: about {format_number(full['seconds'] / 60, 1)} "
                  f"minutes on this hardware (${format_number(full['usd'], 4)}). Formula: {full['formula']}.",
                  f"- {large['name'][:1].upper() + large['name'][1:]} ({large['parameters'] / 1e9:.2f}B parameters): "
                  f"LoRA about {format_number(large['lora_seconds_here'] / 3600, 1)} hours on this hardware "
                  f"(${format_number(large['lora_usd_here'], 2)}), full fine-tuning about "
                  f"{format_number(large['full_finetune_seconds_here'] / 3600, 1)} hours; memory about "
                  f"{format_number(large['lora_memory_gib'], 0)} GiB for LoRA (fits: {fits(large['lora_fits'])}) and "
                  f"{format_number(large['full_finetune_memory_gib'], 0)} GiB for full fine-tuning (fits: "
                  f"{fits(large['full_finetune_fits'])}). Formula: {large['formula']}."]
    return lines


def render_markdown(report: Report) -> str:
    arms = list(report.arms)  # in the order they were measured
    rec = report.recommendation
    cfg = report.config
    lines = [f"# Fine-tuning vs RAG: {verdict_title(report)}", "",
             f"Goal: **{cfg.get('goal')}** · corpus `{cfg.get('corpus')}` · base model "
             f"`{cfg.get('base_model')}` · {report.created}", "",
             *[f"> {line}" for line in report.about], *([""] if report.about else []),
             f"**{headline(report)}**", ""]
    if rec.rule:
        lines += [f"Rule: {rec.rule}", ""]
    lines += [f"- {reason_markdown(reason)}" for reason in rec.reasons]
    if rec.counter_arguments:
        lines += ["", "What would change the answer:", ""] + [f"- {line}" for line in rec.counter_arguments]
    if rec.next_steps:
        lines += ["", "Next steps:", ""] + [f"- {line}" for line in rec.next_steps]
    if handing := hand_over(report):
        lines += ["", f"Hand it over: `{handing[0]}` {handing[1]}"]
    stated = stated_constraints(report.constraints)
    if stated:
        lines += ["", "Your constraints: " + "; ".join(stated) + "."]
    if report.warnings:
        lines += ["", "## Warnings", ""] + [f"- ⚠ {w}" for w in report.warnings]

    metrics = sorted({m for a in arms for m in report.arms[a].quality},
                     key=lambda m: list(METRIC_LABELS).index(m) if m in METRIC_LABELS else 99)
    header = "| | " + " | ".join(arms) + " |"
    rule = "|---" * (len(arms) + 1) + "|"
    lines += ["", "## Quality (value [95% bootstrap interval] (n))", ""]
    primary = report.evaluation.primary_metric
    if primary:
        meaning = report.evaluation.primary_metric_meaning
        lines += [f"The recommendation reads **{METRIC_LABELS.get(primary, primary)}** first"
                  + (f": {meaning}." if meaning else "."), ""]
    style = report.evaluation.style_metric
    if style:
        lines += [f"For the style half of goal 'both', it reads **{METRIC_LABELS.get(style, style)}** on "
                  f"{report.evaluation.style_n} held-out document(s) that no held-out question needs.", ""]
    lines += [header, rule]
    for metric in metrics:
        label = METRIC_LABELS.get(metric, metric)
        lines.append(f"| {f'**{label}**' if metric == primary else label} | "
                     + " | ".join(quality_cell(report.arms[a].quality.get(metric)) for a in arms) + " |")
    if report.comparisons:
        lines += ["", "Improvements (positive = better), paired over the same items:", ""]
        for key, comp in report.comparisons.items():
            low, high = comp["ci95"]
            lines.append(f"- {key.replace('_vs_', ' vs ')}: {format_number(comp['improvement'])} "
                         f"{interval_text(low, high, comp['n'])} on {comp['metric']}")

    if report.feedback is not None:
        lines += ["", f"## {FIGURES['feedback']}", ""] + [f"- {line}" for line in feedback_lines(report)]

    lines += ["", "## Latency and cost", "", latency_basis(report), "",
              header, rule]
    lines.append("| p50 latency (ms) | " + " | ".join(format_number(report.arms[a].latency_ms.get("p50"), 1) for a in arms) + " |")
    lines.append("| p95 latency (ms) | " + " | ".join(format_number(report.arms[a].latency_ms.get("p95"), 1) for a in arms) + " |")
    for part, title in LATENCY_PARTS.items():
        values = [report.arms[a].latency_ms.get("parts_p50", {}).get(part) for a in arms]
        if any(v is not None for v in values):
            lines.append(f"| {title} (ms) | " + " | ".join(
                "not measured" if v is None else format_number(v, 1) for v in values) + " |")
    for key, title, digits in (("prompt_tokens_mean", "Prompt tokens (mean)", 0),
                               ("extra_prompt_tokens", "Extra prompt tokens over the base model", 0),
                               ("tokens_per_second", "Generated tokens per second", 1)):
        values = [report.arms[a].latency_ms.get(key) for a in arms]
        if any(v is not None for v in values):
            lines.append(f"| {title} | " + " | ".join(
                "not measured" if v is None else format_number(v, digits) for v in values) + " |")
    lines.append("| One-off cost (USD) | " + " | ".join(format_number(report.arms[a].cost_usd.get("one_off"), 5) for a in arms) + " |")
    lines.append("| Per 1,000 queries (USD) | " + " | ".join(format_number(report.arms[a].cost_usd.get("per_1k_queries"), 5) for a in arms) + " |")
    pricing = report.evaluation.pricing
    if pricing:
        lines += ["", f"Priced at ${pricing.get('usd_per_hour')}/hour for `{pricing.get('device')}`: "
                      f"{pricing.get('source')} (override with --price-per-hour or --prices). Costs are measured "
                      "compute time times that price."]

    lines += _cost_lines(report, arms)

    notes = [(a, n) for a in arms for n in report.arms[a].notes]
    if notes:
        lines += ["", "## Notes per arm", ""] + [f"- **{a}**: {n}" for a, n in notes]
    whole = report.evaluation.full_context
    if whole and not whole.fits:
        lines += ["- **full_context**: not measured: " + whole.why_not()]
    lines += [f"- **{name}**: not measured: {why}" for name, why in (report.evaluation.not_measured or {}).items()]

    lines += ["", f"## {FIGURES['corpus']}", ""]
    for title, said in profile_sections(report.corpus, code=lambda path: f"`{path}`"):
        lines += [f"### {title}", ""] + [f"- {line}" for line in said] + [""]
    lines += [f"### {FIGURES['evaluation']}", "", f"- {evaluation_text(report)}"]

    lines += ["", "## Models and hardware", ""]
    for role, info in report.models.named().items():
        lines.append(f"- {role}: `{info['name']}` ({info.get('origin', '')})"
                     + (f" — {info['note']}" if info.get("note") else ""))
    check = report.models.base_check
    if check:
        spread = check.entropy_share_of_uniform
        spread_text = "" if spread is None else (
            f", next-token predictions {format_number(100 * spread, 0)}% as spread out as uniform guessing")
        line = (f"- Base model check: perplexity {format_number(check.perplexity, 1)} on the corpus against "
                f"{format_number(check.uniform_perplexity, 0)} for uniform guessing{spread_text}: {check.verdict}")
        if check.surprised_but_confident:
            line += (" (the corpus surprises it, but its predictions stay confident, as a trained model's do"
                     " on a new format; random weights are near uniform on both counts)")
        lines.append(line)
    hardware = report.hardware.to_dict()
    if hardware:
        lines.append("- Hardware: " + ", ".join(f"{k} {v}" for k, v in hardware.items()))
    run_time = run_time_text(report)
    if run_time:
        lines.append(f"- {run_time}")

    samples = [(a, s) for a in arms for s in report.arms[a].details.get("samples", [])[:3]]
    if samples:
        lines += ["", "## Sample answers", "", "| arm | question | reference | answer |", "|---|---|---|---|"]
        for arm, s in samples:
            if "question" in s:
                cells = [s["question"], s["reference"], s["answer"]]
            else:
                cells = [s.get("opening", ""), s.get("document", ""), s.get("continuation", "")]
            lines.append(f"| {arm} | " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ")[:120]
                                                    for c in cells) + " |")
    cited_works = references(report)
    if cited_works:
        lines += ["", "## References", ""] + [f"- {w['short']}: {w['reference']}. {w['url']} ({w['finding']})"
                                                for w in cited_works]
    lines += ["", f"Run folder: `{report.run_dir}` · the full figures are in report.json.", ""]
    return "\n".join(lines)


def write_report(report: Report, run_dir: str | Path) -> dict[str, Path]:
    """Writes report.json, report.md and report.html, each atomically; returns their paths."""
    run_dir = Path(run_dir)
    paths = {"json": run_dir / "report.json", "markdown": run_dir / "report.md", "html": run_dir / "report.html"}
    write_json(paths["json"], report.to_dict())
    write_atomic(paths["markdown"], render_markdown(report))
    write_atomic(paths["html"], render_html(report))
    return paths
