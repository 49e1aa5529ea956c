"""Command-line options, constraints and a TOML file make one AdvisorConfig; options given win."""

import pytest

from advisor.cli import _config_from_args, build_parser
from advisor.errors import ConfigError


def _config(*argv):
    return _config_from_args(build_parser().parse_args(["run", "docs", *argv]))


def test_constraint_options_land_in_the_typed_constraints():
    config = _config("--data-changes", "daily", "--must-cite-sources", "--latency-limit-ms", "750",
                     "--queries-per-month", "1000", "--keep-data-local", "--top-k", "2")
    c = config.constraints
    assert (c.data_changes, c.must_cite_sources, c.latency_limit_ms, c.queries_per_month) == ("daily", True, 750, 1000)
    assert c.data_may_leave_machine is False and config.top_k == 2
    assert _config().constraints.data_may_leave_machine is True  # untouched defaults


def test_a_toml_file_fills_in_what_the_options_leave(tmp_path):
    path = tmp_path / "advisor.toml"
    path.write_text('top_k = 5\nbudget_minutes = 2.0\n[constraints]\ndata_changes = "monthly"\n'
                    'queries_per_month = 300\n', encoding="utf-8")
    config = _config("--config", str(path), "--top-k", "2", "--queries-per-month", "900")
    assert config.top_k == 2 and config.budget_minutes == 2.0 and config.corpus == "docs"
    assert config.constraints.data_changes == "monthly" and config.constraints.queries_per_month == 900
    path.write_text("colour = 'blue'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting"):
        _config("--config", str(path))


def test_tui_takes_every_run_option_and_an_optional_folder():
    from advisor.cli import _options_from_args

    run_flags = {a.dest for a in build_parser()._subparsers._group_actions[0].choices["run"]._actions}
    tui_flags = {a.dest for a in build_parser()._subparsers._group_actions[0].choices["tui"]._actions}
    assert run_flags - {"quiet", "resume"} <= tui_flags  # the TUI resumes a run from its History screen
    args = build_parser().parse_args(["tui", "--budget-minutes", "2", "--must-cite-sources"])
    assert _options_from_args(args) == {"budget_minutes": 2.0, "constraints": {"must_cite_sources": True}}
    args = build_parser().parse_args(["tui", "docs"])
    assert _options_from_args(args)["corpus"] == "docs"


def test_advisor_alone_without_a_terminal_prints_help(run_cli):
    result = run_cli()
    assert result.returncode == 2 and "usage: advisor" in result.stdout


def test_progress_into_a_log_is_a_line_per_stage():
    import io

    from rich.console import Console

    from advisor.api import ProgressEvent
    from advisor.cli import _StageLines

    out = io.StringIO()
    with _StageLines(Console(file=out, width=60)) as lines:
        for event in (ProgressEvent("load", 1, 1, "24 documents"), ProgressEvent("train", 1, 5, loss=2.0),
                      ProgressEvent("train", 5, 5, "5 steps", elapsed=12.3)):
            lines(event)
    assert out.getvalue().splitlines() == ["Loading the corpus…", "  done: 1/1 in 0 s (24 documents)",
                                           "LoRA fine-tune…", "  done: 5/5 in 12 s (5 steps)"]


def test_every_setting_has_exactly_one_run_option_and_each_option_sets_its_setting():
    import dataclasses

    from advisor.cli import CONSTRAINT_PREFIX, NOT_OPTIONS
    from advisor.config import AdvisorConfig, Constraints

    run = build_parser()._subparsers._group_actions[0].choices["run"]
    dests = [action.dest for action in run._actions if action.option_strings]
    settings = [f.name for f in dataclasses.fields(AdvisorConfig) if f.name not in NOT_OPTIONS]
    settings += [CONSTRAINT_PREFIX + f.name for f in dataclasses.fields(Constraints)]
    assert sorted(d for d in dests if d in settings) == sorted(settings)  # each once, none missing
    # Typed from the field: a number is parsed as one, a switch turns its setting off.
    config = _config("--max-eval", "7", "--learning-rate", "0.001", "--no-forgetting", "--no-full-context",
                     "--device", "cpu", "--max-minutes", "4.5")
    assert (config.max_eval, config.learning_rate, config.forgetting, config.full_context) == (7, 0.001, False, False)
    assert config.device == "cpu" and config.max_minutes == 4.5
    with pytest.raises(SystemExit):  # choices come from the field too
        _config("--precision", "fp8")


def test_resuming_a_run_made_before_augmentation_keeps_its_plain_fine_tune(tmp_path):
    import json

    from advisor.cli import _resumed_config
    from advisor.config import AdvisorConfig

    old = AdvisorConfig(corpus="docs").to_dict()
    del old["augment"]
    (tmp_path / "config.json").write_text(json.dumps(old), encoding="utf-8")
    args = build_parser().parse_args(["run", "--resume", str(tmp_path)])
    assert _resumed_config(args).augment is False
    assert AdvisorConfig.from_run_folder(old, tmp_path).augment is False  # what the TUI's history resumes
    (tmp_path / "config.json").write_text(json.dumps({**old, "augment": True}), encoding="utf-8")
    assert _resumed_config(args).augment is True
