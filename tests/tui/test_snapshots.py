"""Each screen at 80×24, compared with its stored snapshot (pytest-textual-snapshot; update with
`pytest tests/tui --snapshot-update` after checking the new pictures by eye)."""

from pathlib import Path

import pytest
from textual.clock import MockClock

from advisor.api import ProgressEvent
from advisor.config import AdvisorConfig
from advisor.tui.app import make_app
from advisor.tui.run_screen import Progressed, RunScreen
from advisor.verdict.report import Report

HERE = Path(__file__).parent
SIZE = (80, 24)


@pytest.fixture
def in_repo(monkeypatch):
    # Paths shown on screen are relative to the repository, the same on every machine.
    monkeypatch.chdir(HERE.parents[1])


def test_setup_screen(snap_compare, in_repo):
    app = make_app({"corpus": "samples/ferry/corpus", "qa": "samples/ferry/qa.jsonl"}, runs_root="runs")

    async def settle(pilot):
        status = pilot.app.screen.query_one("#corpus-status")
        while "usable" not in str(status.render()):  # the folder check runs in a worker
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_run_screen_mid_training(snap_compare, in_repo):
    app = make_app({}, runs_root="runs")
    clock = MockClock()
    config = AdvisorConfig(corpus="samples/ferry/corpus", qa="samples/ferry/qa.jsonl", out="runs/ferry-example")
    recorded = [("load", 1, 1, 0.1, "24 documents, 0 skipped", None), ("models", 2, 2, 4.0, "", None),
                ("profile", 1, 1, 3.0, "", None),
                ("estimate", 1, 1, 2.0, "about 7.5 min: answers 3.5, fine-tune 3", None),
                ("index", 112, 112, 2.0, "112 chunks", None),
                ("embeddings", 112, 112, 141.0, "hit rate on training-side questions 0.78 -> 0.99", None),
                ("base", 30, 30, 41.0, "", None), ("rag", 30, 30, 55.0, "", None),
                ("rag_tuned", 30, 30, 60.0, "", None),
                ("full_context", 30, 30, 80.0, "", None)]
    recorded += [("train", step, 58, 3.0 * step, "", 3.2 - 0.04 * step) for step in range(1, 31)]

    async def feed(pilot):
        screen = RunScreen(config, autostart=False, clock=clock)
        await pilot.app.push_screen(screen)
        for stage, done, total, elapsed, message, loss in recorded:
            clock.set_time(elapsed)
            screen.post_message(Progressed(ProgressEvent(stage, done, total, message, loss, elapsed)))
            await pilot.pause()
        await pilot.pause(0.6)  # the loss plot redraws at most twice a second

    assert snap_compare(app, terminal_size=SIZE, run_before=feed)


def test_results_screen(snap_compare, in_repo, ferry_report):
    app = make_app({}, runs_root="runs")

    async def show(pilot):
        pilot.app.show_results(Report.load(ferry_report))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=show)


def test_history_screen(snap_compare, tmp_path, monkeypatch, ferry_report):
    import shutil

    monkeypatch.chdir(tmp_path)
    finished = tmp_path / "runs" / "ferry-example"
    finished.mkdir(parents=True)
    shutil.copy(ferry_report, finished / "report.json")
    (finished / "config.json").write_text('{"corpus": "samples/ferry/corpus", "goal": "knowledge"}')
    app = make_app({}, runs_root="runs")

    async def open_history(pilot):
        await pilot.press("ctrl+r")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_history)


def test_too_small_window_says_so(snap_compare, in_repo):
    assert snap_compare(make_app({}, runs_root="runs"), terminal_size=(60, 16))
