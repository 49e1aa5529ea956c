"""The report's JSON shape, its Markdown rendering, and atomic writing."""

import json
import math

from advisor.measure.evidence import ModelCheck
from advisor.verdict.render import render_markdown
from advisor.verdict.report import ArmReport, Recommendation, Report
from advisor.verdict.render import write_report

RANDOM = "random weights: quality figures are meaningless"


def _report(run_dir, warning=None):
    quality = {"token_f1": {"value": 0.5, "n": 10, "ci95": [0.2, 0.8]},
               "exact_match": {"value": float("nan"), "n": 0, "ci95": [float("nan"), float("nan")]}}
    if warning:
        for entry in quality.values():
            entry["warning"] = warning
    arm = ArmReport(quality=quality, latency_ms={"p50": 12.0, "p95": 30.0},
                    cost_usd={"one_off": 0.01, "per_1k_queries": 0.002}, notes=["a note"])
    return Report(config={"goal": "knowledge", "corpus": "docs", "base_model": "m"},
                  corpus={"documents": 3, "skipped": [{"path": "x.bin", "reason": "binary file (not text)"}]},
                  arms={"base": arm, "rag": arm, "finetune": arm},
                  recommendation=Recommendation("rag", "low", ["RAG against the base model: +0.300."]),
                  run_dir=str(run_dir), created="2026-11-23T00:00:00+00:00")


def test_json_has_the_promised_shape(tmp_path):
    write_report(_report(tmp_path), tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["schema_version"] == 3
    assert {"config", "corpus", "arms", "recommendation"} <= set(data)
    assert data["corpus"]["skipped"] == [{"path": "x.bin", "reason": "binary file (not text)"}]
    assert set(data["arms"]) == {"base", "rag", "finetune"}
    for arm in data["arms"].values():
        assert set(arm) >= {"quality", "latency_ms", "cost_usd", "notes"}
        assert {"value", "n"} <= set(arm["quality"]["token_f1"])
        assert set(arm["latency_ms"]) >= {"p50", "p95"} and set(arm["cost_usd"]) == {"one_off", "per_1k_queries"}
    assert data["arms"]["rag"]["quality"]["exact_match"]["value"] is None  # NaN is not JSON
    assert data["recommendation"] == {"choice": "rag", "confidence": "low", "basis": "measured",
                                      "reasons": [{"text": "RAG against the base model: +0.300.", "figure": "",
                                                   "sources": []}],
                                      "counter_arguments": [], "next_steps": [], "rule": ""}


def test_reports_of_earlier_schemas_still_load(tmp_path):
    write_report(_report(tmp_path), tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    data["schema_version"] = 2
    data["recommendation"]["reasons"] = ["RAG against the base model: +0.300."]  # schema 2: bare texts
    del data["recommendation"]["rule"]
    old = Report.from_dict(data)
    assert old.recommendation.reason_texts == ["RAG against the base model: +0.300."]
    assert old.recommendation.reasons[0].figure == "" and old.recommendation.rule == ""
    assert "- RAG against the base model: +0.300." in render_markdown(old)


def test_every_schema_reads_into_typed_sections_and_writes_back_what_it_read(ferry_report, tmp_path):
    """Schema 1 (the ferry fixture, a report of the first release), 2 (bare reasons, no rule) and 3 (this
    version's own report) load with their sections as records; each section writes back the keys it was read
    from, the ones no record knows included."""
    from advisor.corpus.profile import CorpusProfile
    from advisor.measure.cost import BreakEven, Costs
    from advisor.measure.evidence import Evaluation, Training
    from advisor.measure.hardware import Hardware

    first = json.loads(ferry_report.read_text())
    assert first["schema_version"] == 1
    second = {**json.loads(json.dumps(first)), "schema_version": 2}
    second["corpus"]["a_later_key"] = {"kept": True}
    second["costs"] = {"monthly_usd": {"rag": 1.5}, "break_even": {"tuned": "finetune", "retrieval": "rag",
                                                                  "queries": None}, "a_later_cost": 2}
    second["evaluation"]["estimate"] = {"stages": {"base": 12.0}, "speed": {}, "basis": "probe", "already": 0.0,
                                        "notes": [], "total": 12.0, "text": "about 10 s"}
    write_report(_report(tmp_path), tmp_path)
    third = json.loads((tmp_path / "report.json").read_text())
    for data in (first, second, third):
        report = Report.from_dict(data)
        assert isinstance(report.corpus, CorpusProfile) and isinstance(report.evaluation, Evaluation)
        assert isinstance(report.hardware, Hardware) and isinstance(report.costs, Costs)
        assert report.corpus.documents == data["corpus"]["documents"]
        assert report.evaluation.n == data["evaluation"].get("n", 0)
        written = report.to_dict()
        for section in ("corpus", "models", "hardware", "costs"):
            assert written[section] == data.get(section, {})
        assert written["evaluation"] == data["evaluation"]
        assert "## Quality" in render_markdown(report)
    old = Report.from_dict(first)
    assert old.models.base_check.trained and old.models.base_check.perplexity == first["models"]["base_check"]["perplexity"]
    assert old.corpus.style == first["corpus"]["style"] and old.evaluation.primary_metric == "answer_containment"
    assert Report.from_dict(second).corpus.extra == {"a_later_key": {"kept": True}}
    assert Report.from_dict(second).costs.break_even == BreakEven("finetune", "rag", None)  # None: never repaid
    assert old.hardware.cpu_cores == first["hardware"]["cpu_cores"]
    assert Report.from_dict(second).evaluation.estimate.stages == {"base": 12.0}
    training = old.arms["finetune"].training
    assert isinstance(training, Training) and training.steps == first["arms"]["finetune"]["details"]["training"]["steps"]
    assert old.arms["base"].training is None


def test_round_trip_and_no_temp_files_left(tmp_path):
    report = _report(tmp_path)
    write_report(report, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json", "report.md"]
    loaded = Report.load(tmp_path / "report.json")
    assert loaded.recommendation == report.recommendation
    assert loaded.arms["rag"].quality["token_f1"] == report.arms["rag"].quality["token_f1"]
    assert math.isnan(report.arms["rag"].quality["exact_match"]["value"])


def test_markdown_flags_every_figure_from_random_weights(tmp_path):
    text = render_markdown(_report(tmp_path, warning=RANDOM))
    quality_rows = [line for line in text.splitlines() if line.startswith("| Token F1") or line.startswith("| Exact")]
    assert quality_rows and all(line.count(RANDOM) == 3 for line in quality_rows)
    assert "**Recommendation: rag (confidence low)**" in text
    assert "`x.bin`: binary file (not text)" in text


def test_base_check_explains_a_surprised_but_trained_model(tmp_path):
    report = _report(tmp_path)
    check = {"perplexity": 5000.0, "uniform_perplexity": 1290.0, "entropy_share_of_uniform": 0.08,
             "trained": True, "verdict": "trained"}
    report.models.base_check = ModelCheck(**check)
    line = next(l for l in render_markdown(report).splitlines() if "Base model check" in l)
    assert "8% as spread out" in line and "predictions stay confident" in line
    report.models.base_check = ModelCheck(**{**check, "perplexity": 7.7})
    line = next(l for l in render_markdown(report).splitlines() if "Base model check" in l)
    assert "predictions stay confident" not in line


def test_an_arm_added_in_one_place_shows_up_in_every_table_and_comparison(tmp_path, monkeypatch):
    from advisor.measure import arms as arms_module
    from advisor.verdict.decide import compare_arms, primary_metric

    kind = arms_module.ArmKind("distilled", "the distilled model", "Distilled answers", tuned=True,
                               retrieval=False, choice="finetune")
    monkeypatch.setitem(arms_module.ARM_KINDS, "distilled", kind)
    report = _report(tmp_path)
    report.arms["distilled"] = ArmReport(quality={"token_f1": {"value": 0.9, "n": 10, "ci95": [0.8, 1.0]}},
                                         latency_ms={"p50": 5.0, "p95": 9.0},
                                         cost_usd={"one_off": 0.1, "per_1k_queries": 0.001}, label=kind.label)
    markdown = render_markdown(report)
    assert "| | base | rag | finetune | distilled |" in markdown
    assert "| Token F1 |" in markdown and "0.900 [0.800, 1.000] (n=10)" in markdown
    comparisons = compare_arms({"base": [0.0] * 10, "rag": [0.5] * 10, "distilled": [1.0] * 10},
                               primary_metric("style", True, None), 0)
    assert {"distilled_vs_base", "rag_vs_distilled"} <= set(comparisons)
    assert arms_module.label("distilled") == "the distilled model"
