"""The TUI driven as a user drives it (Pilot): setup → run → results on the tiny model, cancel and resume,
a bad folder, an error dialog, reopening a past run."""

import pytest

from advisor.tui.app import make_app
from advisor.tui.dialogs import ConfirmDialog, ErrorDialog, HelpScreen
from advisor.tui.history_screen import HistoryScreen
from advisor.tui.results_screen import ARM_COLUMNS, ResultsScreen, arm_rows
from advisor.tui.run_screen import Progressed, RunScreen
from advisor.tui.setup_screen import SetupScreen
from advisor.verdict.wording import format_number, quality_cell
from advisor.verdict.report import Report

SIZE = (100, 36)


@pytest.fixture
def quick(tiny_corpus, tiny_model_dir, fast_options):
    """quick(**more): the setup's fields for a run of seconds on the tiny model, `more` changed."""
    corpus, qa = tiny_corpus
    return lambda **more: {"corpus": str(corpus), "qa": str(qa), "base_model": str(tiny_model_dir),
                           **fast_options, **more}


async def wait_until(pilot, condition, what: str, timeout=120.0):
    """Polls `condition` between the app's message cycles (no fixed sleep), failing after `timeout`."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert pilot.app.is_running, "the app stopped"
        assert loop.time() < deadline, f"waited {timeout} s for {what}; on {pilot.app.screen!r}"
        await pilot.pause(0.1)
    await pilot.pause()  # let a new screen finish mounting


async def wait_for_screen(pilot, kind, timeout=120.0):
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__, timeout)
    return pilot.app.screen


def finished_stages(messages) -> set[str]:
    return {m.event.stage for m in messages if isinstance(m, Progressed) and m.event.status in ("done", "skipped")}


def run_screen(app) -> RunScreen | None:
    return next((screen for screen in app.screen_stack if isinstance(screen, RunScreen)), None)


async def test_setup_enter_runs_to_results_with_the_reports_figures(quick, tmp_path):
    app = make_app(quick(), runs_root=tmp_path / "runs")
    seen = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for_screen(pilot, SetupScreen)
        await pilot.press("enter")  # the corpus field has focus: Enter starts the run
        results = await wait_for_screen(pilot, ResultsScreen)
        report = results.report
        saved = Report.load(f"{report.run_dir}/report.json")
        assert report.to_dict() == saved.to_dict()
        table = results.query_one("#arms")
        assert [str(c.label) for c in table.columns.values()] == list(ARM_COLUMNS)
        shown = [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
        assert shown == arm_rows(saved)
        metric = saved.evaluation.primary_metric
        for row, arm in zip(shown, saved.arms.values(), strict=True):
            assert row[1] == quality_cell(arm.quality[metric])
            assert row[2] == format_number(arm.latency_ms["p50"], 1)
        assert (saved.recommendation.choice, saved.recommendation.basis) == ("rag", "default")  # random weights
        assert saved.recommendation.choice in str(results.query_one(".headline").render())
    events = [m.event for m in seen if isinstance(m, Progressed)]
    assert [e.stage for e in events if e.result is not None][-1] == "finetune"  # each stage's result arrives
    assert any(e.stage == "train" and e.loss is not None for e in events)


async def test_cancel_mid_run_then_resume_reuses_what_finished(quick, tmp_path):
    app = make_app(quick(out=str(tmp_path / "run")), runs_root=tmp_path / "runs")
    seen, cancelled = [], []

    def cancel_once_the_base_model_answered(message):
        seen.append(message)
        if isinstance(message, Progressed) and message.event.stage == "base" and message.event.result \
                and not cancelled:
            cancelled.append(True)
            run_screen(app).action_cancel()  # what Esc does (the key itself: the next test)

    async with app.run_test(size=SIZE, message_hook=cancel_once_the_base_model_answered) as pilot:
        await wait_for_screen(pilot, SetupScreen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: run_screen(app) is not None and not run_screen(app).running
                         and "base" in finished_stages(seen), "the run to stop")
        run = run_screen(app)
        assert app.screen is run and "Cancelled" in str(run.query_one("#state").render())
        assert not (tmp_path / "run" / "report.json").exists()
        seen.clear()
        await pilot.press("r")
        results = await wait_for_screen(pilot, ResultsScreen)
        assert results.report.run_dir == str(tmp_path / "run")
        reused = {m.event.stage for m in seen if isinstance(m, Progressed) and "reused" in m.event.message}
        assert "base" in reused


async def a_running_run_screen(pilot, tmp_path) -> RunScreen:
    """A run screen that behaves as if its run were going, with no run behind it: for the keys alone."""
    from advisor.config import AdvisorConfig

    await wait_for_screen(pilot, SetupScreen)
    screen = RunScreen(AdvisorConfig(corpus=str(tmp_path), out=str(tmp_path / "run")), autostart=False)
    await pilot.app.push_screen(screen)
    screen.running = True
    return screen


async def test_escape_asks_a_running_run_to_stop_and_goes_back_once_stopped(tmp_path):
    app = make_app({"corpus": str(tmp_path)}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await a_running_run_screen(pilot, tmp_path)
        await pilot.press("escape")
        assert screen.stop.is_set() and app.screen is screen
        screen.running = False
        await pilot.press("escape")
        assert isinstance(app.screen, SetupScreen)


async def test_a_bad_folder_is_reported_and_no_run_starts(tmp_path):
    app = make_app({"corpus": str(tmp_path / "missing")}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        setup = await wait_for_screen(pilot, SetupScreen)
        status = lambda: str(setup.query_one("#corpus-status").render())  # noqa: E731
        await wait_until(pilot, lambda: "does not exist" in status(), "the folder check")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        empty = tmp_path / "empty"
        empty.mkdir()
        (empty / "image.png").write_bytes(b"\x89PNG")
        setup.query_one("#corpus").value = str(empty)
        await wait_until(pilot, lambda: "no usable documents" in status(), "the folder check")
    assert not (tmp_path / "runs").exists()


async def test_a_library_error_shows_as_a_dialog_not_a_traceback(tiny_corpus, tmp_path):
    app = make_app({"corpus": str(tiny_corpus[0]), "base_model": "someone/uncached-model"},
                   runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, SetupScreen)
        await pilot.press("enter")
        dialog = await wait_for_screen(pilot, ErrorDialog)
        assert dialog.title_text == "Model not available"
        assert "someone/uncached-model" in dialog.message and "Traceback" not in dialog.message
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)


async def test_history_reopens_a_finished_run_and_help_lists_keys(quick, tmp_path):
    import shutil

    import advisor

    advisor.advise(**quick(out=str(tmp_path / "made-here")))
    (tmp_path / "runs").mkdir()
    shutil.move(tmp_path / "made-here", tmp_path / "runs" / "earlier")  # run folders get moved and copied
    app = make_app({}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, SetupScreen)
        await pilot.press("ctrl+r")
        history = await wait_for_screen(pilot, HistoryScreen)
        assert [run.path.name for run in history.runs] == ["earlier"]
        await pilot.press("enter")
        results = await wait_for_screen(pilot, ResultsScreen)
        assert results.report.run_dir == str(tmp_path / "runs" / "earlier")  # where ratings and `t` write
        await pilot.press("question_mark")
        help_screen = await wait_for_screen(pilot, HelpScreen)
        assert any("report.md" in description for _, description in help_screen.keys)
        await pilot.press("escape")
        await pilot.press("q")  # no run going: q quits at once, with no question
    assert app.return_code == 0  # exited through q; None would mean q did nothing and run_test shut the app down


async def test_quitting_during_a_run_asks_first(tmp_path):
    app = make_app({"corpus": str(tmp_path)}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await a_running_run_screen(pilot, tmp_path)
        await pilot.press("q")
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("n")
        assert app.screen is screen and not screen.stop.is_set()
        await pilot.press("q")
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        assert screen.stop.is_set()
    assert not app.is_running


async def test_ctrl_g_estimates_the_run_time_on_the_setup_screen_and_starts_nothing(quick, tmp_path):
    app = make_app(quick(out=str(tmp_path / "run")), runs_root=str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        setup = await wait_for_screen(pilot, SetupScreen)
        await pilot.press("ctrl+g")
        status = setup.query_one("#estimate")
        await wait_until(pilot, lambda: "Expected: about" in str(status.render()), "the estimate")
        assert status.has_class("-good")
        assert isinstance(pilot.app.screen, SetupScreen) and not (tmp_path / "run").exists()


async def test_answers_are_rated_into_feedback_jsonl_and_the_report_weighs_them(tmp_path, ferry_report):
    import json

    from advisor.verdict.report import Report

    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text(ferry_report.read_text(encoding="utf-8"), encoding="utf-8")
    report = Report.load(run / "report.json")
    report.run_dir = str(run)
    app = make_app({}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        app.show_results(report)
        await pilot.pause()
        app.screen.query_one("#answers").focus()
        await pilot.press("u")  # the first arm's answer (base) is highlighted
        await pilot.press("down", "p", "down", "p")  # rag's answer better than the fine-tune's
        await pilot.press("down", "d")
        await pilot.pause()
        rated = app.screen.query_one("#answers")
        assert [rated.get_row(arm)[2] for arm in ("base", "finetune_rag")] == ["good", "bad"]
    question = report.arms["base"].details["samples"][0]["question"]
    lines = [json.loads(line) for line in (run / "feedback.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(line["kind"], line["question"]) for line in lines] == [("rating", question), ("preference", question),
                                                                    ("rating", question)]
    assert (lines[0]["arm"], lines[0]["rating"], lines[1]["better"], lines[1]["worse"]) == ("base", "up", "rag",
                                                                                            "finetune")
    assert (lines[2]["arm"], lines[2]["rating"]) == ("finetune_rag", "down")
    written = json.loads((run / "report.json").read_text(encoding="utf-8"))
    assert written["feedback"]["preferences"]["rag_over_finetune"]["a_wins"] == 1
    assert any("people preferred RAG's to the LoRA fine-tune's 1 of 1" in reason["text"]
               for reason in written["recommendation"]["reasons"])

    (run / "config.json").write_text(json.dumps({"corpus": "samples/ferry"}), encoding="utf-8")
    app = make_app({}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        app.show_results(report)
        await pilot.pause()
        await pilot.press("t")  # train on these three ratings: too few, said in a dialog, and nothing started
        await pilot.pause()
        assert type(app.screen).__name__ == "ErrorDialog"
        said = app.screen.message
        assert "needs at least 8, with at least 2 good and 2 bad" in said
    assert not (tmp_path / "run-feedback" / "report.json").exists()


async def test_a_blank_optional_number_is_not_marked_wrong_once_visited_and_a_bad_one_is(tmp_path):
    """Blank number fields mean the default (or not stated): tabbing through them must not paint them red."""
    from textual.widgets import Collapsible, Input

    app = make_app({}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        setup = await wait_for_screen(pilot, SetupScreen)
        for section in setup.query(Collapsible):
            section.collapsed = False
        await pilot.pause()
        numbers = [field for field in setup.query(Input) if field.type in ("number", "integer")]
        assert {"budget_minutes", "max_minutes", "latency_limit_ms"} <= {field.id for field in numbers}
        for field in [*numbers, setup.query_one("#corpus", Input)]:  # each visited, then left
            field.focus()
            await pilot.pause()
        assert [field.id for field in numbers if field.has_class("-invalid")] == []
        setup.query_one("#budget_minutes", Input).value = "1e"
        setup.query_one("#budget_minutes", Input).focus()
        await pilot.pause()
        setup.query_one("#corpus", Input).focus()
        await pilot.pause()
        assert setup.query_one("#budget_minutes", Input).has_class("-invalid")


async def test_a_corpus_given_as_a_bare_folder_name_opens_the_tree_on_its_named_parent(tmp_path, monkeypatch):
    from textual.widgets import DirectoryTree

    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    app = make_app({"corpus": "docs"}, runs_root=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        setup = await wait_for_screen(pilot, SetupScreen)
        assert str(setup.query_one(DirectoryTree).root.label).strip() == tmp_path.name
