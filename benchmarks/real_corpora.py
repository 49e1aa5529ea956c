"""The advisor on real text nobody on the team wrote: Python's reference (knowledge), Debian changelogs (style).

`python -m benchmarks.real_corpora [--cases knowledge,style] [--budget-minutes M] [--base-model ID_OR_PATH]
[--device cpu] [--max-documents N] [--out DIR] [--json PATH]` builds each case's corpus into DIR/<case>/corpus
(default runs/real_corpora), then runs the advisor on it through its Python API into DIR/<case>/run (a fresh
run each time: an earlier run folder there is removed first, so nothing is reused):

- knowledge: the pydoc topics shipped with CPython (`pydoc_data.topics.topics`, the language reference's
  sections as `help()` shows them), one .txt file per topic; the held-out questions are the probes
  `advisor evalset --max-probes 60` makes from them, passed back as the --qa file (every one "split": "eval"; a
  probe worded like an earlier one is left out, as the QA loader refuses a file that repeats a question);
- style: the changelog.Debian.gz of a fixed, sorted list of 48 packages (those present on this machine, one per
  source package), each cut to its first 8 entries so a document stays a few KB; goal style with
  --format-regex CHANGELOG_FORMAT, the changelog's line format.

Prints a table per case and writes benchmarks/results/real_corpora-<device>.json (atomically): per case the
corpus (documents, characters, tokens, where it came from, the packages or topics), the commands that make it
again, the verdict (choice, confidence, rule, basis, reasons), each arm's primary metric and the answer's
log-probability or held-out loss (mean, 95% interval, n), the fine-tune's steps, passes, real tokens and
seconds, the run's wall seconds and its date. A case not run now is kept from the file as it was (each case
records its own command and date).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from advisor.files import write_json
from benchmarks.common import RESULTS, ROOT, machine, progress, quiet_libraries, resolve_device

DEFAULT_OUT = ROOT / "runs" / "real_corpora"
PROBES = 60  # `advisor evalset --max-probes`: the knowledge case's held-out questions
CHANGELOG_ENTRIES = 8  # of each changelog, the newest: 1.5 to 4 KB per document
DOC_ROOT = Path("/usr/share/doc")
# Base-system and toolchain packages of Debian 12, one per source package, each with at least 8 changelog entries
# in the Debian format. Fixed, so the corpus does not change when other packages are installed; those missing on
# a machine are left out and the results say which were used.
CHANGELOG_PACKAGES = (
    "bash", "bc", "binutils", "cmake", "coreutils", "cscope", "curl", "dash", "dbus", "debianutils", "fakeroot",
    "file", "findutils", "fontconfig", "gcc-12", "gdb", "gettext", "git", "grep", "gzip", "iproute2", "less",
    "libcap2", "libgcrypt20", "libtasn1-6", "libuv1", "libxml2", "lz4", "man-db", "mawk", "ninja-build", "openssl",
    "patch", "perl", "pkgconf", "procps", "psmisc", "python3.11", "shared-mime-info", "sqlite3", "systemd", "time",
    "tmux", "tzdata", "util-linux", "valgrind", "vim", "xz-utils")

_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# The lines a Debian changelog is made of (Debian Policy 4.4); the indentation is the format, so none is optional.
CHANGELOG_LINES = {
    "header": r"[a-z0-9][a-z0-9.+-]+ \([^()\s]+\)(?: [\w./+-]+)+; urgency=\w+(?:, [\w-]+=\S+)*",
    "item": r"  \* +\S.*",
    "contributor": r"  \[ ?\S.*\]",  # "  [ Name ]" before the items of one of several people in an upload
    "continuation": r"    +\S.*",
    "sign-off": rf" -- \S[^<>]* <[^<>\s]+>  {_DAY}, \d{{1,2}} {_MONTH} \d{{4}} \d\d:\d\d:\d\d [+-]\d{{4}}",
    "blank": r"",
}
CHANGELOG_FORMAT = "|".join(f"(?:{pattern})" for pattern in CHANGELOG_LINES.values())
_HEADER = re.compile(r"(\S+) \(([^()\s]+)\)")
# The figure under the primary one: the reference answer's log-probability per token (questions) or the
# held-out documents' loss in nats per token (style).
LIKELIHOODS = ("answer_logprob", "doc_nll_per_token")
TRAINING_FIGURES = ("steps", "planned_steps", "passes", "tokens", "seconds", "budget_seconds", "stopped_by_budget",
                    "precision", "examples")


# --- the corpora: pure, on texts --------------------------------------------------------------------------------


def topic_documents(topics: dict[str, str]) -> dict[str, str]:
    """One .txt file per pydoc topic, in topic order (file name -> text); an empty topic makes no file."""
    return {f"{re.sub(r'[^A-Za-z0-9.-]', '_', name)}.txt": text.rstrip("\n") + "\n"
            for name, text in sorted(topics.items()) if text.strip()}


def first_entries(changelog: str, entries: int) -> str:
    """The changelog up to the sign-off line (" -- ") of its `entries`-th entry, as written; "" when none is signed.
    What follows the last sign-off (an old format, "# Older entries have been removed") is left out."""
    lines = changelog.splitlines(keepends=True)
    end, signed = 0, 0
    for number, line in enumerate(lines, start=1):
        if line.startswith(" -- "):
            end, signed = number, signed + 1
            if signed == entries:
                break
    kept = "".join(lines[:end])
    return kept if kept.endswith("\n") or not kept else kept + "\n"


def changelog_header(changelog: str) -> tuple[str, str] | None:
    """(source package, version) of the newest entry, or None when the text does not open with a Debian header."""
    first = next((line for line in changelog.splitlines() if line.strip()), "")
    match = _HEADER.match(first)
    return (match[1], match[2]) if match and re.fullmatch(CHANGELOG_LINES["header"], first) else None


def changelog_documents(read: Callable[[str], str | None], packages=CHANGELOG_PACKAGES, *,
                        entries: int = CHANGELOG_ENTRIES, limit: int | None = None) -> tuple[dict[str, str], dict]:
    """(file name -> text, what was used) for `packages` in sorted order: `read(package)` gives a changelog's text,
    or None where the package is not installed. One document per source package (packages built from one
    source share a changelog, and a held-out copy of a training document would measure nothing), each cut to
    its first `entries` entries; at most `limit` documents."""
    documents: dict[str, str] = {}
    used, missing, skipped = [], [], []
    sources: set[str] = set()
    for package in sorted(packages):
        if limit is not None and len(documents) >= limit:
            break
        text = read(package)
        header = changelog_header(text) if text is not None else None
        cut = first_entries(text, entries) if header else ""
        if text is None:
            missing.append(package)
        elif not cut or header[0] in sources:
            skipped.append({"package": package, "reason": "not in the Debian format" if not cut
                            else f"the same source package as another one ({header[0]})"})
        else:
            sources.add(header[0])
            documents[f"{package}.txt"] = cut
            used.append({"package": package, "source": header[0], "version": header[1],
                         "entries": sum(line.startswith(" -- ") for line in cut.splitlines()),
                         "characters": len(cut)})
    return documents, {"packages": used, "missing": missing, "skipped": skipped, "entries_per_document": entries}


def read_changelog(package: str, doc_root: Path = DOC_ROOT) -> str | None:
    path = doc_root / package / "changelog.Debian.gz"
    if not path.is_file():
        return None
    return gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")


def lines_in_format(pattern: str, texts) -> dict:
    """How many of the texts' non-blank lines match `pattern` in full, as written: the true text's own format
    match, the ceiling an arm's continuations are measured against."""
    lines = [line for text in texts for line in text.splitlines() if line.strip()]
    matching = sum(re.fullmatch(pattern, line) is not None for line in lines)
    return {"lines": len(lines), "matching": matching, "share": matching / len(lines) if lines else None}


def question_key(question: str) -> str:
    """A question as advisor.corpus.evalset.load_qa compares them: lower case, letters, digits and spaces."""
    return " ".join("".join(ch for ch in question.lower() if ch.isalnum() or ch.isspace()).split())


def distinct_questions(pairs: list) -> tuple[list, int]:
    """(the pairs without a question already asked, how many were dropped). The probe maker can word two facts
    alike (two tracebacks' "line ___"), and a QA file that repeats a question is refused, rightly: one answer
    would be held out while the other is trained on."""
    kept, seen = [], set()
    for pair in pairs:
        key = question_key(pair.question)
        if key not in seen:
            seen.add(key)
            kept.append(pair)
    return kept, len(pairs) - len(kept)


def write_documents(folder: Path, documents: dict[str, str]) -> None:
    """The corpus folder holding exactly `documents` (an earlier corpus there is replaced)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")


def build_pydoc_corpus(folder: Path, limit: int | None = None) -> dict:
    import platform

    from pydoc_data.topics import topics

    documents = topic_documents(topics)
    documents = dict(list(documents.items())[:limit])
    write_documents(folder, documents)
    return {"source": f"pydoc_data.topics.topics of CPython {platform.python_version()} (the language reference's "
                      "sections as help() shows them), one .txt file per topic",
            "topics": len(documents), "of_topics": len(topics)}


def build_changelog_corpus(folder: Path, limit: int | None = None) -> dict:
    documents, used = changelog_documents(read_changelog, limit=limit)
    write_documents(folder, documents)
    return {"source": f"{DOC_ROOT}/<package>/changelog.Debian.gz on this machine, decompressed, the first "
                      f"{CHANGELOG_ENTRIES} entries of each", **used,
            "format_regex_on_the_corpus": lines_in_format(CHANGELOG_FORMAT, documents.values())}


@dataclass(frozen=True)
class Case:
    """One real corpus and how the advisor is run on it."""

    name: str
    goal: str
    build: Callable[[Path, int | None], dict]  # writes the corpus into a folder; returns what it holds
    title: str
    format_regex: str | None = None
    probes: int = 0  # held-out questions made with the advisor's own evalset (0: none, held-out documents)


CASES = [
    Case("knowledge", "knowledge", build_pydoc_corpus, "Python's language reference (pydoc topics)", probes=PROBES),
    Case("style", "style", build_changelog_corpus, "Debian package changelogs", format_regex=CHANGELOG_FORMAT),
]


# --- the results: pure, on a report's dict ------------------------------------------------------------------------


def _figure(entry: dict | None) -> dict | None:
    return None if entry is None else {"value": entry.get("value"), "ci95": entry.get("ci95"), "n": entry.get("n")}


def summarize_report(report: dict) -> dict:
    """What this benchmark keeps of one report.json: the verdict, each arm's primary metric and likelihood (mean,
    95% interval, n), every other quality figure, the paired differences on the primary metric, the fine-tune's
    figures, the run's wall seconds, the models and the warnings."""
    evaluation, recommendation = report.get("evaluation", {}), report["recommendation"]
    metric = evaluation.get("primary_metric", "")
    arms = {}
    for name, arm in report["arms"].items():
        quality = arm.get("quality", {})
        likelihood = next((key for key in LIKELIHOODS if key in quality), None)
        arms[name] = {"label": arm.get("label", name), "primary": _figure(quality.get(metric)),
                      "likelihood": {"metric": likelihood, **_figure(quality[likelihood])} if likelihood else None,
                      "metrics": {key: _figure(entry) for key, entry in quality.items()},
                      "latency_p50_ms": arm.get("latency_ms", {}).get("p50")}
    tuned = report["arms"].get("finetune", {}).get("details", {}).get("training") or {}
    base = report.get("models", {}).get("base", {})
    corpus = report.get("corpus", {})
    return {
        "verdict": {"choice": recommendation["choice"], "confidence": recommendation["confidence"],
                    "rule": recommendation.get("rule", ""), "basis": recommendation.get("basis", "measured"),
                    "reasons": [reason["text"] if isinstance(reason, dict) else reason
                                for reason in recommendation.get("reasons", [])]},
        "evaluation": {"kind": evaluation.get("kind"), "n": evaluation.get("n"), "primary_metric": metric,
                       "primary_metric_meaning": evaluation.get("primary_metric_meaning"),
                       "train_documents": evaluation.get("train_documents"),
                       "train_pairs": evaluation.get("train_pairs")},
        "arms": arms,
        # the primary metric's comparisons are the ones named without a metric in brackets
        "comparisons": {key: value for key, value in report.get("comparisons", {}).items() if " (" not in key},
        "finetune": {key: tuned.get(key) for key in TRAINING_FIGURES} if tuned else None,
        "wall_seconds": evaluation.get("wall_seconds"),
        "corpus_figures": {key: corpus.get(key) for key in ("documents", "characters", "words", "tokens")},
        "base_model": {"name": base.get("name"), "origin": base.get("origin"), "note": base.get("note"),
                       "trained": report.get("models", {}).get("base_check", {}).get("trained")},
        "warnings": report.get("warnings", []),
        "date": report.get("created", ""),
    }


def merge_results(earlier: dict | None, cases: dict[str, dict], device: str) -> dict:
    """The results file: the cases run now, and the earlier file's other cases as they were."""
    kept = {name: case for name, case in ((earlier or {}).get("cases") or {}).items() if name not in cases}
    return {"benchmark": "real_corpora", "device": device,
            "cases": {**kept, **cases}}


def _interval(entry: dict | None, digits: int = 2) -> str:
    if not entry or entry.get("value") is None:
        return ""
    low, high = entry.get("ci95") or (None, None)
    shown = f"{entry['value']:.{digits}f}"
    if low is not None and high is not None:
        shown += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return shown + f" n={entry['n']}"


def case_rows(case: dict) -> list[tuple[str, str, str]]:
    """(arm, primary metric, likelihood) for each arm of one case, as the table shows them."""
    return [(arm["label"] or name, _interval(arm["primary"]),
             _interval(arm["likelihood"]) if arm["likelihood"] else "")
            for name, arm in case["arms"].items()]


def case_lines(case: dict) -> list[str]:
    """The verdict, the fine-tune and the run's time in words, under a case's table."""
    verdict = case["verdict"]
    lines = [f"verdict: {verdict['choice']} ({verdict['confidence']} confidence, basis {verdict['basis']})"
             + (f"; rule: {verdict['rule']}" if verdict["rule"] else "")]
    tuned = case.get("finetune")
    if tuned:
        steps = f"{tuned['steps']} step" + ("" if tuned["steps"] == 1 else "s")
        lines.append(f"fine-tune: {steps} ({tuned['passes']:.2f} passes), {tuned['tokens']:,} real tokens, "
                     f"{tuned['seconds']:.1f} s of a {tuned['budget_seconds']:.0f} s budget"
                     + (f", {tuned['precision']}" if tuned.get("precision") else ""))
    own = case.get("corpus", {}).get("format_regex_on_the_corpus")
    if own and own["share"] is not None:
        lines.append(f"the corpus's own lines in the format: {own['matching']:,} of {own['lines']:,} "
                     f"({100 * own['share']:.1f}%)")
    lines.append(f"advisor run {case['wall_seconds']:.0f} s; whole case {case['seconds']:.0f} s")
    lines += [f"warning: {warning}" for warning in case["warnings"]]
    return lines


# --- running ------------------------------------------------------------------------------------------------------


def shown(path: Path) -> str:
    """A path as the results give it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def advisor_commands(case: Case, corpus: Path, probes: Path | None, run_dir: Path, options: dict) -> list[str]:
    """The `advisor` commands that make the same run by hand."""
    commands = []
    if probes is not None:
        commands.append(shlex.join(["advisor", "evalset", shown(corpus), "--out", shown(probes),
                                    "--max-probes", str(case.probes)]))
    run = ["advisor", "run", shown(corpus), "--goal", case.goal]
    if probes is not None:
        run += ["--qa", shown(probes)]
    if case.format_regex:
        run += ["--format-regex", case.format_regex]
    run += ["--budget-minutes", f"{options['budget_minutes']:g}", "--device", options["device"],
            "--out", shown(run_dir)]
    if options.get("base_model"):
        run += ["--base-model", options["base_model"]]
    return commands + [shlex.join(run)]


def fresh_run_folder(run_dir: Path) -> None:
    """Removes an earlier run of this benchmark (a folder with config.json); refuses any other folder."""
    if not run_dir.exists():
        return
    if not (run_dir / "config.json").is_file() and any(run_dir.iterdir()):
        raise SystemExit(f"{run_dir} exists and is not a run folder: choose another --out")
    shutil.rmtree(run_dir)


def stage_printer(case: str):
    """An on_progress callback that says each stage once when it starts and once when it ends."""
    from advisor.api import STAGES

    said: set[tuple[str, bool]] = set()

    def on_progress(event) -> None:
        done = event.total is not None and event.completed >= event.total
        if (event.stage, done) in said:
            return
        said.add((event.stage, done))
        title = STAGES.get(event.stage, event.stage)
        progress(f"[{case}] {title}: " + (f"done in {event.elapsed:.0f} s" + (f", {event.message}" if event.message
                                                                               else "") if done else "started"))
    return on_progress


def run_case(case: Case, out: Path, options: dict, command: str) -> dict:
    import advisor
    from advisor.api import make_evalset
    from advisor.files import write_atomic

    started = time.perf_counter()
    folder = out / case.name
    corpus, run_dir = folder / "corpus", folder / "run"
    progress(f"[{case.name}] building the corpus into {corpus}")
    about = case.build(corpus, options.get("max_documents"))
    probes = None
    if case.probes:
        probes = folder / "probes.jsonl"
        evalset = make_evalset(str(corpus), max_probes=case.probes, seed=0)
        pairs, repeats = distinct_questions(evalset.pairs)
        if len(pairs) < 2:
            raise SystemExit(f"[{case.name}] fewer than two probes could be made from {corpus}")
        write_atomic(probes, "".join(json.dumps(pair.to_dict(), ensure_ascii=False) + "\n" for pair in pairs))
        about["probes"] = {"file": shown(probes), "count": len(pairs), "repeated_questions_dropped": repeats,
                           "made": evalset.about}
        progress(f"[{case.name}] {len(pairs)} probes written to {probes}"
                 + (f" ({repeats} repeating an earlier question left out)" if repeats else ""))
    fresh_run_folder(run_dir)
    settings = {key: options[key] for key in ("budget_minutes", "device")}
    if options.get("base_model"):
        settings["base_model"] = options["base_model"]
    report = advisor.advise(str(corpus), goal=case.goal, qa=str(probes) if probes else None, out=str(run_dir),
                            format_regex=case.format_regex, on_progress=stage_printer(case.name), **settings)
    summary = summarize_report(report.to_dict())
    figures = summary.pop("corpus_figures")
    return {"title": case.title, "goal": case.goal, "command": command,
            "advisor_commands": advisor_commands(case, corpus, probes, run_dir, options),
            "corpus": {**figures, **about, "folder": shown(corpus)}, "format_regex": case.format_regex,
            **summary, "run_dir": shown(run_dir), "budget_minutes": options["budget_minutes"],
            "seconds": time.perf_counter() - started, "machine": machine(options["device"])}


def print_case(name: str, case: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=120)
    corpus = case["corpus"]
    tokens = f", {corpus['tokens']:,} tokens" if corpus.get("tokens") else ""
    console.print(f"{name}: {case['title']}, {corpus['documents']} documents, {corpus['characters']:,} characters"
                  f"{tokens}; {case['evaluation']['n']} held-out items", markup=False, highlight=False, style="bold")
    table = Table()
    likelihood = next((arm["likelihood"]["metric"] for arm in case["arms"].values() if arm["likelihood"]), "")
    for header in ("arm", f"{case['evaluation']['primary_metric']} [95% CI]", likelihood):
        table.add_column(Text(header), justify="left" if header == "arm" else "right")
    for row in case_rows(case):
        table.add_row(*(Text(cell) for cell in row))  # report text, never read as markup
    console.print(table)
    for line in case_lines(case):
        console.print(line, markup=False, highlight=False)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.real_corpora", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(case.name for case in CASES),
                        help="comma-separated cases to run (default: all: %(default)s)")
    parser.add_argument("--budget-minutes", type=float, default=3.0, help="the fine-tune's budget (default: 3)")
    parser.add_argument("--base-model", default=None, metavar="ID_OR_PATH",
                        help="base model (default: the advisor's, offline its packaged copy)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps", "auto"], help="default: cpu")
    parser.add_argument("--max-documents", type=int, default=None, metavar="N",
                        help="at most N documents per corpus, for a quick try (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help="folder for the corpora and runs (default: runs/real_corpora)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="results file (default: benchmarks/results/real_corpora-<device>.json)")
    args = parser.parse_args(argv)
    known = {case.name: case for case in CASES}
    chosen = [name.strip() for name in args.cases.split(",") if name.strip()]
    if not chosen or any(name not in known for name in chosen):
        parser.error(f"--cases takes a comma-separated choice of {', '.join(known)}, not {args.cases!r}")
    if args.max_documents is not None and args.max_documents < 2:
        parser.error("--max-documents must be at least 2 (a style run holds one out)")
    quiet_libraries()
    device = resolve_device(args.device) if args.device in ("auto", "cuda") else args.device
    options = {"budget_minutes": args.budget_minutes, "device": device, "base_model": args.base_model,
               "max_documents": args.max_documents}
    command = shlex.join(["python", "-m", "benchmarks.real_corpora", *argv])
    path = args.json or RESULTS / f"real_corpora-{device}.json"
    started = time.perf_counter()
    for name in chosen:
        case = run_case(known[name], args.out, options, command)
        earlier = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        results = merge_results(earlier, {name: case}, device)
        results["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_json(path, results)  # after each case: an interrupted benchmark keeps what finished
        print_case(name, case)
    print(f"wrote {path} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
