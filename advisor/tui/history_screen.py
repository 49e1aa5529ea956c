"""The history screen: earlier runs under the runs folder, to reopen a finished one or resume another."""

from __future__ import annotations

import dataclasses

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from advisor.config import AdvisorConfig
from advisor.errors import AdvisorError
from advisor.runs import PastRun, list_runs
from advisor.verdict.report import Report


class HistoryScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("f1", "app.help", "Help")]
    DEFAULT_CSS = """
    HistoryScreen DataTable { height: 1fr; }
    HistoryScreen #empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, runs_root):
        super().__init__()
        self.runs_root = runs_root
        self.runs: list[PastRun] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="empty")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"History: runs under {self.runs_root}"
        self.runs = list_runs(self.runs_root)
        table = self.query_one(DataTable)
        table.add_columns("date (UTC)", "corpus", "goal", "verdict", "folder")
        for index, run in enumerate(self.runs):
            table.add_row(run.created[:16].replace("T", " "), run.corpus[-28:], run.goal, run.verdict,
                          run.path.name, key=str(index))
        self.query_one("#empty", Static).update(
            f"{len(self.runs)} run(s). Enter opens a finished run or resumes one that did not finish."
            if self.runs else f"No runs under {self.runs_root} yet.")
        table.focus()

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        run = self.runs[int(event.row_key.value)]
        try:
            if run.finished:
                # where the run is now (folders get moved and copied): ratings and `t` write there
                self.app.show_results(dataclasses.replace(Report.load(run.path / "report.json"),
                                                          run_dir=str(run.path)))
            else:
                self.app.start_run(AdvisorConfig.from_run_folder(run.config, run.path))
        except AdvisorError as exc:
            self.app.show_error(exc.title, str(exc))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            self.app.show_error("Cannot open this run", f"{run.path}: {exc}")
