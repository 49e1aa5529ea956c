"""The setup screen: a corpus folder (checked as it is typed), the goal, models, budget and constraints."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (Button, Checkbox, Collapsible, DirectoryTree, Footer, Header, Input, Label, RadioButton,
                             RadioSet, Select, Static)

from advisor.config import (CHANGE_RATES, DEFAULT_BASE_MODEL, GOAL_HELP, GOALS, TUNE_EMBEDDINGS, AdvisorConfig,
                            Constraints)
from advisor.corpus.loading import survey_folder
from advisor.errors import ConfigError
from advisor.models import describe_model_choice

# Form fields that map one to one onto AdvisorConfig options (blank: the default) or constraints.
NUMBER_OPTIONS = {"budget_minutes": float, "max_minutes": float}
NUMBER_CONSTRAINTS = {"latency_limit_ms": float, "queries_per_month": int, "monthly_budget_usd": float,
                      "one_off_budget_usd": float}
SHOWN = {"corpus", "goal", "qa", "base_model", *NUMBER_OPTIONS, "augment", "tune_embeddings", "constraints"}


class SetupScreen(Screen):
    """Everything a run needs; a user who only picks a folder and presses Enter gets a run."""

    BINDINGS = [Binding("ctrl+s", "start", "Start run"), Binding("ctrl+g", "estimate", "Estimate time"),
                Binding("ctrl+r", "history", "History"), Binding("f1", "app.help", "Help")]
    DEFAULT_CSS = """
    SetupScreen #body { height: 1fr; }
    SetupScreen DirectoryTree { width: 28; border-right: vkey $primary-background; }
    SetupScreen #form { width: 1fr; padding: 0 1; }
    SetupScreen Label.field { margin-top: 1; text-style: bold; }
    SetupScreen .status { color: $text-muted; height: auto; }
    SetupScreen .status.-bad { color: $error; }
    SetupScreen .status.-good { color: $success; }
    SetupScreen RadioSet { width: 100%; layout: horizontal; height: auto; border: none; padding: 0; }
    SetupScreen Input { width: 100%; }
    SetupScreen #start-row { height: auto; margin: 1 0; }
    SetupScreen #start { margin-right: 2; }
    SetupScreen Collapsible { padding: 0; border: none; }
    """

    def __init__(self, initial: dict | None = None):
        super().__init__()
        self.initial = dict(initial or {})
        self.constraints = dict(self.initial.get("constraints") or {})
        self.corpus_ok = False

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        initial = self.initial
        corpus = str(initial.get("corpus") or "")
        # absolute, so that the tree's root has a name even for a corpus given as a bare folder name
        start = Path(corpus).expanduser().absolute().parent if corpus else Path.cwd()
        yield Header()
        with Horizontal(id="body"):
            yield DirectoryTree(start if start.is_dir() else Path.cwd(), id="tree")
            with VerticalScroll(id="form"):
                yield Label("Corpus folder", classes="field")
                yield Input(corpus, placeholder="folder of .txt .md .rst .html .pdf .docx .jsonl files (or pick one "
                                                "on the left)",
                            id="corpus")
                yield Static("", id="corpus-status", classes="status")
                yield Label("Goal", classes="field")
                goal = initial.get("goal") or AdvisorConfig.default("goal")
                with RadioSet(id="goal"):
                    for name in GOALS:
                        yield RadioButton(name, value=name == goal, id=f"goal-{name}")
                yield Static(GOAL_HELP[goal], id="goal-help", classes="status")
                yield Label("Question/answer file (optional)", classes="field")
                yield Input(str(initial.get("qa") or ""), placeholder="qa.jsonl: {\"question\", \"answer\"} per line",
                            id="qa")
                yield Static(AdvisorConfig.help_text("qa"), id="qa-status", classes="status")
                yield Label("Base model", classes="field")
                yield Input(str(initial.get("base_model") or ""), placeholder=f"{DEFAULT_BASE_MODEL} (default)",
                            id="base_model")
                yield Static("", id="base_model-status", classes="status")
                yield Label("Fine-tune time budget (minutes)", classes="field")
                yield Input(str(initial.get("budget_minutes") or ""), type="number",
                            placeholder=f"{AdvisorConfig.default('budget_minutes'):g} (default)", id="budget_minutes",
                            valid_empty=True)
                yield Label("Time limit for the whole run (minutes, optional)", classes="field")
                yield Input(str(initial.get("max_minutes") or ""), type="number", placeholder="no limit",
                            id="max_minutes", valid_empty=True)
                yield Static("Ctrl+G estimates the run's time on this machine (loads the models: seconds).",
                             id="estimate", classes="status")
                with Collapsible(title="Techniques: how the fine-tune and retrieval get their best chance",
                                 collapsed=True, id="techniques"):
                    yield from self._compose_techniques()
                with Collapsible(title="Constraints (optional): what you need besides quality",
                                 collapsed=not self.constraints, id="constraints"):
                    yield from self._compose_constraints()
                others = {k: v for k, v in initial.items() if k not in SHOWN and v is not None}
                if others:
                    yield Static("Also set on the command line: " + ", ".join(f"{k}={v}" for k, v in others.items()),
                                 classes="status")
                with Horizontal(id="start-row"):
                    yield Button("Start (Enter)", variant="primary", id="start")
                    yield Button("Estimate time (Ctrl+G)", id="estimate-button")
                    yield Button("History (Ctrl+R)", id="history")
        yield Footer()

    def _compose_techniques(self) -> ComposeResult:
        initial = self.initial
        augment = initial.get("augment")
        yield Checkbox("Knowledge fine-tune: restate each fact in several forms first (--augment)",
                       AdvisorConfig.default("augment") if augment is None else augment, id="augment")
        yield Label("RAG with embeddings tuned on your corpus (--tune-embeddings)", classes="field")
        yield Select([(name, name) for name in TUNE_EMBEDDINGS], allow_blank=False, id="tune_embeddings",
                     value=initial.get("tune_embeddings") or AdvisorConfig.default("tune_embeddings"))
        yield Static(AdvisorConfig.help_text("tune_embeddings"), classes="status")

    def _compose_constraints(self) -> ComposeResult:
        given, defaults = self.constraints, Constraints()
        yield Label("How often the documents change", classes="field")
        yield Select([(rate, rate) for rate in CHANGE_RATES], value=given.get("data_changes", defaults.data_changes),
                     allow_blank=False, id="data_changes")
        yield Checkbox("Answers must cite their sources", given.get("must_cite_sources", False),
                       id="must_cite_sources")
        yield Checkbox("Documents must stay on this machine", not given.get("data_may_leave_machine", True),
                       id="keep_data_local")
        for name, kind in NUMBER_CONSTRAINTS.items():
            yield Label(Constraints.help_text(name), classes="field")
            value = given.get(name)
            yield Input("" if value is None else str(value), type="integer" if kind is int else "number",
                        placeholder="no limit" if "budget" in name or "latency" in name else "not stated", id=name,
                        valid_empty=True)

    def on_mount(self) -> None:
        self.sub_title = "Setup"
        self.query_one("#corpus", Input).focus()
        if self.query_one("#corpus", Input).value:
            self._check_corpus(self.query_one("#corpus", Input).value)
        else:
            self._offer_current_folder()
        self._check_model(self.query_one("#base_model", Input).value)

    # --- live checks ---------------------------------------------------------------------------

    def _status(self, widget_id: str, text: str, good: bool | None) -> None:
        status = self.query_one(f"#{widget_id}", Static)
        status.update(text)
        status.set_class(good is False, "-bad")
        status.set_class(good is True, "-good")

    @on(Input.Changed, "#corpus")
    def _corpus_changed(self, event: Input.Changed) -> None:
        self._check_corpus(event.value)

    @work(thread=True, exclusive=True, group="survey", exit_on_error=False)
    def _check_corpus(self, folder: str) -> None:
        survey = survey_folder(folder) if folder.strip() else None
        self.app.call_from_thread(self._show_survey, folder, survey)

    @work(thread=True, exclusive=True, group="survey", exit_on_error=False)
    def _offer_current_folder(self) -> None:
        """`advisor` typed in a folder of documents: that folder is the corpus, unless the user types another."""
        survey = survey_folder(".")
        self.app.call_from_thread(self._fill_in_current_folder, survey)

    def _fill_in_current_folder(self, survey) -> None:
        corpus = self.query_one("#corpus", Input)
        if not corpus.value and survey.problem is None and survey.usable:
            corpus.value = "."  # its Changed event checks it like a typed path
        elif not corpus.value:
            self._show_survey("", None)

    def _show_survey(self, folder: str, survey) -> None:
        if folder != self.query_one("#corpus", Input).value:
            return  # typed on since: a newer check is coming
        if survey is None:
            self.corpus_ok = False
            self._status("corpus-status", "pick the folder that holds your documents", None)
            return
        self.corpus_ok = survey.problem is None and survey.usable > 0
        self._status("corpus-status", survey.describe(), self.corpus_ok)

    @on(Input.Changed, "#base_model")
    def _model_changed(self, event: Input.Changed) -> None:
        self._check_model(event.value)

    def _check_model(self, value: str) -> None:
        ok, text = describe_model_choice(value.strip() or DEFAULT_BASE_MODEL)
        self._status("base_model-status", text, False if not ok else None)

    @on(Input.Changed, "#qa")
    def _qa_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        if not value:
            self._status("qa-status", AdvisorConfig.help_text("qa"), None)
        elif Path(value).expanduser().is_file():
            self._status("qa-status", "a file: it is read when the run starts", True)
        else:
            self._status("qa-status", "no such file", False)

    @on(RadioSet.Changed, "#goal")
    def _goal_changed(self, event: RadioSet.Changed) -> None:
        self.query_one("#goal-help", Static).update(GOAL_HELP[str(event.pressed.label)])

    @on(DirectoryTree.DirectorySelected)
    def _folder_picked(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#corpus", Input).value = str(event.path)

    # --- starting ------------------------------------------------------------------------------

    def options(self) -> dict:
        """The form as AdvisorConfig options (blank fields: the defaults; command-line values kept)."""
        options = {k: v for k, v in self.initial.items() if k not in SHOWN}
        value = lambda widget_id: self.query_one(f"#{widget_id}", Input).value.strip()  # noqa: E731
        options["corpus"] = value("corpus")
        options["goal"] = str(self.query_one("#goal", RadioSet).pressed_button.label)
        for name in ("qa", "base_model"):
            if value(name):
                options[name] = value(name)
        options["augment"] = self.query_one("#augment", Checkbox).value
        options["tune_embeddings"] = self.query_one("#tune_embeddings", Select).value
        constraints = {"data_changes": self.query_one("#data_changes", Select).value,
                       "must_cite_sources": self.query_one("#must_cite_sources", Checkbox).value,
                       "data_may_leave_machine": not self.query_one("#keep_data_local", Checkbox).value}
        for fields, into in ((NUMBER_OPTIONS, options), (NUMBER_CONSTRAINTS, constraints)):
            for name, kind in fields.items():
                if value(name):
                    try:
                        into[name] = kind(value(name))
                    except ValueError:
                        raise ConfigError(f"{name.replace('_', ' ')} must be a number, not {value(name)!r}") from None
        options["constraints"] = constraints
        return options

    @on(Input.Submitted)
    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if not self.corpus_ok:
            survey = survey_folder(self.query_one("#corpus", Input).value)
            if survey.problem or not survey.usable:
                self.app.notify(f"Corpus folder: {survey.describe()}", severity="error", title="Cannot start yet")
                self.query_one("#corpus", Input).focus()
                return
        try:
            config = AdvisorConfig.from_dict(self.options())
        except ConfigError as exc:
            self.app.notify(str(exc), severity="error", title=exc.title)
            return
        self.app.start_run(config)

    @on(Button.Pressed, "#estimate-button")
    def action_estimate(self) -> None:
        try:
            config = AdvisorConfig.from_dict(self.options())
        except ConfigError as exc:
            self.app.notify(str(exc), severity="error", title=exc.title)
            return
        self._status("estimate", "estimating: reading the corpus, loading the models, probing their speed…", None)
        self._estimate(config)

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def _estimate(self, config: AdvisorConfig) -> None:
        from advisor.api import estimate_run
        from advisor.errors import AdvisorError

        try:
            estimate = estimate_run(config)
        except AdvisorError as exc:
            self.app.call_from_thread(self._status, "estimate", f"cannot estimate: {exc}", False)
            return
        said = f"Expected: {estimate.text()}." + "".join(f" {note}." for note in estimate.notes)
        self.app.call_from_thread(self._status, "estimate", said.replace("..", "."), True)

    @on(Button.Pressed, "#history")
    def action_history(self) -> None:
        self.app.action_history()
