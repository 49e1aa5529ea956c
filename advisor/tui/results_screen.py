"""The results screen: the recommendation and its reasons, the arms side by side, caveats, every arm's answers,
which the user can rate (thumbs up or down, or which of two is better) into the run folder's feedback.jsonl, and
the verdict again under other constraints or another price (what if)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, MarkdownViewer, Select, Static

from advisor.errors import AdvisorError
from advisor.measure.feedback import FEEDBACK_FILE, Preference, Rating, latest, now, read_feedback
from advisor.tui.whatif_panel import WhatIfPanel
from advisor.verdict.report import Report
from advisor.verdict.wording import (METRIC_LABELS, example_items, format_number, hand_over, headline, quality_cell,
                                     reason_text, verdict_title)

RATED = {"up": "good", "down": "bad"}
ARM_COLUMNS = ("arm", "quality [95% CI] (n)", "p50 ms", "p95 ms", "once $", "per 1k $")


def arm_rows(report: Report) -> list[tuple[str, ...]]:
    """The side-by-side table: each arm's primary metric, latency and cost, formatted as report.md does."""
    metric = report.evaluation.primary_metric
    rows = []
    for name, arm in report.arms.items():
        rows.append((name, quality_cell(arm.quality.get(metric)), format_number(arm.latency_ms.get("p50"), 1),
                     format_number(arm.latency_ms.get("p95"), 1), format_number(arm.cost_usd.get("one_off"), 5),
                     format_number(arm.cost_usd.get("per_1k_queries"), 5)))
    return rows


def caveats(report: Report) -> list[str]:
    """Every warning the report carries: the run's own, then each arm's quality warnings and notes."""
    lines = list(report.warnings)
    for name, arm in report.arms.items():
        lines += [f"{name}, {METRIC_LABELS.get(m, m)}: {q['warning']}" for m, q in arm.quality.items()
                  if q.get("warning")]
    return lines


class ReportViewer(Screen):
    """report.md, rendered in the terminal."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header()
        yield MarkdownViewer(self.path.read_text(encoding="utf-8"), show_table_of_contents=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.path)


class VerdictView(Vertical):
    """The recommendation: headline, rule, reasons, what would change it and next steps; shown again for a what-if."""

    DEFAULT_CSS = "VerdictView { height: auto; }"

    def __init__(self, report: Report, what_if: bool = False):
        super().__init__(id="verdict")
        self.report, self.what_if = report, what_if

    def compose(self) -> ComposeResult:
        report, rec = self.report, self.report.recommendation
        yield Label(("What if: " if self.what_if else "") + f"{verdict_title(report)} — {headline(report)}",
                    classes="headline", id="headline")
        if rec.rule:
            yield Static(f"Rule: {rec.rule}", markup=False, classes="muted")
        yield Static("\n".join(f"• {reason_text(reason)}" for reason in rec.reasons), markup=False, id="reasons")
        if rec.counter_arguments:
            yield Label("What would change the answer", classes="section")
            yield Static("\n".join(f"• {line}" for line in rec.counter_arguments), markup=False)
        if rec.next_steps:
            yield Label("Next steps", classes="section")
            yield Static("\n".join(f"• {line}" for line in rec.next_steps), markup=False)
        if (handing := hand_over(report)) and not self.what_if:  # the export reads the run's own verdict
            yield Label("Hand it over", classes="section")
            yield Static("  ".join(handing), markup=False, id="hand-over")

    async def show(self, report: Report, what_if: bool = False) -> None:
        self.report, self.what_if = report, what_if
        await self.recompose()


class ResultsScreen(Screen):
    """Everything here is read from the Report (report.json): the same figures as report.md."""

    BINDINGS = [Binding("u", "rate('up')", "Good answer"), Binding("d", "rate('down')", "Bad answer"),
                Binding("p", "prefer", "Better than…"), Binding("t", "train_on_ratings", "Train on ratings"),
                Binding("o", "open_markdown", "report.md"), Binding("w", "open_html", "HTML report"),
                Binding("y", "copy_path", "Copy folder path"), Binding("c", "what_if", "What if…"),
                Binding("n", "app.new_run", "New run"),
                Binding("ctrl+r", "app.history", "History"), Binding("f1", "app.help", "Help")]
    DEFAULT_CSS = """
    ResultsScreen #body { height: 1fr; }
    ResultsScreen VerticalScroll { padding: 0 0 0 1; }
    ResultsScreen .headline { text-style: bold; color: $accent; margin-top: 1; }
    ResultsScreen .section { text-style: bold; margin-top: 1; }
    ResultsScreen DataTable { height: auto; max-height: 12; }
    ResultsScreen .muted { color: $text-muted; }
    ResultsScreen #answers { height: auto; }
    """

    def __init__(self, report: Report):
        super().__init__()
        self.report = report  # the run's own, as report.json holds it
        self.what_if = None  # advisor.WhatIf while the what-if panel is open
        self.examples = {item["question"]: item for item in example_items(report)}
        self.given: dict[tuple[str, str], str] = {}  # (question, arm) -> "up" or "down", as feedback.jsonl says
        self.pending: tuple[str, str] | None = None  # (question, arm) marked better, waiting for the worse one

    def compose(self) -> ComposeResult:
        report = self.report
        yield Header()
        with Horizontal(id="body"), VerticalScroll():  # the what-if panel opens on the right of the body
            yield VerdictView(report)
            metric = report.evaluation.primary_metric
            yield Label(f"Side by side: {METRIC_LABELS.get(metric, metric)}, latency, cost (USD)", classes="section")
            if report.evaluation.primary_metric_meaning:
                yield Static(report.evaluation.primary_metric_meaning, classes="muted", markup=False)
            yield DataTable(id="arms", zebra_stripes=True, cursor_type="row")
            found = caveats(report)
            yield Label(f"Caveats ({len(found)})", classes="section")
            yield Static("\n".join(f"⚠ {line}" for line in found) or "none", markup=False, id="caveats")
            if self.examples:
                yield Label(f"Every arm's answer to each of the {len(self.examples)} held-out items", classes="section")
                yield Select([(key if len(key) <= 66 else key[:65] + "…", key) for key in self.examples],
                             value=next(iter(self.examples)),
                             allow_blank=False, id="example")
                yield Static("", markup=False, id="reference", classes="muted")
                yield DataTable(id="answers", zebra_stripes=True, cursor_type="row")
                yield Static("Rate the highlighted answer: u good, d bad; p marks it better than the next answer you "
                             "press p on. Each rating is saved to the run folder's feedback.jsonl at once and weighed "
                             "in the report. t trains the fine-tune further on them and measures it again, in a new "
                             "run folder beside this one.", classes="muted", id="rating-help")
            yield Static(f"Run folder: {report.run_dir} · every figure is in report.json", classes="muted",
                         markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Results: {self.report.config.get('corpus')} ({self.report.config.get('goal')})"
        self.query_one("#arms", DataTable).add_columns(*ARM_COLUMNS)
        self._fill_arms(self.report)
        if self.examples:
            self.given = {(entry.question, entry.arm): entry.rating for entry in latest(self._feedback())
                          if isinstance(entry, Rating)}
            self.query_one("#answers", DataTable).add_columns("arm", "answer", "rated")
            self._show_example(next(iter(self.examples)))

    def _fill_arms(self, report: Report) -> None:
        table = self.query_one("#arms", DataTable)
        table.clear()
        for row in arm_rows(report):
            table.add_row(*row, key=row[0])

    async def _show(self, report: Report, what_if: bool = False) -> None:
        """The verdict and the arms' figures of `report`: the run's own, or a what-if's."""
        await self.query_one(VerdictView).show(report, what_if)
        self._fill_arms(report)

    @on(Select.Changed, "#example")
    def _example_picked(self, event: Select.Changed) -> None:
        self._show_example(str(event.value))

    def _show_example(self, key: str) -> None:
        item = self.examples[key]
        self.query_one("#reference", Static).update(f"reference: {item['reference']}" if item["reference"] else "")
        table = self.query_one("#answers", DataTable)
        table.clear()
        for answer in item["answers"]:
            text = answer["text"] + (f"  [sources: {', '.join(answer['sources'])}]" if answer["sources"] else "")
            table.add_row(answer["arm"], text, RATED.get(self.given.get((key, answer["arm"])), ""), key=answer["arm"])

    # --- ratings -------------------------------------------------------------------------------------

    def _feedback(self) -> list:
        return read_feedback(self._run_folder() / FEEDBACK_FILE)[0] if self._run_folder() else []

    def _run_folder(self) -> Path | None:
        folder = Path(self.report.run_dir or "")
        return folder if self.report.run_dir and folder.is_dir() else None

    def _highlighted(self) -> tuple[str, str, str] | None:
        """(question, arm, answer) of the highlighted answer."""
        if not self.examples:
            return None
        table = self.query_one("#answers", DataTable)
        if not table.row_count:
            return None
        question = str(self.query_one("#example", Select).value)
        arm = str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)
        answer = next(a["text"] for a in self.examples[question]["answers"] if a["arm"] == arm)
        return question, arm, answer

    def _save(self, entry, said: str) -> None:
        """Appends the entry to feedback.jsonl, then writes the report again with every rating weighed."""
        from advisor.verdict.ratings import add_feedback

        folder = self._run_folder()
        if folder is None or not (folder / "report.json").is_file():
            self.app.notify(f"The run folder {self.report.run_dir} is not here: the rating was not saved.",
                            severity="error")
            return
        self.report = add_feedback(folder, [entry])[0]
        self.call_later(self._show_again)
        self.app.notify(f"{said} (saved to {FEEDBACK_FILE}; the report now weighs it)", title="Rated")

    def action_rate(self, rating: str) -> None:
        picked = self._highlighted()
        if picked is None:
            self.app.notify("No answers to rate in this report.", severity="warning")
            return
        question, arm, answer = picked
        self.given[(question, arm)] = rating
        self._show_example(question)
        self.query_one("#answers", DataTable).move_cursor(row=list(self._arms_shown(question)).index(arm))
        self._save(Rating(question, arm, rating, answer, now()), f"{arm}'s answer rated {RATED[rating]}")

    def _arms_shown(self, question: str) -> list[str]:
        return [answer["arm"] for answer in self.examples[question]["answers"]]

    def action_prefer(self) -> None:
        picked = self._highlighted()
        if picked is None:
            self.app.notify("No answers to compare in this report.", severity="warning")
            return
        question, arm, _ = picked
        if self.pending is None or self.pending[0] != question:
            self.pending = (question, arm)
            self.app.notify(f"{arm}'s answer marked better: highlight the worse one and press p again "
                            "(p on the same answer cancels).", title="Better than…")
        elif self.pending[1] == arm:
            self.pending = None
            self.app.notify("No preference recorded.")
        else:
            better, self.pending = self.pending[1], None
            self._save(Preference(question, better, arm, now()), f"{better}'s answer preferred to {arm}'s")

    def action_train_on_ratings(self) -> None:
        self.app.start_feedback_run(self.report.run_dir or ".")

    def _file(self, name: str) -> Path | None:
        path = Path(self.report.run_dir or ".") / name
        return path if path.is_file() else None

    def action_open_markdown(self) -> None:
        path = self._file("report.md")
        if path is None:
            self.app.notify("report.md is not in the run folder", severity="warning")
        else:
            self.app.push_screen(ReportViewer(path))

    def action_open_html(self) -> None:
        path = self._file("report.html")
        if path is None:
            self.app.notify("This run has no HTML report (report.md and report.json are in the run folder).",
                            severity="warning")
        elif sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
            self.app.open_url(path.resolve().as_uri())
        else:  # no desktop: a terminal browser would take over this terminal
            self.app.copy_to_clipboard(str(path.resolve()))
            self.app.notify(f"{path.resolve()}\n(no desktop to open it on here; path copied where the terminal "
                            "allows it)", title="HTML report")

    def action_copy_path(self) -> None:
        path = str(Path(self.report.run_dir or ".").resolve())
        self.app.copy_to_clipboard(path)
        self.app.notify(f"{path}\n(copied, where your terminal allows it; otherwise select it here)",
                        title="Run folder")

    # --- what if -------------------------------------------------------------------------------------

    async def action_what_if(self) -> None:
        """Opens the constraints and price editor beside the verdict (or closes it: the run's own verdict again)."""
        from advisor.whatif import what_if

        panels = self.query(WhatIfPanel)
        if panels:
            await self._close_what_if()
            return
        own = what_if(self.report).before  # the run's constraints, every one stated, and its price
        panel = WhatIfPanel(own.constraints, own.evaluation.pricing.get("usd_per_hour"))
        panel.add_class("-open")
        await self.query_one("#body").mount(panel)
        panel.query("Select, Input, Checkbox").first().focus()
        panel.say("Change a constraint or the price: the verdict and the costs follow at once.")

    async def _close_what_if(self) -> None:
        self.what_if = None
        await self.query(WhatIfPanel).remove()
        await self._show(self.report)

    @on(WhatIfPanel.Closed)
    async def _what_if_closed(self) -> None:
        await self._close_what_if()

    @on(WhatIfPanel.Edited)
    async def _what_if_edited(self, event: WhatIfPanel.Edited) -> None:
        from advisor.whatif import what_if

        panel = self.query_one(WhatIfPanel)
        try:
            self.what_if = what_if(self.report, event.constraints, event.price_per_hour)
        except AdvisorError as exc:
            panel.say(str(exc), bad=True)
            return
        result = self.what_if
        await self._show(result.after, what_if=bool(result.changed))
        before, after = result.before.recommendation, result.after.recommendation
        lines = result.change_lines() or ["Nothing changed: the run's own constraints and price."]
        lines.append(f"Verdict: {after.choice} ({after.confidence} confidence)"
                     + (f", was {before.choice} ({before.confidence})"
                        if result.verdict_changed or result.confidence_changed else ", unchanged")
                     + f"; {len(result.reasons_added)} reason(s) added, {len(result.reasons_removed)} no longer given.")
        lines += [f"{what}: {old} → {new}" for what, old, new in result.cost_changes]
        lines += [f"Not priced again: {line}" for line in result.not_repriced]
        panel.say("\n".join(lines))

    @on(WhatIfPanel.WriteAsked)
    def _write_what_if(self) -> None:
        from advisor.whatif import write_what_if

        if self.what_if is None or not self.what_if.changed:
            self.app.notify("Change a constraint or the price first: unchanged, it is the run's own report.",
                            severity="warning")
            return
        try:
            paths = write_what_if(self.what_if)
        except AdvisorError as exc:
            self.app.notify(str(exc), severity="error", title=exc.title)
            return
        self.app.notify(f"{paths['markdown'].parent}: report.md, report.html, report.json (the run's own report is "
                        "unchanged)", title="What-if written")

    async def _show_again(self) -> None:
        """After a rating: the run's report as it now is, or the open what-if made again on it."""
        panel = next(iter(self.query(WhatIfPanel)), None)
        if panel is None:
            await self._show(self.report)
        else:
            try:
                constraints, price = panel.values()
            except ValueError:
                constraints, price = {}, None
            panel.post_message(WhatIfPanel.Edited(constraints, price))
