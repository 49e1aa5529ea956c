"""The command line: parses arguments, calls the public API, shows progress and errors in one line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from collections import Counter

from advisor.calibration.calibrate import TASKS
from advisor.config import AdvisorConfig, Constraints

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # as a shell reports a Ctrl-C


CONSTRAINT_PREFIX = "constraint:"
FIELD_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _field_type(spec: dataclasses.Field) -> type:
    """The value type of a config field ("float | None" -> float)."""
    names = [part.strip() for part in str(spec.type).split("|") if part.strip() != "None"]
    return FIELD_TYPES[names[0]]


def _add_field(parser, spec: dataclasses.Field, *, dest: str | None = None, **overrides) -> None:
    """The option of one AdvisorConfig or Constraints field, drawn from the field: its type, help, metavar and
    choices; a flag for a bool (off by default) or its switch_off flag (on by default). No default: a setting
    left out is the config file's, else the dataclass's."""
    meta, kind = spec.metadata, _field_type(spec)
    dest = dest or spec.name
    if kind is bool:
        if spec.default is True:
            flag, text = meta["switch_off"]
            parser.add_argument(flag, dest=dest, action="store_false", default=None, help=text)
        else:
            parser.add_argument("--" + spec.name.replace("_", "-"), dest=dest, action="store_true",
                                help=meta["help"], **{"default": None, **overrides})
        return
    options = {"type": kind} if kind is not str else {}
    if meta.get("choices"):
        options["choices"] = list(meta["choices"])
    if meta.get("metavar"):
        options["metavar"] = meta["metavar"]
    parser.add_argument("--" + spec.name.replace("_", "-"), dest=dest, **{"help": meta["help"], **options, **overrides})


def _add_option(parser: argparse.ArgumentParser, name: str, **overrides) -> None:
    """One AdvisorConfig setting as an option of another command (profile, evalset)."""
    _add_field(parser, next(f for f in dataclasses.fields(AdvisorConfig) if f.name == name), **overrides)


def _add_opposite(parser, spec: dataclasses.Field, *, dest: str) -> None:
    """For a bool constraint, the flag that sets it the other way than _add_field's does (`advisor whatif` starts
    from the run's own value, which may be either)."""
    if _field_type(spec) is not bool:
        return
    if spec.default is True:
        flag = spec.metadata["switch_off"][0]
        parser.add_argument("--" + spec.name.replace("_", "-"), dest=dest, action="store_true", default=None,
                            help=f"{spec.metadata['help']} (the opposite of {flag})")
    else:
        flag = "--" + spec.name.replace("_", "-")
        parser.add_argument("--no-" + spec.name.replace("_", "-"), dest=dest, action="store_false", default=None,
                            help=f"the opposite of {flag}")


NOT_OPTIONS = ("corpus", "constraints")  # the positional CORPUS_DIR; the constraints have a group of their own


def _add_run_options(run: argparse.ArgumentParser, *, corpus_required: bool) -> None:
    """The options of `advisor run`, which `advisor tui` takes too (to fill in its setup screen): one per
    AdvisorConfig field and one per constraint, in the order the dataclasses declare them."""
    if corpus_required:
        run.add_argument("corpus", metavar="CORPUS_DIR", nargs="?", default=None,
                         help=AdvisorConfig.help_text("corpus") + " (required unless --resume)")
        run.add_argument("--resume", metavar="RUN_DIR",
                         help="continue an interrupted run in RUN_DIR with the settings in its config.json, "
                              "reusing every stage that finished (no other option may be given)")
    else:
        run.add_argument("corpus", metavar="CORPUS_DIR", nargs="?", default=None,
                         help=AdvisorConfig.help_text("corpus") + " (optional: pick it on the setup screen)")
    for spec in dataclasses.fields(AdvisorConfig):
        if spec.name not in NOT_OPTIONS:
            _add_field(run, spec)
    constraints = run.add_argument_group("constraints", "what you need besides quality; the recommendation "
                                                        "weighs each one and says so")
    for spec in dataclasses.fields(Constraints):
        _add_field(constraints, spec, dest=CONSTRAINT_PREFIX + spec.name)
    run.add_argument("--config", metavar="TOML", help="settings from a TOML file (keys as in config.json, "
                     "constraints in a [constraints] table; see the README); options given here win")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="advisor",
        description="Measures, on your own documents, whether fine-tuning (LoRA) or retrieval (RAG) "
                    "serves your goal better, and writes a report with the evidence.")
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="compare base model, RAG and a LoRA fine-tune on a corpus and recommend one",
        description="Loads CORPUS_DIR, holds out an evaluation set, measures the base model, RAG and a "
                    "LoRA fine-tune on the same questions, and writes report.json, report.md and report.html to --out.")
    _add_run_options(run, corpus_required=True)
    run.add_argument("--quiet", action="store_true", help="no progress bars; only the final lines")

    tui = commands.add_parser(
        "tui", help="the interactive terminal app (also what `advisor` alone opens in a terminal)",
        description="Opens the interactive app: pick a corpus folder, watch every stage, read the results and "
                    "earlier runs. Any option of `advisor run` fills in the setup screen; with CORPUS_DIR, Enter "
                    "starts the run.")
    _add_run_options(tui, corpus_required=False)
    tui.add_argument("--runs", default="runs", metavar="DIR", help="folder of run folders, for new runs and the "
                     "history screen (default: runs)")

    report = commands.add_parser(
        "report", help="render a finished run's report again, from its report.json alone",
        description="Reads RUN_DIR/report.json and writes report.html, report.md or report.json again beside it "
                    "(or to --out; '-' for standard output). The same report.json always gives the same bytes.")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a run folder holding report.json")
    report.add_argument("--format", choices=["html", "md", "json"], default="html", help="default: html")
    report.add_argument("--out", metavar="FILE", help="where to write (default: RUN_DIR/report.FORMAT; - for stdout)")

    feedback = commands.add_parser(
        "feedback", help="add people's ratings of a run's answers, and weigh them in its report",
        description="Appends ratings to RUN_DIR/feedback.jsonl and writes the report again with them: the share "
                    "of each arm's answers rated good and each preference between two arms, with intervals, beside "
                    "the automatic scores; a preference that contradicts them is a reason in the recommendation. "
                    "Each line of FILE is {\"question\", \"arm\", \"rating\": \"up\"|\"down\"} or {\"question\", "
                    "\"better\": ARM, \"worse\": ARM}; a line that cannot be read is reported and skipped. "
                    "Without --add: the ratings so far.")
    feedback.add_argument("run_dir", metavar="RUN_DIR", help="a finished run's folder")
    feedback.add_argument("--add", metavar="FILE_JSONL", help="ratings to add, one JSON object per line")

    tune = commands.add_parser(
        "tune", help="train a finished run's fine-tune further on people's ratings, and measure it as one more arm",
        description="With --from-feedback: trains the fine-tune of RUN_DIR further on the ratings in its "
                    "feedback.jsonl (KTO from TRL: answers rated good made likelier, bad ones less likely; a "
                    "preference counts its better answer good and its worse one bad), then measures every arm again "
                    "in a new run folder (default RUN_DIR-feedback) and writes its report there. Half the rated "
                    "questions (a seeded hash of each) train; they leave the held-out set, so no arm is scored on a "
                    "question whose answers were trained on, and the other half's ratings stay as evidence. Run it "
                    "again to resume.")
    tune.add_argument("run_dir", metavar="RUN_DIR", help="a finished run's folder, with ratings")
    tune.add_argument("--from-feedback", action="store_true", required=True,
                      help="train on the run's ratings (feedback.jsonl)")
    tune.add_argument("--out", metavar="DIR", help="the new run folder (default: RUN_DIR-feedback)")
    tune.add_argument("--budget-minutes", type=float, metavar="MIN",
                      help=AdvisorConfig.help_text("feedback_budget_minutes") + " (default: 2)")
    tune.add_argument("--learning-rate", type=float, metavar="LR",
                      help=AdvisorConfig.help_text("feedback_learning_rate") + " (default: 5e-5)")
    tune.add_argument("--quiet", action="store_true", help="no progress bars; only the final lines")

    export = commands.add_parser(
        "export", help="hand a finished run's winner over: merged model, GGUF, Ollama Modelfile or the RAG index",
        description="Writes the arm the verdict chose (or --arm) where people run models: hf, the base model with "
                    "the adapter merged in, as safetensors with its tokenizer and chat template; gguf, that model as "
                    "one GGUF file for llama.cpp, Ollama and LM Studio (llama.cpp's own converter; Llama and Mistral "
                    "architectures); ollama, the GGUF with a Modelfile prompting as the run did, and the `ollama "
                    "create` command; rag, the Chroma collection with its embedding model and retrieval settings. A "
                    "retrieving arm's index comes with every target. `advisor ask OUT QUESTION` answers from it as "
                    "the run did.")
    export.add_argument("run_dir", metavar="RUN_DIR", help="a finished run's folder")
    export.add_argument("--to", choices=["hf", "gguf", "ollama", "rag"],
                        help="what to write (default: hf for a fine-tune, rag for RAG)")
    export.add_argument("--out", metavar="DIR", help="where (default: RUN_DIR/export-TO); an earlier export there "
                                                    "is replaced once the new one is whole")
    export.add_argument("--arm", metavar="ARM", help="export this arm instead of the verdict's (e.g. finetune, rag)")
    export.add_argument("--gguf-type", choices=["f32", "f16", "bf16", "q8_0"], default="f16",
                        help="number format of the GGUF file (default: f16; q8_0 is 8-bit, about half the size)")
    export.add_argument("--name", help="the Ollama model name (default: advisor-RUN_FOLDER_NAME)")

    ask = commands.add_parser(
        "ask", help="answer a question with an exported winner, the way the run answered",
        description="Loads EXPORT_DIR (written by `advisor export`), retrieves passages when it holds an index, "
                    "and answers greedily with the run's prompt; prints the answer's first line and its sources.")
    ask.add_argument("export_dir", metavar="EXPORT_DIR", help="a folder written by `advisor export`")
    ask.add_argument("question", metavar="QUESTION")

    plan = commands.add_parser(
        "plan", help="write the files that run a finished run's recommended option at full scale",
        description="Writes RUN_DIR/full-scale/: for a fine-tune, an accelerate config (DDP, or FSDP when the "
                    "model does not fit one card), the training job (this run's LoRA settings, the whole corpus, "
                    "nothing held out) and its command, with the projected time, memory per card and cost; for "
                    "RAG, the Chroma server command and the whole corpus's indexing command, with the projected "
                    "index size and build time. --check runs the training for two steps on two CPU processes "
                    "with a tiny stand-in model, so a plan that cannot start fails here.")
    plan.add_argument("run_dir", metavar="RUN_DIR", help="a finished run's folder")
    plan.add_argument("--gpus", type=int, default=1, metavar="N", help="cards to train on (default: 1)")
    plan.add_argument("--gpu", metavar="NAME", help="the card, as the price table names it (T4, L4, A10G, "
                                                   "A100-80GB, H100, H200; default: the cheapest the model fits on)")
    plan.add_argument("--base-model", metavar="ID_OR_PATH",
                      help="the model to fine-tune at full scale (default: the run's base model)")
    plan.add_argument("--arm", metavar="ARM", help="plan this arm instead of the verdict's (e.g. finetune, rag)")
    plan.add_argument("--check", action="store_true",
                      help="then run the training job for two steps on two CPU processes (a tiny stand-in model)")

    index = commands.add_parser(
        "index", help="index a whole corpus into Chroma (a server, or a folder) with given retrieval settings",
        description="Splits, embeds and stores every document of CORPUS_DIR; chunks already stored are kept, so an "
                    "interrupted indexing goes on where it stopped. `advisor plan` writes this command with a "
                    "run's settings.")
    index.add_argument("corpus", metavar="CORPUS_DIR")
    where = index.add_mutually_exclusive_group(required=True)
    where.add_argument("--chroma-url", metavar="URL", help=AdvisorConfig.help_text("chroma_url"))
    where.add_argument("--path", metavar="DIR", help="an embedded Chroma store in this folder")
    index.add_argument("--embedding-model", default=AdvisorConfig.embedding_model, metavar="ID_OR_PATH",
                       help=AdvisorConfig.help_text("embedding_model"))
    index.add_argument("--chunk-size", type=int, metavar="TOKENS", help=AdvisorConfig.help_text("chunk_size"))
    index.add_argument("--chunk-overlap", type=int, default=AdvisorConfig.chunk_overlap, metavar="TOKENS",
                       help=AdvisorConfig.help_text("chunk_overlap"))
    index.add_argument("--collection", default="corpus", help="the collection's name (default: corpus)")

    profile_cmd = commands.add_parser(
        "profile", help="profile a corpus in seconds: size, duplicates, personal data, style",
        description="Reads CORPUS_DIR as a run would and prints its profile: size (tokens under the base model's "
                    "tokenizer), how new the corpus is to the base model (its perplexity here against on general "
                    "text, and the words its tokenizer splits into many pieces), skipped files, exact and near "
                    "duplicates, personal data (validated, masked), style signals and their consistency across "
                    "documents, and freshness (dates in the text, file times). A corpus over 4 million characters "
                    "is sampled where reading all of it would be slow, and the profile says so.")
    profile_cmd.add_argument("corpus", metavar="CORPUS_DIR", help=AdvisorConfig.help_text("corpus"))
    _add_option(profile_cmd, "base_model")
    profile_cmd.add_argument("--no-model", dest="novelty", action="store_false",
                             help="load only the base model's tokenizer, not its weights: faster, no novelty")
    _add_option(profile_cmd, "seed", default=0)
    profile_cmd.add_argument("--json", action="store_true", help="print the profile as JSON (as in report.json)")

    evalset_cmd = commands.add_parser(
        "evalset", help="write the knowledge probes a run without a QA file would use, to read, edit and pass back",
        description="Makes the evaluation set a knowledge run without --qa is measured on, offline: one fact (a "
                    "name, number, date or term) per corpus sentence, spread over the documents, each probe tied to "
                    "its source document and sentence, with the answer neither in the question nor guessable from "
                    "it. Writes it as JSONL in the --qa format, every pair marked \"split\": \"eval\" (held out; "
                    "the fine-tune still trains on the corpus that states the facts).")
    evalset_cmd.add_argument("corpus", metavar="CORPUS_DIR", help=AdvisorConfig.help_text("corpus"))
    evalset_cmd.add_argument("--out", required=True, metavar="FILE", help="where to write the JSONL file")
    evalset_cmd.add_argument("--max-probes", type=int, default=100, metavar="N",
                             help="at most this many probes (default: 100, a run's --max-eval)")
    _add_option(evalset_cmd, "seed", default=0)
    _add_option(evalset_cmd, "model_written_questions", default=False)
    _add_option(evalset_cmd, "base_model")

    explain_cmd = commands.add_parser(
        "explain", help="a finished run's reasoning, step by step, from its report.json",
        description="Prints what was measured, whether the base model could be measured, each option against "
                    "the others with its interval, the further evidence, your constraints, the decision with "
                    "every reason, and the caveats.")
    explain_cmd.add_argument("run_dir", metavar="RUN_DIR", help="a run folder holding report.json")
    compare_cmd = commands.add_parser(
        "compare", help="two finished runs side by side (two base models, or before and after new documents)",
        description="Shows two runs' recommendations, models, corpora and each option's quality and latency side by "
                    "side, and says whether they scored the same held-out items.")
    compare_cmd.add_argument("first", metavar="RUN_A")
    compare_cmd.add_argument("second", metavar="RUN_B")

    whatif = commands.add_parser(
        "whatif", help="a finished run's verdict under other constraints or another price, with no model",
        description="Decides again from RUN_DIR/report.json alone (the decision is a function of the evidence and "
                    "your constraints, so no model loads): each constraint given replaces the run's, and "
                    "--price-per-hour prices every arm again from its measured seconds. Prints the verdict and its "
                    "confidence against the run's, the reasons added and dropped, and the costs that changed; "
                    "--write puts the new report beside the run's, in RUN_DIR/whatif/.")
    whatif.add_argument("run_dir", metavar="RUN_DIR", help="a run folder holding report.json")
    constraints = whatif.add_argument_group("constraints", "each replaces the run's own; those left out stay")
    for spec in dataclasses.fields(Constraints):
        _add_field(constraints, spec, dest=CONSTRAINT_PREFIX + spec.name)
        _add_opposite(constraints, spec, dest=CONSTRAINT_PREFIX + spec.name)
    _add_option(whatif, "price_per_hour",
                help=AdvisorConfig.help_text("price_per_hour").split(" (default")[0] + ": every arm is priced "
                     "again from its measured seconds (default: the run's own price)")
    whatif.add_argument("--write", action="store_true",
                        help="also write report.json, report.md and report.html to RUN_DIR/whatif/ (the run's own "
                             "report stays as it is)")
    whatif.add_argument("--out", metavar="DIR", help="write the what-if's report to DIR instead (implies --write)")

    demo = commands.add_parser(
        "demo", help="run on the bundled sample (or, offline, on the calibration world)",
        description="Runs the advisor on the bundled sample with the default base model. When that model "
                    "cannot be had (no hub, not cached), runs on the calibration world with the project's "
                    "own tiny pretrained model instead, and says so.")
    demo.add_argument("--sample", default="samples/ferry", metavar="DIR",
                      help="sample folder with corpus/ and qa.jsonl (default: samples/ferry)")
    demo.add_argument("--out", default="runs/demo", metavar="RUN_DIR", help="run folder (default: runs/demo)")
    demo.add_argument("--budget-minutes", type=float, default=3.0, metavar="MIN",
                      help="wall-clock cap for the fine-tune (default: 3)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars; only the final lines")

    cal = commands.add_parser(
        "calibrate", help="check the advisor where the right verdict is known (the calibration world)",
        description="Runs the advisor on the calibration world's tasks with the shipped tiny model, each built "
                    "so that its right verdict is known: " + "; ".join(
                        f"{task.name} (right verdict: {task.right_choice})" for task in TASKS) + ". Prints each "
                    "arm's measured quality against the expected outcome, each verdict beside the goal's published "
                    "prior, and the published findings checked as paired differences; exits with 1 if a verdict "
                    "is wrong.")
    cal.add_argument("--out", default="runs/calibration", metavar="RUN_DIR",
                     help="folder for the runs, one per task (default: runs/calibration)")
    cal.add_argument("--model", default=None, metavar="PATH",
                     help="base model folder (default: the shipped calibration model)")
    cal.add_argument("--seed", type=int, default=0, help="seed for splits and training (default: 0)")
    cal.add_argument("--task", action="append", dest="tasks", choices=[task.name for task in TASKS],
                     metavar="NAME", help="run only this task (repeatable): " + ", ".join(
                         f"{task.name} ({task.about})" for task in TASKS) + "; default: all (a finding "
                     "is checked when both of its tasks ran)")
    cal.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    cal.add_argument("--quiet", action="store_true", help="no progress bars; only the table")
    return parser


def _options_from_args(args: argparse.Namespace) -> dict:
    """The settings given on the command line (and in --config), as AdvisorConfig options, unchecked."""
    from advisor.config import options_from_toml

    ignore = {"command", "quiet", "config", "runs", "resume"}  # interface-only arguments
    given = {k: v for k, v in vars(args).items() if k not in ignore and v is not None}
    options = {k: v for k, v in given.items() if not k.startswith(CONSTRAINT_PREFIX)}
    options["constraints"] = {k.removeprefix(CONSTRAINT_PREFIX): v for k, v in given.items()
                              if k.startswith(CONSTRAINT_PREFIX)}
    return options_from_toml(args.config, **options) if args.config else options


def _config_from_args(args: argparse.Namespace) -> AdvisorConfig:
    return AdvisorConfig.from_dict(_options_from_args(args))


class _RichProgress:
    """Turns the library's ProgressEvents into one rich progress bar per stage."""

    def __init__(self, console):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn)
        from rich.table import Column

        # Fixed widths for the figures; the free-text note takes what is left and is cut, never wrapped.
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}", table_column=Column(width=31, no_wrap=True)),
            BarColumn(bar_width=12, table_column=Column(width=12)), MofNCompleteColumn(table_column=Column(min_width=7, no_wrap=True)),
            TimeElapsedColumn(table_column=Column(min_width=7, no_wrap=True)),
            TextColumn("{task.fields[note]}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
            console=console)
        self.tasks: dict[str, int] = {}
        self.skipped: set[str] = set()

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        for task_id in self.tasks.values():
            self.progress.stop_task(task_id)
        return self.progress.__exit__(*exc)

    def __call__(self, event) -> None:
        from advisor.api import STAGES

        if event.status == "skipped":
            self.skipped.add(event.stage)
        for stage, task_id in self.tasks.items():  # a new stage ends the earlier ones
            task = self.progress.tasks[task_id]
            if stage != event.stage and not task.finished:
                if stage in self.skipped:  # its note says why
                    self.progress.stop_task(task_id)
                    continue
                # Shows what really ran (13 steps stay 13, never a made-up "100/100").
                done = max(int(task.completed), 1)
                self.progress.update(task_id, completed=done, total=done)
                self.progress.stop_task(task_id)
        if event.stage not in self.tasks:
            self.tasks[event.stage] = self.progress.add_task(STAGES.get(event.stage, event.stage),
                                                             total=event.total, note="")
        if event.stage == "estimate" and event.result:
            self.progress.console.print(f"Expected: {event.result.text()}", highlight=False)
        task_id = self.tasks[event.stage]
        self.progress.update(task_id, completed=event.completed, total=event.total,
                             note=event.message or self.progress.tasks[task_id].fields.get("note", ""))


class _StageLines:
    """Progress for a log rather than a terminal: a line when a stage starts and one when it ends."""

    def __init__(self, console):
        self.console, self.stage, self.last = console, None, None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self._end()
        return False

    def _end(self) -> None:
        if self.stage and self.last is not None and self.last.status == "skipped":  # its note says why
            self.console.print(f"  {self.last.message}", highlight=False, soft_wrap=True)
        elif self.stage and self.last is not None:
            done = f"{self.last.completed}/{self.last.total}" if self.last.total else f"{self.last.completed}"
            self.console.print(f"  done: {done} in {self.last.elapsed:.0f} s"
                               + (f" ({self.last.message})" if self.last.message else ""),
                               highlight=False, soft_wrap=True)

    def __call__(self, event) -> None:
        from advisor.api import STAGES

        if event.stage != self.stage:
            self._end()
            self.stage = event.stage
            self.console.print(f"{STAGES.get(event.stage, event.stage)}…", highlight=False, soft_wrap=True)
        self.last = event


def _quiet_libraries() -> None:
    # Library chatter (hub progress bars, tokenizer fork warnings) would bury the progress bars.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore")


def _with_progress(args, console, work):
    """Runs work(on_progress) under progress bars unless --quiet."""
    if args.quiet:
        return work(None)
    with (_RichProgress(console) if console.is_terminal else _StageLines(console)) as progress:
        return work(progress)


def _print_outcome(report, console) -> None:
    for line in report.about:
        console.print(f"[cyan]about:[/] {line}", highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    from advisor.verdict.wording import headline

    rec = report.recommendation
    console.print(f"[bold]{headline(report)}[/] — {rec.reasons[0].text if rec.reasons else ''}", highlight=False)
    estimate = report.evaluation.estimate
    if estimate:
        console.print(f"Took {report.evaluation.wall_seconds / 60:.1f} min; expected {estimate.text()}.",
                      highlight=False)
    console.print(f"Report: {report.run_dir}/report.html (and report.md, report.json)", highlight=False)


def _stop_on_ctrl_c(console) -> threading.Event:
    """The first Ctrl-C asks the run to stop at its next progress point (what finished is kept);
    a second one stops at once."""
    stop = threading.Event()

    def ask_to_stop(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        console.print("[yellow]stopping at the next step (Ctrl-C again to stop at once)…[/]")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, ask_to_stop)
    return stop


def _resumed_config(args: argparse.Namespace) -> AdvisorConfig:
    """`advisor run --resume RUN_DIR`: the run's own settings, read from its config.json."""
    from pathlib import Path

    from advisor.errors import ConfigError

    given = sorted(k for k, v in vars(args).items() if v is not None and k not in {"command", "quiet", "resume"})
    if given:
        raise ConfigError(f"--resume takes the run's own settings; also given: {', '.join(given)}",
                          hint="leave them out, or start a new run to change settings")
    saved = Path(args.resume).expanduser() / "config.json"
    try:
        data = json.loads(saved.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot resume {args.resume!r}: {saved} cannot be read ({exc})",
                          hint="give a run folder that an earlier advisor run wrote") from None
    return AdvisorConfig.from_run_folder(data, Path(args.resume).expanduser())


def cmd_run(args: argparse.Namespace, console) -> int:
    from advisor.api import Advisor
    from advisor.errors import ConfigError

    if args.resume:
        config = _resumed_config(args)
    elif not args.corpus:
        raise ConfigError("a corpus folder is required", hint="advisor run CORPUS_DIR, or --resume RUN_DIR")
    else:
        config = _config_from_args(args)
    advisor = Advisor(config, cancel=_stop_on_ctrl_c(console))

    def work(on_progress):
        advisor.on_progress = on_progress or advisor.on_progress
        return advisor.run()

    _print_outcome(_with_progress(args, console, work), console)
    return 0


def cmd_demo(args: argparse.Namespace, console) -> int:
    from advisor.demo import run_demo

    report = _with_progress(args, console, lambda on_progress: run_demo(
        args.sample, args.out, budget_minutes=args.budget_minutes, on_progress=on_progress))
    _print_outcome(report, console)
    return 0


def cmd_calibrate(args: argparse.Namespace, console) -> int:
    from rich.table import Table

    from advisor.calibration.calibrate import SHIPPED_MODEL, TASKS, CalibrationResult, run_calibration
    from advisor.files import write_json

    results, reports = [], {}  # reports: a task that decides another's run again reuses it
    for task in (t for t in TASKS if not args.tasks or t.name in args.tasks):
        console.print(f"[bold]Calibration task: {task.name}[/] ({task.about}; right verdict: {task.right_choice})",
                      highlight=False)
        results.append(_with_progress(args, console, lambda on_progress: run_calibration(
            args.out, model=args.model or SHIPPED_MODEL, seed=args.seed, tasks=(task.name,),
            on_progress=on_progress, reports=reports)))
    result = CalibrationResult.combine(results)
    table = Table(title=f"Calibration world: measured against expected ({result.seconds:.0f} s)")
    table.add_column("task", overflow="fold")
    for column in ("arm", "metric", "measured", "expected", ""):
        table.add_column(column, no_wrap=True)
    for row in result.rows:
        measured = "n/a" if row.measured is None else f"{row.measured:.3f}"
        table.add_row(row.task, row.arm, row.metric, measured, row.expected,
                      "[green]ok[/]" if row.ok else "[red]MISS[/]")
    console.print(table)
    verdicts = Table(title="Verdicts: measured, against the right one and the goal's published prior",
                     caption="right: the task's verdict by construction; ok: the measured verdict is right, "
                             "measured (not a default) and at least as sure as the floor")
    for column in ("task", "measured", "right", "prior", "overrules prior"):
        verdicts.add_column(column, overflow="fold")
    verdicts.add_column("", no_wrap=True)
    for task, verdict in result.verdicts.items():
        verdicts.add_row(task, f"{verdict['choice']} ({verdict['confidence']})",
                         f"{verdict['right']} (>= {verdict.get('min_confidence', 'low')})", verdict.get("prior", ""),
                         "yes" if verdict.get("overrules_prior") else "no",
                         "[green]ok[/]" if verdict["ok"] else "[red]WRONG[/]")
    console.print(verdicts)
    if result.findings:
        findings = Table(title="Published findings: paired differences on the same held-out questions",
                         caption="ok: at least the expected improvement, with its 95% interval above 0")
        findings.add_column("finding (better arm minus worse arm)", ratio=1)
        for column in ("measured [95% CI]", "expected", ""):
            findings.add_column(column, no_wrap=True)
        for row in result.findings:
            measured = "n/a (different questions)" if row.improvement is None else \
                f"{row.improvement:+.2f} [{row.ci95[0]:+.2f}, {row.ci95[1]:+.2f}]"
            findings.add_row(f"{row.name}\n[dim]{row.metric}: {row.better} - {row.worse}[/]", measured,
                             row.expected, "[green]ok[/]" if row.ok else "[red]MISS[/]")
        console.print(findings)
    console.print("Why these verdicts are right:")
    for task in (t for t in TASKS if t.name in result.verdicts):
        console.print(f"- {task.name}: {task.right_choice}, since {task.why_right}", highlight=False)
    console.print("Why these measurements are expected:")
    for row in result.rows:
        console.print(f"- {row.task} {row.arm}: {row.why}", highlight=False)
    for row in result.findings:
        console.print(f"- {row.name}: {row.why}", highlight=False)
    for task, verdict in result.verdicts.items():
        console.print(f"{task} report: {verdict['report']}")
    if args.json:
        write_json(args.json, result.to_dict())
        console.print(f"Results: {args.json}")
    if not result.verdicts_ok:
        console.print("[red]A verdict is wrong: the advisor failed its calibration.[/]")
        return 1
    misses = sum(not row.ok for row in result.rows)
    missed_findings = sum(not row.ok for row in result.findings)
    overruled = sum(bool(v.get("overrules_prior")) for v in result.verdicts.values())
    console.print(f"All {len(result.verdicts)} verdicts right, {overruled} of them against the goal's published "
                  f"prior; {misses} measurement(s) outside the expected range; "
                  f"{len(result.findings) - missed_findings} of {len(result.findings)} findings reproduced.")
    return 0


def _load_report(run_dir: str):
    """A finished run's Report, or a one-line error saying why it cannot be read."""
    from advisor.runs import finished_report

    return finished_report(run_dir, relocate=False)


def cmd_profile(args: argparse.Namespace, console) -> int:
    from advisor.api import profile_corpus
    from advisor.files import json_text
    from advisor.verdict.wording import profile_sections

    profile = profile_corpus(args.corpus, args.base_model, novelty=args.novelty, seed=args.seed)
    if args.json:
        console.print(json_text(profile.to_dict()), markup=False, highlight=False, soft_wrap=True)
        return 0
    for title, lines in profile_sections(profile):
        console.print(f"[bold]{title}[/]", highlight=False)
        for line in lines:
            console.print(f"   {line}", markup=False, highlight=False, soft_wrap=not console.is_terminal)
    return 0


def cmd_evalset(args: argparse.Namespace, console) -> int:
    from advisor.api import make_evalset
    from advisor.corpus.qa import ORIGINS
    from advisor.errors import ConfigError
    from advisor.files import write_atomic

    if args.max_probes < 1:
        raise ConfigError(f"--max-probes must be at least 1, not {args.max_probes}")
    evalset = make_evalset(args.corpus, max_probes=args.max_probes, seed=args.seed,
                           model_written_questions=args.model_written_questions, base_model=args.base_model)
    for warning in evalset.warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False, style="yellow")
    if not evalset.pairs:
        return 1
    write_atomic(args.out, "".join(json.dumps(pair.to_dict(), ensure_ascii=False) + "\n" for pair in evalset.pairs))
    made = evalset.about
    kinds = Counter(pair.origin for pair in evalset.pairs)
    console.print(f"Wrote {len(evalset.pairs)} probes to {args.out} ("
                  + ", ".join(f"{n} {ORIGINS[origin]}" for origin, n in kinds.items())
                  + f"; from {made['documents']} documents, {made['candidates']} candidate sentences"
                  + (f"; the model took {made['model_seconds']:.1f} s" if "model_seconds" in made else "") + ").",
                  markup=False, highlight=False)
    console.print(f"Read or edit it, then: advisor run {args.corpus} --qa {args.out}", markup=False, highlight=False)
    return 0


def cmd_explain(args: argparse.Namespace, console) -> int:
    from advisor.verdict.explain import explain

    for number, (title, lines) in enumerate(explain(_load_report(args.run_dir)), start=1):
        console.print(f"[bold]{number}. {title}[/]", highlight=False)
        for line in lines:
            console.print(f"   {line}", markup=False, highlight=False, soft_wrap=not console.is_terminal)
    return 0


def cmd_compare(args: argparse.Namespace, console) -> int:
    from rich.table import Table
    from rich.text import Text

    from advisor.verdict.explain import compare

    notes, rows = compare(_load_report(args.first), _load_report(args.second))
    table = Table(show_lines=True)
    for column in ("", args.first, args.second):
        table.add_column(Text(column), overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # report text is shown as it is, never read as markup
    console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False)
    return 0


def cmd_whatif(args: argparse.Namespace, console) -> int:
    from advisor.verdict.wording import headline
    from advisor.whatif import what_if, write_what_if

    given = {k.removeprefix(CONSTRAINT_PREFIX): v for k, v in vars(args).items()
             if k.startswith(CONSTRAINT_PREFIX) and v is not None}
    result = what_if(args.run_dir, given, args.price_per_hour)
    written = write_what_if(result, args.out) if args.write or args.out else None  # a refused folder: before any line

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=not console.is_terminal)

    if result.stored_differs:
        said = result.before.recommendation
        say(f"Note: report.json's own verdict was made by an earlier version of the decision; decided again under "
            f"the run's own constraints it is {said.choice} ({said.confidence} confidence), and the what-if is set "
            "against that.")
    say("What if: " + ("; ".join(result.change_lines()) if result.changed
                       else "nothing changed (these are the run's own constraints and price)"))
    old = result.before.recommendation
    changed = result.verdict_changed or result.confidence_changed
    console.print(f"[bold]{headline(result.after)}[/]", highlight=False, markup=True, end="")
    say(f" (was: {old.choice}, {old.confidence} confidence)" if changed else " (unchanged)")
    if result.after.recommendation.rule != old.rule:
        say(f"Rule: {result.after.recommendation.rule}")
    for title, lines, mark in (("Reasons added", result.reasons_added, "+"),
                               ("Reasons no longer given", result.reasons_removed, "-")):
        if lines:
            say(f"{title}:")
            for line in lines:
                say(f"  {mark} {line}")
    if result.cost_changes:
        say("Costs that changed (USD):")
        for what, before, after in result.cost_changes:
            say(f"  {what}: {before} -> {after}")
    for line in result.not_repriced:
        say(f"Not priced again (kept at the run's price): {line}")
    if written:
        say(f"Wrote the what-if's report to {written['markdown'].parent}: report.md, report.html, report.json "
            "(the run's own report is unchanged)")
    return 0


def cmd_report(args: argparse.Namespace, console) -> int:
    from pathlib import Path

    from advisor.files import json_text, write_atomic
    from advisor.verdict.html import render_html
    from advisor.verdict.render import render_markdown

    report = _load_report(args.run_dir)
    source = Path(args.run_dir).expanduser() / "report.json"
    text = {"html": render_html, "md": render_markdown, "json": lambda r: json_text(r.to_dict())}[args.format](report)
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.out) if args.out else source.with_name(f"report.{args.format}")
    write_atomic(out, text)
    console.print(f"Wrote {out}", highlight=False)
    return 0


def cmd_feedback(args: argparse.Namespace, console) -> int:
    from pathlib import Path

    from advisor.errors import ConfigError
    from advisor.measure.feedback import FEEDBACK_FILE, read_feedback
    from advisor.verdict.ratings import add_feedback, with_feedback
    from advisor.verdict.wording import feedback_lines, headline

    run_dir = Path(args.run_dir).expanduser()
    before = _load_report(args.run_dir)
    if args.add:
        source = Path(args.add).expanduser()
        if not source.is_file():
            raise ConfigError(f"{str(source)!r} is not a file", hint="pass a JSONL file of ratings")
        entries, unreadable = read_feedback(source)
        report, added, left_out = add_feedback(run_dir, entries)
        for problem in unreadable + left_out:
            console.print(f"[yellow]warning:[/] {source.name}: {problem}", highlight=False)
        if not added:
            raise ConfigError(f"no rating in {str(source)!r} could be added",
                              hint='see the lines above; each line: {"question", "arm", "rating": "up"|"down"}')
        console.print(f"Added {len(added)} of {len(entries) + len(unreadable)} to {run_dir / FEEDBACK_FILE}",
                      highlight=False)
    else:
        report = with_feedback(before, run_dir)
    for line in feedback_lines(report) or ["No ratings yet: add them in the app's results screen or with --add."]:
        console.print(f"- {line}", highlight=False)
    old, new = before.recommendation, report.recommendation
    changed = (old.choice, old.confidence) != (new.choice, new.confidence)
    console.print(f"[bold]{headline(report)}[/]" + (f" (was: {old.choice}, {old.confidence} confidence)"
                                                     if changed else ""), highlight=False)
    return 0


def cmd_tune(args: argparse.Namespace, console) -> int:
    from advisor.tune import tune_from_feedback

    cancel = _stop_on_ctrl_c(console)
    report = _with_progress(args, console, lambda on_progress: tune_from_feedback(
        args.run_dir, out=args.out, budget_minutes=args.budget_minutes, learning_rate=args.learning_rate,
        on_progress=on_progress, cancel=cancel))
    _print_outcome(report, console)
    return 0


def cmd_export(args: argparse.Namespace, console) -> int:
    from advisor.export import export_run

    console.print("Writing the export (a model to merge or convert takes a minute or more) ...", highlight=False)
    exported = export_run(args.run_dir, args.to, args.out, arm=args.arm, gguf_type=args.gguf_type, name=args.name)
    console.print(f"[bold]Exported {exported.arm} as {exported.target}[/] to {exported.folder}", highlight=False)
    for what, path in exported.files.items():
        console.print(f"- {path}: {what}", highlight=False)
    for note in exported.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print("Use it:", highlight=False)
    for command in exported.commands:
        console.print(f"  {command}", highlight=False, soft_wrap=True)
    return 0


def cmd_ask(args: argparse.Namespace, console) -> int:
    from advisor.serve import ask

    served = ask(args.export_dir, args.question)
    console.print(served.answer, highlight=False, markup=False, soft_wrap=True)
    if served.sources:
        console.print(f"sources: {', '.join(dict.fromkeys(served.sources))}", highlight=False, soft_wrap=True)
    return 0


def cmd_plan(args: argparse.Namespace, console) -> int:
    from advisor.plan import check_plan, plan_lines, write_plan

    plan = write_plan(args.run_dir, gpus=args.gpus, gpu=args.gpu, base_model=args.base_model, arm=args.arm)
    console.print(f"[bold]Full-scale plan ({plan.option})[/] in {plan.folder}", highlight=False)
    for line in plan_lines(plan):
        console.print(f"- {line}", highlight=False, soft_wrap=True)
    console.print("Run:", highlight=False)
    for command in plan.commands:
        console.print(f"  {command}", highlight=False, soft_wrap=True)
    if args.check:
        if "training" not in plan.figures:
            console.print("Nothing to check: the plan has no training (its commands are the suite's own).",
                          highlight=False)
            return 0
        console.print("Checking: the training job for two steps on two CPU processes, a tiny stand-in model ...",
                      highlight=False)
        result = check_plan(args.run_dir)
        losses = [entry["loss"] for entry in result["losses"]]
        console.print(f"[green]Check passed:[/] {result['steps']} steps on {result.get('processes', 2)} processes, "
                      f"loss {' -> '.join(f'{loss:.3f}' for loss in losses) or 'not logged'}, adapter written",
                      highlight=False)
    return 0


def cmd_index(args: argparse.Namespace, console) -> int:
    from advisor.full_index import index_corpus

    stats = index_corpus(args.corpus, chroma_url=args.chroma_url, path=args.path,
                         embedding_model=args.embedding_model, chunk_size=args.chunk_size,
                         chunk_overlap=args.chunk_overlap, collection=args.collection)
    console.print(f"{stats.chunks} chunks in collection {args.collection!r} ({stats.added} new, {stats.kept} kept, "
                  f"{stats.deleted} removed) in {stats.seconds:.1f} s", highlight=False)
    return 0


def cmd_tui(args: argparse.Namespace, console) -> int:
    from advisor.tui import run_tui

    return run_tui(_options_from_args(args), runs_root=args.runs)


COMMANDS = {"run": cmd_run, "tui": cmd_tui, "report": cmd_report, "feedback": cmd_feedback, "tune": cmd_tune,
            "export": cmd_export, "ask": cmd_ask, "plan": cmd_plan, "index": cmd_index,
            "profile": cmd_profile, "evalset": cmd_evalset, "explain": cmd_explain, "compare": cmd_compare,
            "whatif": cmd_whatif, "demo": cmd_demo, "calibrate": cmd_calibrate}


def _in_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from advisor.errors import AdvisorError, RunCancelled

    parser = build_parser()
    if argv is None and len(sys.argv) == 1 and _in_a_terminal():
        argv = ["tui"]  # `advisor` alone, typed in a terminal: the interactive app
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USER_ERROR
    _quiet_libraries()
    console = Console(stderr=False)
    err = Console(stderr=True)
    try:
        return COMMANDS[args.command](args, console)
    except RunCancelled as exc:
        err.print(f"[yellow]cancelled:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    except AdvisorError as exc:
        err.print(f"[red]error:[/] {exc.title}: {exc}", highlight=False, soft_wrap=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]: run the same command again to reuse what finished")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
