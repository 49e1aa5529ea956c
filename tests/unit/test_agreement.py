"""The budget-agreement benchmark's arithmetic, on hand-made run records: no model is loaded."""

from advisor.verdict.report import ArmReport, Recommendation, Report
from benchmarks.agreement import (RunRecord, agreement, cut_by_budget, differences, long_plan, record_from_report,
                                  same_settings, seed_agreement, settings_of, summary_lines, what_moved)


def record(case, seed, budget, choice, means=None, **training):
    return RunRecord(case, seed, budget, choice, "medium", f"rule for {choice}", "exact_match",
                     means or {"base": 0.1, "rag": 0.5, "finetune": 0.2},
                     {"steps": 100, "passes": 3.0, "seconds": 40.0, **training}, 60.0)


def test_agreement_counts_the_pairs_with_the_same_verdict():
    runs = [record("knowledge", 0, "quick", "rag"), record("knowledge", 0, "long", "rag"),
            record("knowledge", 1, "quick", "rag"), record("knowledge", 1, "long", "finetune"),
            record("style", 0, "quick", "finetune"), record("style", 0, "long", "finetune"),
            record("style", 1, "quick", "finetune")]  # no long run yet: not a pair
    assert agreement(runs) == {"pairs": 3, "same": 2, "rate": 2 / 3}
    assert agreement([]) == {"pairs": 0, "same": 0, "rate": None}


def test_seed_agreement_is_per_budget_and_needs_two_seeds():
    runs = [record("knowledge", 0, "quick", "rag"), record("knowledge", 1, "quick", "rag"),
            record("knowledge", 0, "long", "rag"), record("knowledge", 1, "long", "both"),
            record("style", 0, "quick", "finetune"), record("style", 1, "quick", "neither"),
            record("style", 0, "long", "finetune"), record("style", 1, "long", "finetune"),
            record("known", 0, "quick", "neither")]  # one seed: nothing to agree with
    quick, long = seed_agreement(runs, "quick"), seed_agreement(runs, "long")
    assert (quick["same"], quick["count"], quick["rate"]) == (1, 2, 0.5)
    assert quick["cases"]["knowledge"] == {"choices": {0: "rag", 1: "rag"}, "all_same": True}
    assert quick["cases"]["style"]["all_same"] is False
    assert "known" not in quick["cases"]
    assert long["cases"]["knowledge"]["all_same"] is False and long["cases"]["style"]["all_same"] is True
    assert seed_agreement(runs[-1:], "quick") == {"cases": {}, "same": 0, "count": 0, "rate": None}


def test_what_moved_names_the_arm_whose_mean_moved_most_either_way():
    quick = record("knowledge", 0, "quick", "rag", {"base": 0.1, "rag": 0.5, "finetune": 0.2})
    long = record("knowledge", 0, "long", "finetune", {"base": 0.1, "rag": 0.2, "finetune": 0.45},
                  steps=500, passes=15.0, seconds=200.0)
    moved = what_moved(quick, long)
    assert moved["moved_most"] == "rag"  # down 0.30, more than the fine-tune's 0.25 up
    assert abs(moved["arms"]["finetune"]["change"] - 0.25) < 1e-9
    assert moved["arms"]["base"] == {"quick": 0.1, "long": 0.1, "change": 0.0}
    assert moved["training"]["steps"] == {"quick": 100, "long": 500}
    assert moved["training"]["passes"] == {"quick": 3.0, "long": 15.0}
    assert moved["metric"] == "exact_match"


def test_what_moved_skips_arms_measured_at_one_budget_only():
    quick = record("fits", 0, "quick", "rag", {"base": 0.1, "full_context": 0.3})
    long = record("fits", 0, "long", "full_context", {"base": 0.15, "full_context": None, "rag": 0.9})
    moved = what_moved(quick, long)
    assert moved["moved_most"] == "base"
    assert moved["arms"]["rag"] == {"quick": None, "long": 0.9, "change": None}
    assert what_moved(record("a", 0, "quick", "rag", {"rag": None}),
                      record("a", 0, "long", "rag", {"rag": None}))["moved_most"] is None


def test_differences_list_only_the_pairs_that_changed():
    runs = [record("knowledge", 0, "quick", "rag"), record("knowledge", 0, "long", "rag"),
            record("knowledge", 1, "quick", "rag"),
            record("knowledge", 1, "long", "both", {"base": 0.1, "rag": 0.5, "finetune": 0.6}, steps=500)]
    [changed] = differences(runs)
    assert (changed["case"], changed["seed"], changed["quick"], changed["long"]) == ("knowledge", 1, "rag", "both")
    assert changed["moved_most"] == "finetune"
    assert changed["long_rule"] == "rule for both"


def test_summary_lines_give_counts_and_what_moved():
    runs = [record("knowledge", 0, "quick", "rag"), record("knowledge", 1, "quick", "rag"),
            record("knowledge", 0, "long", "rag"),
            record("knowledge", 1, "long", "both", {"base": 0.1, "rag": 0.5, "finetune": 0.6}, steps=500,
                   passes=15.0, seconds=200.0)]
    summary = {"agreement": agreement(runs), "differences": differences(runs),
               "seed_agreement": {budget: seed_agreement(runs, budget) for budget in ("quick", "long")}}
    lines = summary_lines(summary)
    assert lines[0] == "Quick and long verdicts agree on 1 of 2 (50%) (case, seed) pairs."
    assert "quick budget: every seed gave the same verdict in 1 of 1 (100%)" in lines[1]
    assert "long budget: every seed gave the same verdict in 0 of 1 (0%)" in lines[2]
    assert not any("time budget stopped" in line for line in lines)
    assert lines[-1] == ("  knowledge seed 1: rag (medium) -> both (medium); exact_match moved most on finetune: "
                         "0.20 -> 0.60 (+0.40); fine-tune 100 -> 500 steps, 3.00 -> 15.00 passes, 40.00 -> 200.00 s")


def test_long_plan_multiplies_the_budget_and_the_data_plan():
    quick = {"budget_minutes": 10.0, "epochs": 10, "min_train_steps": 1, "max_train_steps": None}
    assert long_plan(quick, 5) == {"budget_minutes": 50.0, "epochs": 50, "min_train_steps": 5,
                                   "max_train_steps": None}
    assert long_plan({"min_train_steps": 3, "max_train_steps": 7}, 1.5) == {"min_train_steps": 5,
                                                                            "max_train_steps": 11}


def test_a_report_is_reused_only_with_the_same_settings():
    plan = {"budget_minutes": 3.0, "epochs": 3.0, "min_train_steps": 100, "max_train_steps": None}
    config = {"seed": 1, "device": "cpu", "corpus": "x", **plan}
    assert same_settings(config, settings_of(1, "cpu", plan))
    assert not same_settings(config, settings_of(0, "cpu", plan))
    assert not same_settings(config, settings_of(1, "cpu", long_plan(plan, 5)))


def test_record_from_report_reads_the_primary_metric_and_the_training_figures():
    training = {"steps": 120, "passes": 4.5, "seconds": 33.0, "planned_steps": 120, "steps_wanted": 150,
                "stopped_by_budget": True, "tokens": 999}

    def arm(value, **details):
        return ArmReport({"exact_match": {"value": value, "ci95": [0.0, 0.7]}, "token_f1": {"value": 0.99}},
                         {"p50": 12.0, "p95": 30.0, "n": 10}, {}, details=details)

    report = Report(config={"budget_minutes": 3.0, "epochs": 3.0, "min_train_steps": 100, "max_train_steps": None},
                    corpus={}, arms={"base": arm(0.1), "rag": arm(0.6), "finetune": arm(0.3, training=training)},
                    recommendation=Recommendation("rag", "high", [], rule="RAG beats the base model"),
                    evaluation={"primary_metric": "exact_match", "wall_seconds": 61.5})
    run = record_from_report("ferry", 1, "quick", report, path="r.json")
    assert (run.case, run.seed, run.budget, run.choice, run.confidence) == ("ferry", 1, "quick", "rag", "high")
    assert run.rule == "RAG beats the base model"
    assert run.means == {"base": 0.1, "rag": 0.6, "finetune": 0.3}
    assert run.training == {**training, "stopped_by_budget": True}
    assert run.figures["rag"]["quality"]["exact_match"] == {"value": 0.6, "ci95": [0.0, 0.7]}
    assert run.figures["finetune"]["quality"]["token_f1"] == {"value": 0.99, "ci95": None}
    assert run.figures["base"]["latency_ms"] == {"p50": 12.0, "p95": 30.0}
    assert run.wall_seconds == 61.5
    assert run.plan["budget_minutes"] == 3.0 and run.report == "r.json"


def test_runs_cut_short_by_the_time_budget_are_named():
    runs = [record("ferry", 0, "quick", "rag", stopped_by_budget=True),
            record("ferry", 0, "long", "rag", stopped_by_budget=False), record("known", 1, "long", "neither")]
    assert cut_by_budget(runs) == ["ferry seed 0 quick"]
    summary = {"agreement": agreement(runs), "differences": [], "cut_by_budget": cut_by_budget(runs),
               "seed_agreement": {budget: seed_agreement(runs, budget) for budget in ("quick", "long")}}
    assert summary_lines(summary)[1:3] == ["Seed-to-seed at the quick budget: no case was run with two seeds or more.",
                                           "Seed-to-seed at the long budget: no case was run with two seeds or more."]
    assert summary_lines(summary)[-1] == ("Fine-tunes the time budget stopped before their data plan ended: "
                                          "ferry seed 0 quick.")


def test_a_task_that_decides_another_run_again_runs_with_that_runs_plan():
    from benchmarks.agreement import calibration_cases

    cases = {case.name: case for case in calibration_cases(None)}
    assert cases["constrained"].quick == cases["knowledge-paraphrased"].quick
    assert cases["constrained"].quick["epochs"] == 10


def test_earlier_records_are_read_back_only_for_the_same_device_and_factor(tmp_path):
    import json
    from dataclasses import asdict

    from benchmarks.agreement import earlier_records

    path = tmp_path / "agreement-cpu.json"
    runs = [record("known", 0, "quick", "neither"), record("known", 0, "long", "neither")]
    path.write_text(json.dumps({"device": "cpu", "factor": 5.0, "runs": [asdict(r) for r in runs]}))
    again = earlier_records(path, "cpu", 5.0)
    assert again[("known", 0, "long")] == runs[1] and len(again) == 2
    assert earlier_records(path, "cuda", 5.0) == {} and earlier_records(path, "cpu", 3.0) == {}
    assert earlier_records(tmp_path / "missing.json", "cpu", 5.0) == {}
