"""The run is one list of stages: the conductor walks it, and the stage titles, the planned rows and the CLI's
progress lines follow it, so that a stage added or moved there is added or moved everywhere. No model is run."""

import io

from rich.console import Console

from advisor import api, stages
from advisor.cli import _StageLines
from advisor.config import AdvisorConfig


def test_the_run_walks_its_list_of_stages_and_every_view_follows_it(tmp_path, monkeypatch):
    done = []

    def stage(name, runs=lambda config: True):
        def do(ctx, state):
            done.append(name)
            ctx.progress(name, 0, 1)
            ctx.progress(name, 1, 1, result={"stage": name})
        return stages.Stage(name, f"The {name} stage", runs, do)

    monkeypatch.setattr(stages, "RUN_STAGES", [stage("second"), stage("never", runs=lambda config: False),
                                            stage("first")])
    config = AdvisorConfig(corpus=str(tmp_path), out=str(tmp_path / "run"))
    events = []
    api.Advisor(config, on_progress=events.append).run()
    assert done == api.planned_stages(config) == ["second", "first"]
    assert [(e.stage, e.status) for e in events] == [("second", "running"), ("second", "done"),
                                                    ("first", "running"), ("first", "done")]
    assert list(api.STAGES) == ["second", "never", "first"] and api.STAGES["first"] == "The first stage"
    out = io.StringIO()
    with _StageLines(Console(file=out, width=100)) as lines:
        for event in events:
            lines(event)
    assert out.getvalue().splitlines()[::2] == ["The second stage…", "The first stage…"]


def test_the_shipped_run_measures_the_arms_on_the_base_weights_before_training_and_writes_the_report_last():
    config = AdvisorConfig(corpus="docs", finetune_rag=True)
    planned = api.planned_stages(config)
    assert planned[:5] == ["load", "models", "profile", "estimate", "index"] and planned[-1] == "report"
    assert planned.index("rag") < planned.index("full_context") < planned.index("train") < planned.index("finetune")
    assert planned.index("finetune") < planned.index("finetune_rag")
    assert "full_context" not in api.planned_stages(AdvisorConfig(corpus="docs", full_context=False))


def test_a_skipped_stage_says_so_in_its_status_and_the_cli_prints_why():
    out = io.StringIO()
    with _StageLines(Console(file=out, width=100)) as lines:
        lines(api.ProgressEvent("full_context", 0, None, "skipped: the corpus is too long", status="skipped"))
        lines(api.ProgressEvent("train", 0, 10))
    assert "  skipped: the corpus is too long" in out.getvalue().splitlines()
