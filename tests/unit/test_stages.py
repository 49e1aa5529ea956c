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
    monkeypatch.setattr(api, "release_freed_memory", lambda: done.append("freed"))
    api.Advisor(config, on_progress=events.append).run()
    assert done == ["second", "freed", "first", "freed"]  # each stage's freed memory returned before the next
    assert [name for name in done if name != "freed"] == api.planned_stages(config) == ["second", "first"]
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


def test_the_training_note_names_the_budget_that_bound_the_fine_tune():
    """--max-minutes can cut the fine-tune's budget below --budget-minutes: the note gives the one it ran under."""
    from advisor.config import AdvisorConfig
    from advisor.measure.evidence import Training
    from advisor.stages.train import training_note

    config = AdvisorConfig(corpus=".", budget_minutes=3.0)
    cut = Training(steps=20, planned_steps=20, steps_wanted=100, seconds=88.0, tokens=9000, stopped_by_budget=True,
                   budget_seconds=90.0, passes=0.8, blocks=12, pairs=0, tokens_per_second=102.0)
    note = training_note(cut, config)
    assert "the 1.5-minute budget allowed 20 of the 100 steps" in note
    assert "fewer than one pass" in note and "QA pair" not in note
    assert "budget allowed" not in training_note(Training(steps=100, passes=4.0, blocks=12), config)


def test_the_training_note_says_what_augmentation_added_and_whether_the_budget_covered_it():
    from advisor.config import AdvisorConfig
    from advisor.measure.evidence import Training
    from advisor.stages.train import training_note

    augmentation = {"facts": 685, "forms": {"cloze": 685, "continuation": 611, "reordered document": 66},
                    "held_out_facts_left_out": 40, "examples": 1418, "tokens": 96_000, "seconds": 0.4}
    short = Training(steps=40, passes=0.1, blocks=61, augmentation=augmentation)
    note = training_note(short, AdvisorConfig(corpus="."))
    assert ("with 685 facts of the training side restated (685 clozes, 611 continuations, 66 reordered documents: "
            "1,418 more examples, 96,000 tokens, made in 0.4 s; 40 held-out fact(s) left out)") in note
    assert "did not cover the augmented data: 10% of its examples seen once" in note
    config = AdvisorConfig(corpus=".")
    tiny = training_note(Training(steps=4, passes=0.0033, blocks=61, augmentation=augmentation), config)
    assert "4 optimizer steps (0.3% of the data seen once," in tiny and "0.3% of its examples seen once" in tiny
    assert "(2.5 passes over the data," in training_note(Training(steps=900, passes=2.5, blocks=61), config)
    assert "did not cover" not in training_note(Training(steps=900, passes=2.5, blocks=61,
                                                         augmentation=augmentation), AdvisorConfig(corpus="."))
