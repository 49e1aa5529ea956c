"""The run screen: a row per stage with its progress, the live training loss, a log; cancel and resume."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.clock import Clock
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, ProgressBar, RichLog, Static
from textual.worker import Worker, WorkerState, get_current_worker
from textual_plotext import PlotextPlot

from advisor.api import STAGES, Advisor, ProgressEvent, planned_stages
from advisor.config import AdvisorConfig
from advisor.errors import AdvisorError, RunCancelled
from advisor.verdict.wording import format_number

PLOT_INTERVAL = 0.5  # seconds between redraws of the loss plot: a point per step, drawn in batches


@dataclass
class Progressed(Message):
    """A library ProgressEvent, carried from the run's thread to the screen."""

    event: ProgressEvent


@dataclass
class Logged(Message):
    """A line of the advisor's log, carried from the run's thread to the screen."""

    level: str
    text: str


class _ToScreen(logging.Handler):
    """Sends the advisor logger's records to the run screen as messages (thread-safe)."""

    def __init__(self, screen: Screen):
        super().__init__(logging.INFO)
        self.screen = screen

    def emit(self, record: logging.LogRecord) -> None:
        self.screen.post_message(Logged(record.levelname, record.getMessage()))


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


class StageRow(Horizontal):
    """One stage: its name, a bar with the time left, and done/total with the elapsed time."""

    DEFAULT_CSS = """
    StageRow { height: 1; }
    StageRow .name { width: 30; }
    StageRow ProgressBar { width: 30; }
    StageRow ProgressBar Bar { width: 14; }
    StageRow .figures { width: 1fr; color: $text-muted; }
    StageRow.-waiting .name { color: $text-disabled; }
    StageRow.-running .name { text-style: bold; }
    StageRow.-done .name { color: $success; }
    StageRow.-skipped .name { color: $text-disabled; text-style: italic; }
    StageRow.-stopped .name { color: $warning; }
    StageRow.-waiting #eta, StageRow.-done #eta, StageRow.-skipped #eta, StageRow.-stopped #eta { visibility: hidden; }
    """

    def __init__(self, stage: str, clock: Clock | None = None):
        super().__init__(classes="-waiting")
        self.stage, self.clock = stage, clock
        self.state = "waiting"
        self.completed, self.total, self.elapsed = 0, None, 0.0
        self.reported_at = 0.0  # when the last event came, on the screen's clock: the elapsed time runs on

    def compose(self) -> ComposeResult:
        yield Label(STAGES.get(self.stage, self.stage), classes="name")
        # total=1 until the stage reports: an empty bar, not the "unknown length" animation.
        yield ProgressBar(total=1, show_percentage=False, show_eta=True, clock=self.clock)
        yield Label("waiting", classes="figures")

    def _show(self, state: str, figures: str) -> None:
        self.set_classes(f"-{state}")
        self.state = state
        self.query_one(".figures", Label).update(figures)

    def _now(self) -> float:
        return self.clock.time if self.clock else time.monotonic()

    def advance(self, event: ProgressEvent) -> None:
        self.completed, self.total, self.elapsed = event.completed, event.total, event.elapsed
        self.reported_at = self._now()
        self.query_one(ProgressBar).update(total=event.total, progress=event.completed)
        self.tick()

    def tick(self) -> None:
        """Shows the running time, also between events (a long step reports only when it ends)."""
        if self.state in ("waiting", "running"):
            count = f"{self.completed}/{self.total}" if self.total else f"{self.completed}"
            self._show("running", f"{count} · {_clock(self.elapsed + self._now() - self.reported_at)}")

    def finish(self) -> None:
        # What really ran: 13 training steps stay 13 of 13, never a made-up 100/100.
        done = max(self.completed, 1)
        self.query_one(ProgressBar).update(total=done, progress=done)
        self._show("done", f"done · {_clock(self.elapsed)}")

    def skip(self, why: str) -> None:
        self._show("skipped", why)

    def stop(self, why: str) -> None:
        """The run stopped during this stage (cancelled, or an error)."""
        if self.state == "running":
            self._show("stopped", f"{why} at {self.completed}/{self.total or '?'}")

    def reset(self) -> None:
        self.completed, self.total, self.elapsed = 0, None, 0.0
        self.query_one(ProgressBar).update(total=1, progress=0)
        self._show("waiting", "waiting")


class RunScreen(Screen):
    """Runs the advisor in a thread worker and shows what it reports; the screen never computes a figure."""

    BINDINGS = [Binding("escape,c", "cancel", "Cancel run"), Binding("r", "resume", "Resume"),
                Binding("f1", "app.help", "Help")]
    DEFAULT_CSS = """
    RunScreen #stages { height: auto; padding: 0 1; }
    RunScreen #state { height: auto; padding: 0 1; color: $accent; }
    RunScreen #bottom { height: 1fr; min-height: 6; }
    RunScreen PlotextPlot { width: 2fr; min-width: 30; }
    RunScreen RichLog { width: 3fr; border-left: vkey $primary-background; }
    """

    def __init__(self, config: AdvisorConfig, *, autostart: bool = True, clock: Clock | None = None,
                 about: list[str] | None = None):
        """`autostart=False` and a `clock` (textual.clock.MockClock) are for snapshot tests: a screen fed
        recorded events, with times that do not depend on the machine."""
        super().__init__()
        self.config, self.autostart, self.clock, self.about = config, autostart, clock, about
        self.stop = threading.Event()
        self.losses: list[tuple[int, float]] = []
        self._plotted_at, self._plot_pending = 0.0, False
        self.running = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="stages"):
            for stage in planned_stages(self.config):
                yield StageRow(stage, self.clock)
        yield Static("", id="state")
        with Horizontal(id="bottom"):
            yield PlotextPlot(id="loss")
            yield RichLog(id="log", wrap=True, markup=False, max_lines=2000, min_width=20)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Run: {self.config.corpus} → {self.config.out}"
        plt = self.query_one(PlotextPlot).plt
        plt.title("training loss")
        plt.xlabel("step")
        self.set_interval(1.0, self._tick)
        if self.autostart:
            self.start()

    # --- the worker ----------------------------------------------------------------------------

    def start(self) -> None:
        self.stop.clear()
        self.running = True
        for row in self.query(StageRow):  # a resumed run goes through every stage again, reusing finished ones
            row.reset()
        self.query_one("#state", Static).update("Running… Esc or c cancels (what finished is kept).")
        self.log_line(f"Run folder {self.config.out}")
        self.run_advisor()

    @work(thread=True, exclusive=True, exit_on_error=False, group="run")
    def run_advisor(self):
        worker = get_current_worker()
        handler = _ToScreen(self)
        logging.getLogger("advisor").addHandler(handler)
        try:
            advisor = Advisor(self.config, on_progress=lambda event: self.post_message(Progressed(event)),
                              cancel=lambda: worker.is_cancelled or self.stop.is_set(), about=self.about)
            return advisor.run()
        finally:
            logging.getLogger("advisor").removeHandler(handler)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "run":
            return
        if event.state == WorkerState.SUCCESS:
            self.running = False
            self._end_rows()
            self.app.show_results(event.worker.result, replace=True)
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.running = False
            self._failed(event.worker.error)

    def _failed(self, error: BaseException | None) -> None:
        state = self.query_one("#state", Static)
        cancelled = isinstance(error, RunCancelled) or error is None
        for row in self.query(StageRow):
            row.stop("cancelled" if cancelled else "stopped by an error")
        if cancelled:
            state.update("Cancelled: r resumes, reusing the stages that finished; Esc goes back to setup.")
            self.log_line(f"cancelled; the run folder is {self.config.out}")
            return
        state.update("Stopped by an error: fix it, then r resumes; Esc goes back to setup.")
        if isinstance(error, AdvisorError):
            self.app.show_error(error.title, str(error))
        else:
            self.app.show_unexpected_error(error, self.config.out)

    def action_cancel(self) -> None:
        if self.running:
            self.stop.set()
            self.query_one("#state", Static).update("Cancelling at the next step…")
        else:
            self.app.pop_screen()  # back to setup

    def action_resume(self) -> None:
        if not self.running:
            self.start()

    # --- progress ------------------------------------------------------------------------------

    def _row(self, stage: str) -> StageRow:
        for row in self.query(StageRow):
            if row.stage == stage:
                return row
        row = StageRow(stage, self.clock)
        self.query_one("#stages").mount(row, before=self.query(StageRow).last())  # before the report
        return row

    def _tick(self) -> None:
        for row in self.query(StageRow):
            if row.state == "running":
                row.tick()

    def _end_rows(self, until: StageRow | None = None) -> None:
        """Ends the running rows before `until` (all rows when None); a row still waiting there was skipped (the
        whole corpus that did not fit, the tuned embeddings retrieval had no room for)."""
        for row in self.query(StageRow):
            if row is until:
                break
            if row.state == "running":
                row.finish()
            elif row.state == "waiting":
                row.skip("skipped")

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        event = message.event
        row = self._row(event.stage)
        self._end_rows(until=row)  # a stage that starts ends the ones before it
        title = STAGES.get(event.stage, event.stage)
        if event.status == "skipped":
            row.skip("skipped: too long" if event.stage == "full_context" else "skipped")
            self.log_line(f"{title}: {event.message}")
            return
        if event.stage == "estimate" and event.total and event.completed == event.total and event.message:
            self.query_one("#state", Static).update(f"Running. Expected: {event.message}. Esc or c cancels "
                                                    "(what finished is kept).")
        row.advance(event)
        if event.loss is not None and event.stage == "train":  # the plot is the fine-tune's
            self.losses.append((event.completed, event.loss))
            self._plot()
        elif event.message:
            self.log_line(f"{title}: {event.message}")
        if event.result is not None:
            summary = self._summary(event.stage, event.result)
            if summary:
                self.log_line(f"{title} done: {summary}")

    def _summary(self, stage: str, result) -> str:
        if stage == "profile":
            return f"{result.documents} documents, {result.words:,} words, {result.tokens or 0:,} tokens"
        if stage == "train":
            return (f"{result.steps} steps, {result.seen_text()}, {result.tokens:,} real tokens "
                    f"in {result.seconds:.0f} s")
        if stage == "embeddings":
            return (f"{result['steps']} steps on {result['pairs']:,} pairs; the passage of a training-side question "
                    f"in the top-k {result['train_side_hit_rate']:.2f} -> {result['train_side_hit_rate_after']:.2f}")
        if isinstance(result, dict) and result and stage not in ("index",):
            shown = [(m, v) for m, v in result.items() if m in ("answer_containment", "format_match", "token_f1",
                                                                 "doc_nll_per_token", "retrieval_hit_rate")]
            return ", ".join(f"{m} {format_number(v)}" for m, v in shown) + " (means; the report adds intervals)"
        return ""

    def _plot(self) -> None:
        """Redraws the loss plot at most every PLOT_INTERVAL seconds, however fast steps arrive."""
        if not self._plot_pending:
            self._plot_pending = True
            wait = PLOT_INTERVAL - (time.monotonic() - self._plotted_at)
            self.set_timer(max(wait, 0.01), self._draw_plot)

    def _draw_plot(self) -> None:
        self._plot_pending, self._plotted_at = False, time.monotonic()
        plot = self.query_one(PlotextPlot)
        plot.plt.clear_data()
        steps, losses = zip(*self.losses)
        plot.plt.plot(list(steps), list(losses), marker="braille")
        plot.refresh()

    @on(Logged)
    def _logged(self, message: Logged) -> None:
        if message.level in ("WARNING", "ERROR"):
            self.log_line(f"{message.level.lower()}: {message.text}")

    def log_line(self, text: str) -> None:
        self.query_one(RichLog).write(text)
