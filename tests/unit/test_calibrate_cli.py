"""`advisor calibrate` prints the table, writes JSON, and fails when a verdict is wrong (runs faked)."""

import json

import pytest

import advisor.calibration.calibrate as calibrate
from advisor.calibration.calibrate import TASKS, CalibrationResult, CalibrationRow
from advisor.cli import main


def _fake_run(choices: dict[str, str]):
    def run_calibration(out_dir, *, tasks, **_):
        rows, verdicts = [], {}
        for task in (t for t in TASKS if t.name in tasks):
            rows += [CalibrationRow(task.name, e.arm, e.metric, e.threshold, f"{e.compare} {e.threshold:g}",
                                    e.why, True) for e in task.expectations]
            verdicts[task.name] = {"choice": choices[task.name], "right": task.right_choice,
                                   "ok": choices[task.name] == task.right_choice, "confidence": "high",
                                   "report": f"{out_dir}/{task.name}/run/report.md"}
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
    assert {v["choice"] for v in saved["verdicts"].values()} == set(choices.values())
    assert len(saved["rows"]) == sum(len(t.expectations) for t in TASKS)
    out = capsys.readouterr().out
    assert ("WRONG" in out) is (exit_code == 1)
