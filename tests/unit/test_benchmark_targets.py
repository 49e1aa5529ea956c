"""`python -m benchmarks`'s summary: honest where a target cannot be measured, GPU rows from the newest device run."""

import json

import benchmarks.__main__ as summary


def _lora(precision: str, utilisation: float, bf16_flops: float) -> dict:
    figures = {"real_tokens_per_second": {"median": 150.0}, "utilisation_percent_6N": {"median": utilisation}}
    return {"machine": {"cpu": "AMD EPYC", "gpu": "NVIDIA H200"}, "matrix_flops": {"fp32": 112e9, "bf16": bf16_flops},
            "parameters": 134_515_008, "rows": [{"name": "ours", "precision": precision, "figures": figures}]}


def test_a_cpu_without_bf16_units_says_so_and_gives_the_last_figure_from_a_cpu_with_them(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    target, measured, met = summary.lora_cpu_target(_lora("fp32", 107.0, 0.95e9))
    assert met is None and "not measurable on this CPU" in measured and "fp32" in measured
    (tmp_path / "lora_training-cpu-bf16.json").write_text(json.dumps({**_lora("bf16", 31.0, 889e9),
                                                                      "measured_on": "2026-11-20"}))
    target, measured, met = summary.lora_cpu_target(_lora("fp32", 107.0, 0.95e9))
    assert met is False and "2026-11-20" in measured and "31%" in measured
    assert summary.lora_cpu_target(_lora("bf16", 52.0, 889e9))[2] is True
    assert summary.lora_cpu_target(_lora("bf16", 31.0, 889e9))[2] is False


def test_the_gpu_rows_come_from_the_newest_device_run(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    old, new = _lora("bf16", 0.1, 654e12), _lora("bf16", 3.0, 654e12)
    old["rows"][0]["figures"]["real_tokens_per_second"]["median"] = 962.0
    new["rows"][0]["figures"]["real_tokens_per_second"]["median"] = 21_000.0
    (tmp_path / "lora_training-cuda-h200.json").write_text(json.dumps({**old, "measured_on": "2026-11-26"}))
    (tmp_path / "lora_training-cuda-h200-new.json").write_text(json.dumps({**new, "measured_on": "2026-12-10"}))
    rows = summary.gpu_targets()
    assert rows[0][2] is True and "2026-12-10" in rows[0][1] and "21000" in rows[0][1]
    assert rows[-1][2] is None  # no larger-model rows in it: not measured, and said so
