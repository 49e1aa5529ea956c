"""Modal dialogs of the TUI: an error, a yes/no question, the key help, and the too-small-window notice."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ErrorDialog(ModalScreen[None]):
    """An error's title and message (the library's AdvisorError), never a traceback."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close")]
    DEFAULT_CSS = """
    ErrorDialog { align: center middle; }
    ErrorDialog > Vertical { width: 70; max-width: 95%; height: auto; max-height: 90%;
                             border: thick $error; background: $surface; padding: 1 2; }
    ErrorDialog .title { text-style: bold; color: $error; margin-bottom: 1; }
    ErrorDialog VerticalScroll { height: auto; max-height: 14; }
    ErrorDialog Button { margin-top: 1; }
    """

    def __init__(self, title: str, message: str):
        super().__init__()
        self.title_text, self.message = title, message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            with VerticalScroll():
                yield Static(self.message, markup=False)
            yield Button("Close", variant="error", id="close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; dismisses with True for yes."""

    BINDINGS = [Binding("escape,n", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical { width: 60; max-width: 95%; height: auto; border: thick $warning;
                               background: $surface; padding: 1 2; }
    ConfirmDialog Horizontal { height: auto; margin-top: 1; }
    ConfirmDialog Button { margin-right: 2; }
    """

    def __init__(self, question: str, yes: str = "Yes", no: str = "No"):
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, markup=False)
            with Horizontal():
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button(f"{self.no} (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath (from its bindings and the app's), and what each screen is for."""

    BINDINGS = [Binding("escape,question_mark,f1,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 76; max-width: 98%; height: auto; max-height: 95%;
                                  border: thick $primary; background: $surface; padding: 1 2; }
    """

    ABOUT = ("The advisor measures, on your own documents, whether retrieval (RAG) or a LoRA fine-tune serves "
             "your goal better. Setup: pick a folder and press Enter. Run: every stage with its progress, the "
             "training loss and a log; Esc cancels (what finished is kept; r resumes). Results: the "
             "recommendation, the figures of report.json, example answers. History: earlier runs.")

    def __init__(self, keys: list[tuple[str, str]]):
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        lines = [f"{key:>12}  {description}" for key, description in self.keys]
        with VerticalScroll():
            yield Label("Help", classes="title")
            yield Static(self.ABOUT + "\n\nKeys here:\n" + "\n".join(lines)
                         + "\n\nCtrl+P opens the command palette. Esc closes this.", markup=False)


class TooSmallScreen(ModalScreen[None]):
    """Shown while the terminal is smaller than the layouts need; goes away when it is large enough."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; background: $background; }
    TooSmallScreen Static { width: auto; height: auto; }
    """

    def __init__(self, minimum: tuple[int, int]):
        super().__init__()
        self.minimum = minimum

    def compose(self) -> ComposeResult:
        yield Static(f"Make the window larger: the advisor needs at least {self.minimum[0]}×{self.minimum[1]}.\n"
                     "(A run goes on meanwhile.)")
