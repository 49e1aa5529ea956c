"""The words every view of a report shares (Markdown, HTML, explain, the TUI, the CLI): labels, numbers, intervals,
headline, profile and evaluation sentences; nothing here computes a figure."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from advisor.measure.arms import ARM_KINDS, KIND_OF_CHOICE
from advisor.measure.metrics import METRICS
from advisor.verdict.figures import FIGURES
from advisor.verdict.literature import cited, short_names

if TYPE_CHECKING:  # the report model is read, never imported: it imports its renderer for notebooks
    from advisor.corpus.profile import CorpusProfile
    from advisor.verdict.report import Reason, Report


METRIC_LABELS = {name: metric.title for name, metric in METRICS.items()}  # row titles, in the tables' order
LATENCY_PARTS = {"embed": "Embed the question", "retrieve": "Retrieve passages", "prompt": "Build the prompt",
                 "first_token": "Time to first token", "generate": "Generate the answer"}
CHOICE_TEXT = {choice: kind.choice_title for choice, kind in KIND_OF_CHOICE.items()}


def format_number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def is_finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def interval_text(low, high, n: int) -> str:
    """'[low, high] (n=30)', or why there is no interval."""
    if is_finite(low) and is_finite(high):
        return f"[{format_number(low)}, {format_number(high)}] (n={n})"
    return f"(n={n}: too few items for an interval)" if n else "(no items)"


def quality_cell(entry: dict | None) -> str:
    if not entry:
        return "–"
    low, high = entry.get("ci95") or [None, None]
    cell = f"{format_number(entry['value'])} {interval_text(low, high, entry['n'])}"
    if entry.get("warning"):
        cell += f" ⚠ {entry['warning']}"
    return cell


def headline(report: Report) -> str:
    """The verdict in one line, as every interface says it; a default is never dressed up as a measurement."""
    rec = report.recommendation
    if rec.basis == "default":
        return (f"No measured recommendation: nothing could be measured in this run; the published default for "
                f"goal {report.config.get('goal')} is {rec.choice} ({CHOICE_TEXT[rec.choice]})")
    return f"Recommendation: {rec.choice} (confidence {rec.confidence})"


def verdict_title(report: Report) -> str:
    rec = report.recommendation
    return "Nothing measured" if rec.basis == "default" else CHOICE_TEXT[rec.choice]


def example_items(report: Report) -> list[dict]:
    """Each example question (or held-out document) with every arm's answer to it, and RAG's sources."""
    items: dict[str, dict] = {}
    for name, arm in report.arms.items():
        for sample in arm.details.get("samples", []):
            key = sample.get("question") or sample.get("document") or sample.get("opening", "")
            item = items.setdefault(key, {"question": key, "reference": sample.get("reference", ""), "answers": []})
            item["answers"].append({"arm": name, "text": sample.get("answer", sample.get("continuation", "")),
                                    "sources": sample.get("retrieved") or []})
    return list(items.values())


def feedback_lines(report: Report) -> list[str]:
    """People's ratings in sentences: per arm the share rated good, per pair how often each answer was
    preferred, each with its n and 95% interval (Wilson); the lines of feedback.jsonl that could not be read."""
    feedback = report.feedback
    if feedback is None:
        return []

    def share(wins: int, n: int, ci95) -> str:
        return f"{wins} of {n} ({wins / n:.2f}, 95% CI {ci95[0]:.2f} to {ci95[1]:.2f})"

    lines = [f"{report.arms[name].label if name in report.arms else name}: rated good {share(r['up'], r['n'], r['ci95'])}"
             for name, r in feedback.ratings.items()]
    lines += [f"{pair['a']}'s answer preferred to {pair['b']}'s {share(pair['a_wins'], pair['n'], pair['ci95'])}"
              for pair in feedback.preferences.values()]
    lines.append(f"From {feedback.entries} line(s) of feedback.jsonl in the run folder; when an answer was rated "
                 "more than once, the last rating counts. Add more with the app's results screen or "
                 "`advisor feedback RUN_DIR --add FILE.jsonl`.")
    return lines + list(feedback.skipped)


def reason_text(reason: Reason) -> str:
    """The reason with the published work it cites: 'text (Ovadia et al. 2023)'."""
    return reason.text + (f" ({short_names(reason.sources)})" if reason.sources else "")


def reason_markdown(reason: Reason) -> str:
    """As reason_text, plus the section of the report whose figures it rests on."""
    return reason_text(reason) + (f" → *{FIGURES[reason.figure]}*" if reason.figure else "")


def references(report: Report) -> list[dict]:
    """The published work the recommendation cites, in the order first cited: key, short, reference, url, finding."""
    return [{"key": key, "short": source.short, "reference": source.reference, "url": source.url,
             "finding": source.finding} for key, source in cited(report.recommendation.sources)]


# Cumulative questions at which the cost table compares the options.
COST_VOLUMES = (1_000, 10_000, 100_000, 1_000_000)


def cost_volumes(report: Report) -> list[int]:
    """The question counts the cost table shows: round volumes, and a year at the user's monthly volume."""
    monthly = report.constraints.get("queries_per_month")
    volumes = set(COST_VOLUMES) | ({12 * monthly} if monthly else set())
    return sorted(volumes)


def total_cost(cost_usd: dict, questions: float) -> float:
    """One-off cost plus the answers' cost, for this many questions."""
    return cost_usd.get("one_off", 0.0) + cost_usd.get("per_1k_queries", 0.0) * questions / 1000


def break_even_text(report: Report) -> str | None:
    even = report.costs.break_even
    if not even:
        return None
    if even.queries is None:
        return ("never: the fine-tune's answers here cost no less than RAG's, so its one-off cost is not "
                "repaid by volume.")
    if even.queries == 0:
        return "from the first question: the fine-tune costs no more once than RAG and answers more cheaply."
    return (f"after {even.queries:,.0f} questions the fine-tune's extra one-off cost is repaid by its "
            "cheaper answers (its prompts carry no passages).")


PERSONAL_DATA_WARNING = ("a fine-tune bakes such data into weights that cannot be made to forget it; a RAG index "
                         "can delete the document that holds it")
LISTED_FINDINGS = 10  # shown in the reports; report.json holds up to a hundred


def personal_data_summary(corpus: CorpusProfile) -> tuple[str, list[dict]] | None:
    """The profile's personal data as one sentence, and the first findings (masked); None when not profiled."""
    from advisor.corpus.personal_data import describe_counts, personal_data_counts

    if not corpus.personal_data:
        return None
    found = describe_counts(personal_data_counts(corpus.personal_data))
    if not found:
        return "none found (e-mail addresses, phone numbers, payment cards, IBANs, IP addresses and national ids " \
               "were looked for, each validated)", []
    return f"{found}, each validated; {PERSONAL_DATA_WARNING}", corpus.personal_data.get("findings", [])[:LISTED_FINDINGS]


def latency_basis(report: Report) -> str:
    """How the latencies were timed: which answers, one at a time, and how the others were answered."""
    counts = sorted({arm.latency_ms.get("n") for arm in report.arms.values() if arm.latency_ms.get("n")})
    timed = "/".join(str(n) for n in counts) or "no"
    said = (f"Per answer, timed one at a time on {timed} answer(s) per arm after one warm-up answer; parts at "
            "their p50; cost per query is that time at the hardware's price.")
    batched = {name: arm.latency_ms["batched"] for name, arm in report.arms.items() if arm.latency_ms.get("batched")}
    if batched:
        size = next(iter(batched.values()))["batch_size"]
        said += (f" The other answers were generated in batches of {size} (the same greedy answers, faster): "
                 + ", ".join(f"{name} {format_number(b.get('answers_per_second'), 2)} answers/s"
                             for name, b in batched.items()) + ".")
    return said


def novelty_text(corpus: CorpusProfile) -> str | None:
    """How new the corpus is to the base model, in one sentence; None when it was not measured."""
    novelty = corpus.novelty
    if not novelty or not is_finite(novelty.get("ratio")):
        return None
    return (f"the base model's perplexity is {format_number(novelty['corpus_perplexity'], 1)} on your corpus against "
            f"{format_number(novelty['reference_perplexity'], 1)} on {novelty['reference']}: "
            f"{format_number(novelty['ratio'], 1)} times (above 1, the corpus is newer to the model than that text)")


def near_duplicates_summary(corpus: CorpusProfile) -> tuple[str, list[dict]] | None:
    """The profile's near duplicates as one sentence, and the first pairs; None when not profiled."""
    near = corpus.near_duplicates
    if not near:
        return None
    return (f"{near['documents']} document(s) repeat an earlier one with small changes "
            f"({100 * near['share_of_characters']:.1f}% of the text; {near['method']}, similarity at least "
            f"{near['threshold']})", near["pairs"][:LISTED_FINDINGS])


def _size_lines(profile: CorpusProfile) -> list[str]:
    words = profile.words_per_document
    tokens = ""
    if profile.tokens is not None:
        tokens = (f", {'about ' if profile.tokens_estimated else ''}{profile.tokens:,} tokens under the base "
                  "model's tokenizer")
    lines = [f"{profile.documents:,} documents, {profile.characters:,} characters, {profile.words:,} words" + tokens]
    if words:
        lines.append("words per document: " + ", ".join(f"{k} {v:,.0f}" for k, v in words.items()))
    if profile.file_types:
        lines.append("file types: " + ", ".join(f"{kind} {n}" for kind, n in profile.file_types.items()))
    if profile.tokens_note:
        lines.append(profile.tokens_note)
    sampled = profile.sampled
    if sampled:
        lines.append(f"sampled: {', '.join(sampled['used_for'])} read {sampled['documents']:,} of the "
                     f"{sampled['of_documents']:,} documents ({100 * sampled['share_of_characters']:.1f}% of the "
                     "characters, chosen at random with the run's seed); duplicates, personal data and dates read all")
    return lines


def _novelty_lines(profile: CorpusProfile) -> list[str]:
    lines = []
    said = novelty_text(profile)
    if said:
        lines.append(said[:1].upper() + said[1:])
    splits = profile.tokenizer_splits
    if splits:
        general = splits.get("reference_share_split")
        lines.append(f"{100 * splits['share_split']:.1f}% of the corpus's words are split into {splits['pieces']} or more "
                     "tokens" + (f" (general text: {100 * general:.1f}%)" if general is not None else "")
                     + (": the model has seen little of words such as " + ", ".join(splits["frequent_examples"][:6])
                        if splits.get("frequent_examples") else ""))
    return lines


def profile_sections(profile: CorpusProfile, code=str) -> list[tuple[str, list[str]]]:
    """The corpus profile as titled lines: `advisor profile`, report.md and report.html all show these
    (corpus text and values stay masked); `code` marks up a file's path (Markdown: backticks)."""
    from advisor.corpus.freshness import describe_freshness
    from advisor.corpus.style import describe_style

    sections = [("Size", _size_lines(profile))]
    novelty = _novelty_lines(profile)
    if novelty:
        sections.append(("Novelty for the base model", novelty))
    if profile.skipped is not None:
        skipped = profile.skipped
        sections.append((f"Skipped files ({len(skipped)})", [f"{code(s['path'])}: {s['reason']}" for s in skipped] or ["none"]))
    duplicates = [f"exact copies: {profile.exact_duplicates}"]
    near = near_duplicates_summary(profile)
    if near:
        duplicates += [f"near: {near[0]}"] + [f"{code(p['first'])} ~ {code(p['second'])} ({p['similarity']:.2f})"
                                          for p in near[1]]
    sections.append(("Duplicates", duplicates))
    personal = personal_data_summary(profile)
    if personal:
        sections.append(("Personal data", [personal[0]] + [f"{code(f['path'])} line {f['line']}: "
                                                           f"{f['kind'].replace('_', ' ')} {f['value']}"
                                                           for f in personal[1]]))
    style = describe_style(profile.style)
    if style:
        sections.append(("Style", style))
    if profile.freshness:
        sections.append(("Freshness", describe_freshness(profile.freshness)))
    return sections


def evaluation_text(report: Report) -> str:
    """How the evaluation set was made, how big it is, and what was held out of training."""
    from advisor.corpus.qa import ORIGINS

    evaluation = report.evaluation
    kind, n, made = evaluation.kind, evaluation.n, evaluation.made or {}
    trained = (f"The arms were trained and indexed on {evaluation.train_documents} document(s)"
               + (f" and {evaluation.train_pairs} QA pair(s)" if evaluation.train_pairs else "") + ".")
    if kind in ("probes", "cloze"):
        model = made.get("model_questions_kept")
        how = (f"{n} probes made from the corpus (no QA file was given): "
               + (f"{model} written by the base model (in {format_number(made.get('model_seconds'), 1)} s) and "
                  f"{n - model} fill-in-the-blank" if model else "fill-in-the-blank questions")
               + (f", from {made['documents']} document(s), chosen from {made['candidates']} candidate sentences, "
                  "one fact per sentence" if "candidates" in made else "") + ". "
               "Held out: each probe's wording, which nothing trains on. Not held out: the facts, whose sentences "
               "stay in the documents the fine-tune trains on and the index holds; that is what knowledge "
               "injection means (can the model state a fact it was given). To read or edit the probes, write them "
               "to a file with: advisor evalset CORPUS_DIR --out FILE, and pass it back with --qa.")
    elif kind == "qa":
        origins = {o: c for o, c in made.get("origins", {}).items() if o in ORIGINS}
        how = (f"{n} held-out questions from your QA file, never trained on"
               + (" (" + ", ".join(f"{c} of them {ORIGINS[o]}" for o, c in origins.items()) + ")" if origins else "")
               + ".")
    else:
        how = (f"{n} held-out document(s), never trained on and not in the index: each arm is scored on how well "
               "it predicts them, and continues each from its opening words for comparison with the true text.")
    style_n = evaluation.style_n
    if style_n:
        how += (f" For the style half, {style_n} held-out document(s) that no held-out question needs, never trained "
                "on and not in the index.")
    return f"{how} {trained}"


def stated_constraints(constraints: dict) -> list[str]:
    """The constraints the user stated (those that differ from the defaults), in words."""
    from advisor.config import Constraints

    default = Constraints()
    words = {"data_changes": lambda v: f"the data changes {v}",
             "must_cite_sources": lambda v: "answers must cite sources" if v else "no sources needed",
             "latency_limit_ms": lambda v: f"at most {v:g} ms per answer",
             "one_off_budget_usd": lambda v: f"one-off budget ${v:,.2f}",
             "monthly_budget_usd": lambda v: f"monthly budget ${v:,.2f}",
             "queries_per_month": lambda v: f"{v:,} questions a month",
             "data_may_leave_machine": lambda v: "data may leave the machine" if v else "data must stay local"}
    return [say(constraints[name]) for name, say in words.items()
            if name in constraints and constraints[name] != getattr(default, name)]


def run_time_text(report: Report) -> str | None:
    """How long the run took against its estimate, made before the slow stages, stage by stage."""
    wall, estimate = report.evaluation.wall_seconds, report.evaluation.estimate
    if wall is None or not estimate:
        return None
    actual = report.evaluation.stage_seconds or {}
    stages = [f"{STAGE_WORDS.get(stage, stage)} {seconds:.0f} s (took {actual[stage]:.0f} s)"
              for stage, seconds in estimate.stages.items() if stage in actual and seconds >= 1]
    return (f"The run took {wall / 60:.1f} min; estimated before its slow stages: {estimate.text()}"
            + (f"; by stage, {', '.join(stages)}" if stages else "") + ".")


def _in_sentence(title: str) -> str:
    """A title inside a sentence: "Fine-tuned answers" -> "fine-tuned answers"; "RAG answers" as it is."""
    return title if title.split()[0].isupper() else title[0].lower() + title[1:]


STAGE_WORDS = {"index": "index", "embeddings": "tuned embeddings", "train": "fine-tune",
               "feedback": "training on ratings",
               **{name: _in_sentence(kind.answers_title) for name, kind in ARM_KINDS.items()}}  # each arm's answers


def winner_to_hand_over(report: Report):
    """The ArmKind the verdict chose when it has trained weights or an index to export; None otherwise."""
    kind = KIND_OF_CHOICE.get(report.recommendation.choice)
    return kind if kind is not None and (kind.tuned or kind.retrieval) and kind.name in report.arms else None


def export_command(report: Report) -> str | None:
    """The command that hands the verdict's winner over (`advisor export`); None when there is nothing to."""
    import shlex

    kind = winner_to_hand_over(report)
    if kind is None:
        return None
    return f"advisor export {shlex.quote(str(report.run_dir or 'RUN_DIR'))} --to {'ollama' if kind.tuned else 'rag'}"


def hand_over(report: Report) -> tuple[str, str] | None:
    """How to take the winner to where it will run: (the command, what it writes); None when there is nothing."""
    command, kind = export_command(report), winner_to_hand_over(report)
    if command is None:
        return None
    what = ("writes the merged model as a GGUF file with an Ollama Modelfile (--to hf: safetensors; --to gguf: "
            "the GGUF alone)" if kind.tuned else "copies the index with its embedding model and retrieval settings")
    if kind.retrieval and kind.tuned:
        what += ", and the index with its settings"
    return command, what + "; `advisor ask` answers from it as this run did."
