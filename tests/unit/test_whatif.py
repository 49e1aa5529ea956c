"""What if: a finished run's decision again under other constraints or another price, from report.json alone."""

import dataclasses
import json

import pytest

from finished_run import LATENCIES, N, ONE_OFF_SECONDS, PRICE, finished_run  # tests/finished_run.py

from advisor import what_if
from advisor.errors import ConfigError
from advisor.verdict.render import write_report
from advisor.whatif import write_what_if


def test_a_what_if_with_the_runs_own_constraints_is_the_runs_own_report():
    report = finished_run(data_changes="weekly", queries_per_month=50_000, latency_limit_ms=1000.0)
    assert report.recommendation.choice == "finetune" and report.costs.freshness_usd_per_month
    for same in (what_if(report), what_if(report, dict(report.constraints), price_per_hour=PRICE)):
        assert same.after.to_dict() == report.to_dict()
        assert same.before.to_dict() == report.to_dict()
        assert not (same.changed or same.reasons_added or same.reasons_removed or same.cost_changes)
        assert not (same.verdict_changed or same.confidence_changed or same.stored_differs)


def test_a_latency_limit_below_the_winners_p95_moves_the_verdict_to_an_option_within_it():
    report = finished_run()
    result = what_if(report, {"latency_limit_ms": 300})  # the fine-tune's p95 is 400 ms, RAG's 250 ms
    before, after = result.before.recommendation, result.after.recommendation
    assert (before.choice, before.confidence) == ("finetune", "high")
    assert (after.choice, after.confidence) == ("rag", "medium")  # a constraint chose: at most medium
    assert result.verdict_changed and result.confidence_changed
    assert result.changed == {"latency_limit_ms": (None, 300)}
    assert any("measured best but answers in 400.0 ms (p95), above your limit of 300 ms" in text
               for text in result.reasons_added)
    assert after.rule.startswith("Your latency limit or monthly budget")
    assert "latency limit ms 300 (the run's: not stated)" in result.after.about[-1]
    assert result.after.constraints["latency_limit_ms"] == 300
    assert report.recommendation.choice == "finetune"  # the run's own report is left as it was


def test_data_changing_daily_says_the_fine_tune_must_be_retrained_and_prices_keeping_it_fresh():
    result = what_if(finished_run(), {"data_changes": "daily"})
    assert result.after.recommendation.choice == "finetune"  # the rules weigh it as a reason, not a limit
    assert any(text.startswith("Your data changes daily: the LoRA fine-tune must be retrained")
               and "120.0 s of training here, against 2.0 s to rebuild the index" in text
               for text in result.reasons_added)
    fresh = result.after.costs.freshness_usd_per_month
    assert fresh["finetune"] == pytest.approx(120.0 * 365 / 12 * PRICE / 3600)
    assert ("finetune: a month kept fresh", "not shown", f"${fresh['finetune']:.4f} (data changing daily)") \
        in result.cost_changes


def test_a_price_per_hour_prices_every_arm_again_from_its_measured_seconds():
    report = finished_run(data_changes="weekly", queries_per_month=10_000)
    result = what_if(report, price_per_hour=2.5)
    after = result.after
    for name, arm in after.arms.items():
        mean_seconds = sum(LATENCIES[name]) / N
        assert arm.cost_usd["one_off"] == pytest.approx(ONE_OFF_SECONDS[name] * 2.5 / 3600)
        assert arm.cost_usd["per_1k_queries"] == pytest.approx(mean_seconds * 1000 * 2.5 / 3600)
        assert after.costs.monthly_usd[name] == pytest.approx(25 * report.costs.monthly_usd[name])
    assert after.costs.freshness_usd_per_month["finetune"] == pytest.approx(
        25 * report.costs.freshness_usd_per_month["finetune"])
    full = after.costs.projections["full_corpus"]
    assert full["usd"] == pytest.approx(full["seconds"] * 2.5 / 3600)
    assert after.costs.projections["larger_model"]["lora_usd_here"] == pytest.approx(
        25 * report.costs.projections["larger_model"]["lora_usd_here"])
    assert after.evaluation.pricing["usd_per_hour"] == 2.5 and after.config["price_per_hour"] == 2.5
    assert result.changed == {"price_per_hour": (PRICE, 2.5)} and not result.not_repriced
    assert ("rag: per 1,000 questions", "$0.00563", "$0.14063") in result.cost_changes
    assert any("$0.21181 per 1,000 queries" in text for text in result.reasons_added)
    assert report.arms["rag"].cost_usd["per_1k_queries"] == pytest.approx(0.005625)  # left as it was


def test_costs_without_their_seconds_are_kept_and_said():
    report = finished_run()
    report = dataclasses.replace(report, evaluation=dataclasses.replace(report.evaluation, pricing={}))
    del report.arms["rag"].details["one_off_seconds"]
    result = what_if(report, price_per_hour=1.0)
    assert result.after.arms["rag"].cost_usd["one_off"] == report.arms["rag"].cost_usd["one_off"]
    kept = result.after.arms["finetune"].cost_usd["per_1k_queries"]
    assert kept == report.arms["finetune"].cost_usd["per_1k_queries"]
    assert result.after.arms["finetune"].cost_usd["one_off"] == pytest.approx(120.0 / 3600)
    said = " ".join(result.not_repriced)
    assert "rag's one-off cost: report.json holds no measured seconds" in said
    assert "finetune's cost per 1,000 questions: report.json does not say the price" in said


@pytest.mark.parametrize("constraints, price, message", [
    ({"colour": "blue"}, None, "unknown constraint"),
    ({"data_changes": "hourly"}, None, "data_changes must be one of static, monthly, weekly, daily"),
    ({"latency_limit_ms": "fast"}, None, "latency_limit_ms must be a non-negative number"),
    ({}, -1.0, "price_per_hour must be a non-negative number"),
])
def test_unknown_constraints_and_bad_values_are_config_errors(constraints, price, message):
    with pytest.raises(ConfigError, match=message):
        what_if(finished_run(), constraints, price)


def test_the_what_if_report_is_written_beside_the_runs_own_never_over_it(tmp_path):
    run = tmp_path / "run"
    write_report(finished_run(), run)
    own = (run / "report.json").read_bytes()
    result = what_if(run, {"latency_limit_ms": 300})
    paths = write_what_if(result)
    assert paths["json"] == run / "whatif" / "report.json" and paths["html"].is_file()
    assert json.loads(paths["json"].read_text())["recommendation"]["choice"] == "rag"
    assert "A what-if on the run in" in paths["markdown"].read_text()
    assert (run / "report.json").read_bytes() == own
    with pytest.raises(ConfigError, match="would overwrite the run's report"):
        write_what_if(result, run)


def test_the_cli_prints_the_verdict_reasons_and_costs_that_changed_and_writes_on_request(tmp_path, run_cli):
    run = tmp_path / "run"
    write_report(finished_run(queries_per_month=50_000), run)
    own = (run / "report.json").read_bytes()
    result = run_cli("whatif", run, "--latency-limit-ms", "300", "--price-per-hour", "1.0", "--write", timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "latency limit ms 300 (the run's: not stated); price per hour 1 (the run's: 0.1)" in out
    assert "Recommendation: rag (confidence medium) (was: finetune, high confidence)" in out
    assert "Reasons added:\n  + The LoRA fine-tune measured best but answers in 400.0 ms (p95)" in out
    assert "Reasons no longer given:\n" in out
    assert "  rag: a month of answers: $0.28 (at 50,000 questions) -> $2.81 (at 50,000 questions)" in out
    assert f"Wrote the what-if's report to {run / 'whatif'}" in out
    assert json.loads((run / "whatif" / "report.json").read_text())["recommendation"]["choice"] == "rag"
    assert (run / "report.json").read_bytes() == own
    same = run_cli("whatif", run, "--no-must-cite-sources", timeout=120)  # the run's own value: nothing changes
    assert same.returncode == 0 and "nothing changed" in same.stdout and "(unchanged)" in same.stdout


@pytest.mark.parametrize("where, said", [("missing", "is not a folder"), ("empty", "holds no report.json")])
def test_the_cli_says_in_one_line_when_there_is_no_finished_run(tmp_path, run_cli, where, said):
    (tmp_path / "empty").mkdir()
    result = run_cli("whatif", tmp_path / where, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error:") and said in lines[0]
