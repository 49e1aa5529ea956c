"""`advisor calibrate` prints the tables, writes JSON, and fails when a verdict is wrong (runs faked)."""

import json
from pathlib import Path

import pytest

import advisor.calibration.calibrate as calibrate
from advisor.calibration.calibrate import FINDINGS, TASKS, CalibrationResult, CalibrationRow, check_findings
from advisor.cli import main
from advisor.files import write_json
from advisor.verdict.report import ArmReport, Recommendation, Report


def _write_report(path: Path, scores: dict[str, dict[str, list[float]]], items: str = "same") -> str:
    """A report.json whose arms hold the given per-item scores (arm -> metric -> values)."""
    arms = {arm: ArmReport(quality={}, latency_ms={"p50": 1.0, "p95": 1.0},
                           cost_usd={"one_off": 0.0, "per_1k_queries": 0.0}, details={"scores": by_metric})
            for arm, by_metric in scores.items()}
    report = Report(config={}, corpus={}, arms=arms, recommendation=Recommendation("rag", "high", []),
                    evaluation={"items_fingerprint": items})
    write_json(path, report.to_dict())
    return str(path)


def _fake_run(choices: dict[str, str]):
    """Every arm scores 0 on every item, but the fine-tune of the paraphrased task scores 1."""
    def run_calibration(out_dir, *, tasks, **_):
        rows, verdicts = [], {}
        for task in (t for t in TASKS if t.name in tasks):
            rows += [CalibrationRow(task.name, e.arm, e.metric, e.threshold, f"{e.compare} {e.threshold:g}",
                                    e.why, True) for e in task.expectations]
            folder = Path(out_dir) / task.name / "run"
            folder.mkdir(parents=True)
            scores = {arm: {"exact_match": [0.0] * 10, "format_match": [0.0] * 10}
                      for arm in ("base", "rag", "finetune")}
            if task.name == "knowledge-paraphrased":
                scores["finetune"]["exact_match"] = [1.0] * 10
            _write_report(folder / "report.json", scores)
            verdicts[task.name] = calibrate.check_verdict(task, Recommendation(
                choices.get(task.name, task.right_choice), "high", [])) | {"report": str(folder / "report.md")}
        return CalibrationResult(rows, verdicts, 1.0)
    return run_calibration


@pytest.mark.parametrize("choices, exit_code", [
    ({"knowledge": "rag", "style": "finetune"}, 0),
    ({"knowledge": "finetune", "style": "finetune"}, 1),
])
def test_exit_code_follows_the_verdicts(monkeypatch, tmp_path, capsys, choices, exit_code):
    monkeypatch.setattr(calibrate, "run_calibration", _fake_run(choices))
    results = tmp_path / "calibration.json"
    assert main(["calibrate", "--quiet", "--out", str(tmp_path), "--json", str(results)]) == exit_code
    saved = json.loads(results.read_text())
    assert saved["verdicts_ok"] is (exit_code == 0)
    assert set(saved["verdicts"]) == {task.name for task in TASKS}
    assert len(saved["rows"]) == sum(len(t.expectations) for t in TASKS)
    assert len(saved["findings"]) == len(FINDINGS)
    out = capsys.readouterr().out
    assert ("WRONG" in out) is (exit_code == 1)


def test_findings_are_paired_differences(monkeypatch, tmp_path, capsys):
    """Only the paraphrase finding holds in the fake runs (every other arm scores 0 everywhere)."""
    monkeypatch.setattr(calibrate, "run_calibration", _fake_run({}))
    results = tmp_path / "calibration.json"
    assert main(["calibrate", "--quiet", "--out", str(tmp_path), "--json", str(results)]) == 0
    findings = {f["name"]: f for f in json.loads(results.read_text())["findings"]}
    paraphrases = findings["paraphrases make facts extractable"]
    assert paraphrases["ok"] and paraphrases["improvement"] == 1.0 and paraphrases["n"] == 10
    assert not any(f["ok"] for name, f in findings.items() if name != paraphrases["name"])
    assert f"1 of {len(FINDINGS)} findings reproduced" in " ".join(capsys.readouterr().out.split())


def test_a_finding_needs_the_same_questions_and_both_tasks(tmp_path):
    same = {"finetune": {"exact_match": [1.0] * 6}}
    worse = {"finetune": {"exact_match": [0.0] * 6}}
    reports = {"knowledge-paraphrased": _write_report(tmp_path / "a.json", same),
               "knowledge-repeated": _write_report(tmp_path / "b.json", worse, items="other")}
    (row,) = check_findings(reports)
    assert row.improvement is None and not row.ok
    reports["knowledge-repeated"] = _write_report(tmp_path / "c.json", worse)
    (row,) = check_findings(reports)
    assert row.improvement == 1.0 and row.ok
    assert check_findings({"knowledge-paraphrased": reports["knowledge-paraphrased"]}) == []


def test_task_option_runs_only_the_named_tasks(monkeypatch, tmp_path):
    monkeypatch.setattr(calibrate, "run_calibration", _fake_run({}))
    results = tmp_path / "calibration.json"
    assert main(["calibrate", "--quiet", "--out", str(tmp_path), "--json", str(results),
                 "--task", "style"]) == 0
    saved = json.loads(results.read_text())
    assert set(saved["verdicts"]) == {"style"}
    assert [f["name"] for f in saved["findings"]] == ["fine-tuning holds a format that examples in the prompt do not"]


def test_each_verdict_is_shown_beside_the_goal_prior(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(calibrate, "run_calibration", _fake_run({}))
    assert main(["calibrate", "--quiet", "--out", str(tmp_path), "--task", "known", "--task", "style"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "prior" in out and "overrules prior" in out
    assert "All 2 verdicts right, 1 of them against the goal's published prior" in out
    assert "known: neither, since the base model already answers closed-book" in out


def test_a_right_choice_that_is_unsure_or_a_default_fails_its_task():
    known = next(task for task in TASKS if task.name == "known")
    assert calibrate.check_verdict(known, Recommendation("neither", "medium", []))["ok"]
    assert not calibrate.check_verdict(known, Recommendation("neither", "low", []))["ok"]  # under the floor
    assert not calibrate.check_verdict(known, Recommendation("neither", "high", [], basis="default"))["ok"]
    assert not calibrate.check_verdict(known, Recommendation("rag", "high", []))["ok"]
    said = calibrate.check_verdict(known, Recommendation("neither", "medium", []))
    assert said["prior"] == "rag" and said["overrules_prior"]
