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


def _figures(rate: float, share: float) -> dict:
    return {"real_tokens_per_second": {"median": rate}, "utilisation_percent_6N": {"median": share}}


def test_the_larger_models_target_is_judged_compiled_where_the_run_has_it_and_uncompiled_is_shown_beside(
        tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    run = _lora("bf16", 6.0, 670e12)
    run["larger_model"] = {"parameters": 1_711_376_384, "rows": [
        {"name": "ours", "precision": "bf16", "figures": _figures(24_000.0, 37.0)},
        {"name": "ours_compiled", "precision": "bf16", "figures": _figures(36_000.0, 55.0)},
        {"name": "trl_best", "precision": "bf16", "figures": _figures(13_000.0, 20.0)}]}
    (tmp_path / "lora_training-cuda-h200.json").write_text(json.dumps({**run, "measured_on": "2026-12-04"}))
    rows = {target: (measured, met) for target, measured, met in summary.gpu_targets()}
    compiled = next(key for key in rows if "40%" in key and "layers compiled" in key)
    uncompiled = next(key for key in rows if "40%" in key and "uncompiled" in key)
    assert rows[compiled] == ("55% (NVIDIA H200, 2026-12-04, lora_training-cuda-h200.json)", True)
    assert rows[uncompiled][1] is None and rows[uncompiled][0].startswith("37%")


def test_gpu_answering_stands_beside_the_cpus_and_says_how_many_bf16_answers_differ(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    assert summary.gpu_answering()[0][2] is None  # no device run: said so

    def answering(rate: float, differ: int, extra: dict) -> dict:
        figures = {"answers_per_second": {"median": rate}, "ratio_to_one_at_a_time": {"median": 7.0},
                   "differ": {"max": differ}}
        return {"machine": {"gpu": "NVIDIA H200"}, "measured_on": "2026-12-04", **extra,
                "rows": [{"prompts": "closed-book", "mode": "batch 8", "figures": figures}]}

    (tmp_path / "answering-cpu.json").write_text(json.dumps(answering(1.66, 0, {})))
    (tmp_path / "answering-cuda-h200.json").write_text(json.dumps(answering(12.3, 0, {
        "weights_note": "random weights of the same shape: throughput only",
        "bf16_against_fp32": {"rows": [{"prompts": "closed-book", "answers": 16, "bf16_answers_per_second": 11.1,
                                        "bf16_answers_that_differ": 7}]}})))
    (_, measured, met), = summary.gpu_answering()
    assert met is True and "12.3 answers/s" in measured and "the CPU's 1.66" in measured
    assert "7 of 16 answers differ" in measured and "random weights" in measured
