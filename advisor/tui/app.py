"""The Textual app: setup → run → results (and history), over the same library the CLI calls."""

from __future__ import annotations

import dataclasses
import logging
import traceback
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.events import Resize

from advisor.api import default_run_dir
from advisor.config import AdvisorConfig
from advisor.tui.dialogs import ConfirmDialog, ErrorDialog, HelpScreen, TooSmallScreen
from advisor.tui.history_screen import HistoryScreen
from advisor.tui.results_screen import ResultsScreen
from advisor.tui.run_screen import RunScreen
from advisor.tui.setup_screen import SetupScreen
from advisor.verdict.report import Report

MIN_SIZE = (80, 24)
THEMES = ("textual-dark", "textual-light")


class AdvisorApp(App):
    TITLE = "Fine-tuning vs RAG advisor"
    # q where no text field has the focus; Ctrl+Q anywhere (and shown, so a user in a form sees how to leave).
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("ctrl+q", "quit", "Quit", priority=True),
                Binding("question_mark", "help", "Help", key_display="?"),
                Binding("ctrl+t", "toggle_theme", "Theme", show=False)]

    def __init__(self, initial: dict | None = None, runs_root: str | Path = "runs"):
        super().__init__()
        self.initial = dict(initial or {})
        self.runs_root = Path(runs_root)

    def on_mount(self) -> None:
        self.push_screen(SetupScreen(self.initial))

    # --- moving between screens ----------------------------------------------------------------

    def start_run(self, config: AdvisorConfig) -> None:
        """Runs `config` on a new run screen; its run folder is fixed now, so 'resume' reuses it."""
        if not config.out:
            config = dataclasses.replace(config, out=str(self.runs_root / default_run_dir(config.corpus).name))
        self.push_screen(RunScreen(config))

    def start_feedback_run(self, run_dir: str) -> None:
        """Trains the fine-tune of the run in `run_dir` on its ratings and measures it, on a new run screen
        (advisor.tune); too few ratings is said in a dialog."""
        from advisor.errors import AdvisorError
        from advisor.tune import feedback_run

        try:
            config, about = feedback_run(run_dir)
        except AdvisorError as exc:
            self.show_error(exc.title, str(exc))
            return
        self.push_screen(RunScreen(config, about=about))

    def show_results(self, report: Report, replace: bool = False) -> None:
        if replace:
            self.switch_screen(ResultsScreen(report))
        else:
            self.push_screen(ResultsScreen(report))

    def action_new_run(self) -> None:
        while not isinstance(self.screen, SetupScreen) and len(self.screen_stack) > 1:
            self.pop_screen()

    def action_history(self) -> None:
        self.push_screen(HistoryScreen(self.runs_root))

    def action_help(self) -> None:
        # The screen's and the app's own keys (a focused widget's scrolling and editing keys go without saying).
        keys = [(active.binding.key_display or self.get_key_display(active.binding), active.binding.description)
                for active in self.screen.active_bindings.values()
                if active.binding.description and active.node in (self.screen, self)]
        self.push_screen(HelpScreen(keys))

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("New run", "Back to setup, to start another run", self.action_new_run)
        yield SystemCommand("History", "Earlier runs: reopen or resume one", self.action_history)
        yield SystemCommand("Light or dark", "Switch between the light and the dark theme", self.action_toggle_theme)

    # --- errors and quitting -------------------------------------------------------------------

    def show_error(self, title: str, message: str) -> None:
        self.push_screen(ErrorDialog(title, message))

    def show_unexpected_error(self, error: BaseException, run_dir: str | None) -> None:
        """A bug, not a user's mistake: the traceback goes to the run's log, the dialog says where."""
        where = "the terminal's log"
        if run_dir and Path(run_dir).is_dir():
            log_file = Path(run_dir) / "advisor.log"
            with log_file.open("a", encoding="utf-8") as out:
                out.write("".join(traceback.format_exception(error)))
            where = str(log_file)
        else:
            logging.getLogger("advisor").exception("unexpected error", exc_info=error)
        self.show_error(f"Unexpected error ({type(error).__name__})",
                        f"{error}\n\nThis is a bug in the advisor; the details are in {where}. "
                        "r resumes the run from what finished.")

    def _active_run(self) -> RunScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, RunScreen) and s.running), None)

    async def action_quit(self) -> None:
        run = self._active_run()
        if run is None:
            self.exit()
            return

        def answered(stop: bool | None) -> None:
            if stop:
                run.stop.set()  # the run stops at its next progress point; what finished is kept
                self.exit()

        self.push_screen(ConfirmDialog("A run is in progress. Stop it and quit? What finished is kept, and the "
                                       "same settings resume it.", yes="Stop and quit", no="Keep running"),
                         answered)

    # --- small terminals -----------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        small = event.size.width < MIN_SIZE[0] or event.size.height < MIN_SIZE[1]
        showing = isinstance(self.screen, TooSmallScreen)
        if small and not showing:
            self.push_screen(TooSmallScreen(MIN_SIZE))
        elif not small and showing:
            self.pop_screen()


def make_app(initial: dict | None = None, runs_root: str | Path = "runs") -> AdvisorApp:
    """The one factory: the CLI, scripts and tests build the app the same way."""
    return AdvisorApp(initial, runs_root)
