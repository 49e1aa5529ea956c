"""The command line: parses arguments, calls the public API, shows progress and errors in one line."""

from __future__ import annotations

import argparse
import os
import sys

from advisor.config import AdvisorConfig

EXIT_USER_ERROR = 2


def _add_option(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    flag = "--" + name.replace("_", "-")
    parser.add_argument(flag, dest=name, help=AdvisorConfig.help_text(name), **kwargs)


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
                    "LoRA fine-tune on the same questions, and writes report.json and report.md to --out.")
    run.add_argument("corpus", metavar="CORPUS_DIR", help=AdvisorConfig.help_text("corpus"))
    _add_option(run, "goal", choices=["knowledge", "style"], default="knowledge")
    _add_option(run, "qa", metavar="QA_JSONL")
    _add_option(run, "out", metavar="RUN_DIR")
    _add_option(run, "base_model", metavar="ID_OR_PATH")
    _add_option(run, "embedding_model", metavar="ID_OR_PATH")
    _add_option(run, "budget_minutes", type=float, metavar="MIN")
    _add_option(run, "device", choices=["auto", "cpu", "cuda", "mps"])
    _add_option(run, "seed", type=int)
    _add_option(run, "offline_fallback", action="store_true", default=None)
    _add_option(run, "eval_fraction", type=float, metavar="F")
    _add_option(run, "max_eval", type=int, metavar="N")
    _add_option(run, "top_k", type=int, metavar="K")
    _add_option(run, "chunk_size", type=int, metavar="TOKENS")
    _add_option(run, "chunk_overlap", type=int, metavar="TOKENS")
    _add_option(run, "chroma_url", metavar="URL")
    _add_option(run, "lora_rank", type=int, metavar="R")
    _add_option(run, "lora_alpha", type=int, metavar="ALPHA")
    _add_option(run, "learning_rate", type=float, metavar="LR")
    _add_option(run, "epochs", type=float, metavar="N")
    _add_option(run, "max_train_steps", type=int, metavar="N")
    _add_option(run, "batch_size", type=int, metavar="N")
    _add_option(run, "max_seq_len", type=int, metavar="TOKENS")
    _add_option(run, "max_new_tokens", type=int, metavar="TOKENS")
    _add_option(run, "format_regex", metavar="REGEX")
    _add_option(run, "reference_text", metavar="FILE")
    _add_option(run, "price_per_hour", type=float, metavar="USD")
    run.add_argument("--quiet", action="store_true", help="no progress bars; only the final lines")
    return parser


def _config_from_args(args: argparse.Namespace) -> AdvisorConfig:
    ignore = {"command", "quiet"}
    options = {k: v for k, v in vars(args).items() if k not in ignore and v is not None}
    return AdvisorConfig(**options)


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

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        for task_id in self.tasks.values():
            self.progress.stop_task(task_id)
        return self.progress.__exit__(*exc)

    def __call__(self, event) -> None:
        from advisor.api import STAGES

        for stage, task_id in self.tasks.items():  # a new stage ends the earlier ones
            if stage != event.stage and not self.progress.tasks[task_id].finished:
                self.progress.update(task_id, completed=self.progress.tasks[task_id].total or 1)
                self.progress.stop_task(task_id)
        if event.stage not in self.tasks:
            self.tasks[event.stage] = self.progress.add_task(STAGES.get(event.stage, event.stage),
                                                             total=event.total, note="")
        task_id = self.tasks[event.stage]
        self.progress.update(task_id, completed=event.completed, total=event.total,
                             note=event.message or self.progress.tasks[task_id].fields.get("note", ""))


def _quiet_libraries() -> None:
    # Library chatter (hub progress bars, tokenizer fork warnings) would bury the progress bars.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore")


def cmd_run(args: argparse.Namespace, console) -> int:
    from advisor.api import Advisor

    config = _config_from_args(args)
    advisor = Advisor(config)
    if args.quiet:
        report = advisor.run()
    else:
        with _RichProgress(console) as progress:
            advisor.on_progress = progress
            report = advisor.run()
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    rec = report.recommendation
    console.print(f"[bold]Recommendation: {rec.choice}[/] (confidence {rec.confidence}) — "
                  f"{rec.reasons[0] if rec.reasons else ''}", highlight=False)
    console.print(f"Report: {report.run_dir}/report.md (and report.json)", highlight=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from advisor.errors import AdvisorError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USER_ERROR
    _quiet_libraries()
    console = Console(stderr=False)
    err = Console(stderr=True)
    try:
        return cmd_run(args, console)
    except AdvisorError as exc:
        err.print(f"[red]error:[/] {exc.title}: {exc}", highlight=False, soft_wrap=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
