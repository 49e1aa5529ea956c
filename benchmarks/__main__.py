"""`python -m benchmarks`: every speed benchmark in turn, each in its own process, then the targets met or not.

`python -m benchmarks --summary` (or `--markdown`, the README's table) prints the targets from the committed results
without running anything. Each script also runs alone (`python -m benchmarks.lora_training`, `.answering`, `.indexing`, `.whole_run`, `.profiling`) and writes its
JSON under benchmarks/results/; this runner reads those files back for the summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS

SCRIPTS = ("lora_training", "answering", "indexing", "whole_run", "profiling")


# The H200's figure for ours at the advisor's batch of 4 before issue 25 (lora_training-cuda-h200.json, 2026-11-26):
# the GPU target is 20 times it.
GPU_BASELINE_TOKENS_PER_SECOND = 962


def _load(name: str, device: str = "cpu") -> dict | None:
    path = RESULTS / f"{name}-{device}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def measured_on(path: Path, data: dict) -> str:
    """The day a result was measured: its own record, else the day its file was last committed."""
    if data.get("measured_on"):
        return data["measured_on"]
    try:
        day = subprocess.run(["git", "log", "--follow", "-M", "--diff-filter=AM", "-1", "--format=%cs", "--", path.name], cwd=path.parent,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        day = ""
    return day or "undated"


def _row(data: dict, name: str) -> dict | None:
    return next((r for r in data.get("rows", []) if r["name"] == name and "figures" in r), None)


def _median(row: dict, key: str) -> float:
    return row["figures"][key]["median"]


def lora_cpu_target(lora: dict) -> tuple[str, str, bool | None] | None:
    ours = _row(lora, "ours")
    if not ours:
        return None
    target = "LoRA on the CPU: at least 50% of the measured bf16 limit (6N FLOP per token)"
    rate = _median(ours, "real_tokens_per_second")
    if ours["precision"] == "bf16":
        share = _median(ours, "utilisation_percent_6N")
        return target, f"{rate:.0f} real tok/s, {share:.0f}%", share >= 50
    flops = lora["matrix_flops"]
    # A CPU without bf16 matrix units (no AVX-512 BF16, no AMX) emulates bf16 far slower than it computes fp32: the
    # advisor trains in fp32 there, and a bf16 limit says nothing.
    here = (f"not measurable on this CPU ({lora['machine']['cpu']}): bf16 matmul {flops['bf16'] / 1e9:.0f} GFLOP/s "
            f"against fp32 {flops['fp32'] / 1e9:.0f}, so ours trains in fp32: {rate:.0f} real tok/s, "
            f"{_median(ours, 'utilisation_percent_6N'):.0f}% of the fp32 limit")
    earlier = _load("lora_training", "cpu-bf16") or {}  # the last run on a CPU with bf16 units (AVX-512 BF16 or AMX)
    if (bf16 := _row(earlier, "ours")) and bf16["precision"] == "bf16":
        share = _median(bf16, "utilisation_percent_6N")
        when = measured_on(RESULTS / "lora_training-cpu-bf16.json", earlier)
        return (target, f"{here}; on a CPU with bf16 units ({earlier['machine']['cpu']}, {when}): "
                        f"{_median(bf16, 'real_tokens_per_second'):.0f} real tok/s, {share:.0f}%", share >= 50)
    return target, here, None


def latest_gpu_run() -> tuple[Path, dict, str] | None:
    """The newest lora_training JSON measured on a CUDA device with the advisor's own settings (not a batch
    comparison run), by the day it was measured: (path, results, day)."""
    runs = []
    for path in RESULTS.glob("lora_training-cuda-*.json"):
        data = json.loads(path.read_text())
        runs.append((measured_on(path, data), path.name, path, data))
    if not runs:
        return None
    day, _, path, data = max(runs, key=lambda run: (run[0], "batch" not in run[1]))
    return path, data, day


def gpu_targets() -> list[tuple[str, str, bool | None]]:
    found = latest_gpu_run()
    if not found:
        return [("LoRA on a GPU (issue 25)", "no device run committed", None)]
    path, data, day = found
    when = f"{data['machine'].get('gpu', 'GPU')}, {day}, {path.name}"
    rows = []
    ours = _row(data, "ours")
    if ours:
        rate = _median(ours, "real_tokens_per_second")
        rows.append((f"LoRA on a GPU, {data['parameters'] / 1e6:.0f}M parameters: at least 20 x "
                     f"{GPU_BASELINE_TOKENS_PER_SECOND} real tok/s", f"{rate:.0f} ({when})",
                     rate >= 20 * GPU_BASELINE_TOKENS_PER_SECOND))
        trl = [_median(r, "real_tokens_per_second") for name in ("trl_sft", "trl_packing", "trl_best")
               if (r := _row(data, name))]
        if trl:
            rows.append(("LoRA on a GPU: at least 1.5 x TRL's best", f"{rate / max(trl):.2f}x ({when})",
                         rate >= 1.5 * max(trl)))
            if compiled := _row(data, "ours_compiled"):
                rows.append(compiled_row(compiled, max(trl), data.get("compile_seconds"), when))
    larger = data.get("larger_model")
    larger_ours = _row(larger, "ours") if larger else None
    larger_compiled = _row(larger, "ours_compiled") if larger else None
    if larger_ours:
        share = _median(larger_ours, "utilisation_percent_6N")
        target = f"LoRA on a GPU, {larger['parameters'] / 1e6:.0f}M parameters: at least 40% of the bf16 rate"
        if larger_compiled:  # the advisor compiles where the budget repays it: the training whose speed matters
            compiled_share = _median(larger_compiled, "utilisation_percent_6N")
            rows.append((target + " (layers compiled, as the advisor trains when the budget repays it)",
                         f"{compiled_share:.0f}% ({when})", compiled_share >= 40))
            rows.append((target + ", uncompiled (budgets too short to repay the compilation)",
                         f"{share:.0f}% ({when})", None))
        else:
            rows.append((target, f"{share:.0f}% ({when})", share >= 40))
        trl = [_median(r, "real_tokens_per_second") for r in larger["rows"] if r["name"].startswith("trl") and "figures" in r]
        if trl:
            rate = _median(larger_ours, "real_tokens_per_second")
            rows.append((f"LoRA on a GPU, {larger['parameters'] / 1e6:.0f}M parameters: at least 1.5 x TRL's best",
                         f"{rate / max(trl):.2f}x ({when})", rate >= 1.5 * max(trl)))
    else:
        rows.append(("LoRA on a GPU, a model 10 times larger: at least 40% of the bf16 rate",
                     f"not measured ({when} has no larger-model rows)", None))
    return rows


def compiled_row(compiled: dict, trl: float, compile_seconds: float | None, when: str) -> tuple[str, str, bool]:
    """The target row of ours with its decoder layers compiled, against TRL's best `trl` real tokens/s."""
    rate = _median(compiled, "real_tokens_per_second")
    paid = f"; compiling took {compile_seconds:.0f} s once" if compile_seconds is not None else ""
    return ("LoRA on a GPU, layers compiled (where the budget repays it): at least 1.5 x TRL's best",
            f"{rate:.0f} real tok/s, {rate / trl:.2f}x{paid} ({when})", rate >= 1.5 * trl)


def gpu_answering() -> list[tuple[str, str, bool | None]]:
    """Answering on the latest GPU run beside the CPU's, at the advisor's batch (ANSWER_BATCH: 8)."""
    paths = sorted(RESULTS.glob("answering-cuda-*.json"))
    if not paths:
        return [("Answering on a GPU (issue 25)", "no device run committed", None)]
    gpu = json.loads(paths[-1].read_text())
    cpu = _load("answering") or {}
    when = f"{gpu['machine'].get('gpu', 'GPU')}, {measured_on(paths[-1], gpu)}, {paths[-1].name}"
    differ = {row["prompts"]: row for row in gpu.get("bf16_against_fp32", {}).get("rows", [])}
    rows = []
    for row in gpu["rows"]:
        if row["mode"] != "batch 8":
            continue
        on_cpu = next((r for r in cpu.get("rows", []) if r["prompts"] == row["prompts"] and r["mode"] == "batch 8"),
                      None)
        rate = row["figures"]["answers_per_second"]["median"]
        beside = f" against the CPU's {on_cpu['figures']['answers_per_second']['median']:.2f}" if on_cpu else ""
        bf16 = differ.get(row["prompts"])
        bf16_text = (f"; in bf16 {bf16['bf16_answers_per_second']:.1f}/s, {bf16['bf16_answers_that_differ']} of "
                     f"{bf16['answers']} answers differ from fp32's" if bf16 else "")
        random = " (random weights: answers/s only)" if "random" in gpu.get("weights_note", "") else ""
        rows.append((f"Answering on a GPU ({row['prompts']}): batched, answers/s beside the CPU's",
                     f"{rate:.1f} answers/s at batch 8{beside} "
                     f"({row['figures']['ratio_to_one_at_a_time']['median']:.1f}x "
                     f"one at a time, {row['figures']['differ']['max']:.0f} differ){bf16_text}{random} ({when})",
                     row["figures"]["differ"]["max"] == 0))
    return rows


def targets() -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target the issues set; None where it was not measured (or cannot be)."""
    rows: list[tuple[str, str, bool | None]] = []
    lora = _load("lora_training") or _load("lora_training", "cpu-bf16")
    if lora and (row := lora_cpu_target(lora)):
        rows.append(row)
    answering = _load("answering")
    for row in (answering or {}).get("rows", []):
        if row["mode"] == "batch 8":
            ratio, differ = row["figures"]["ratio_to_one_at_a_time"]["median"], row["figures"]["differ"]["max"]
            rows.append((f"Answering ({row['prompts']}): batch 8 at least 3x one at a time, same answers",
                         f"{ratio:.2f}x, {differ:.0f} differ", ratio >= 3 and differ == 0))
    breakdown = (answering or {}).get("where_the_time_goes")
    if breakdown:
        best = max(breakdown["rows"], key=lambda row: row["answers_per_second"])
        rows.append(("Answering with passages: where the time goes (prefill is matrix-bound: batching cannot shrink it)",
                     f"best batch {best['batch']}: {best['ratio_to_batch_1']:.2f}x one at a time; prefill "
                     f"{100 * best['prefill_share']:.0f}% of the time at {100 * best['prefill_share_of_matrix_rate']:.0f}% "
                     f"of the fp32 matrix rate; ceiling were decoding free "
                     f"{best['ceiling_ratio_if_decoding_were_free']:.2f}x", None))
    for row in (answering or {}).get("likelihoods", []):
        rows.append((f"Likelihoods ({row['prompts']}): batched, the same values",
                     f"{row['ratio']['median']:.2f}x, largest difference {row['max_abs_difference']:.1e}",
                     row["max_abs_difference"] < 1e-3))
        if "after_answers_per_second" in row:  # from the answers' cache, as the advisor scores them
            rows.append((f"Likelihoods ({row['prompts']}): after the answers, faster than batched, the same values",
                         f"{row['after_answers_ratio_to_batch_8']['median']:.1f}x batched, largest difference "
                         f"{row['after_answers_max_abs_difference']:.1e}",
                         row["after_answers_ratio_to_batch_8"]["median"] > 1
                         and row["after_answers_max_abs_difference"] < 1e-3))
    whole = _load("whole_run")
    for name, case in (whole or {}).get("corpora", {}).items():
        limit = case["targets"]["seconds"]
        rows.append((f"Whole quick run ({name} corpus): at most {limit / 60:.0f} minutes", f"{case['seconds']:.0f} s",
                     case["targets"]["seconds_met"]))
        rows.append((f"Whole quick run ({name} corpus): peak memory under {case['targets']['peak_gib']:g} GiB",
                     f"{case['peak_gib']:.2f} GiB", case["targets"]["peak_met"]))
    profiling = _load("profiling")
    largest = max((profiling or {}).get("rows", []), key=lambda row: row["megabytes"], default=None)
    if largest:
        # Bounded: the process's peak (corpus text included) stays under 1 GiB however large the corpus.
        rows.append((f"Profile of a {largest['megabytes']:g} MB corpus in bounded memory (under 1 GiB; issue 12)",
                     f"{largest['parts_seconds']['whole profile']:.0f} s, peak {largest['peak_rss_gib']:.2f} GiB",
                     largest["peak_rss_gib"] < 1.0))
    indexing = _load("indexing")
    if indexing:
        worst = max(row["ratio"]["median"] for row in indexing["rows"])
        met = indexing["targets"]
        rows.append(("Indexing within 1.10x of the raw floor", f"{worst:.2f}x at worst ({', '.join(str(r['chunks']) for r in indexing['rows'])} chunks)",
                     met["build_ratio_met"]))
        rows.append(("Indexing time linear in size (exponent <= 1.1)", f"{indexing['exponent']:.2f}", met["exponent_met"]))
        rows.append(("1% new documents cost at most 5% of a full build", f"{100 * indexing['update']['share']:.1f}%",
                     met["update_met"]))
        rows.append(("Retrieval p50 within 1.2x of the raw path", f"{indexing['retrieval']['ratio_p50']:.2f}x, same hits "
                     f"{indexing['retrieval']['same_hits']}/{indexing['retrieval']['queries']}", met["retrieval_met"]))
    return rows + gpu_targets() + gpu_answering()


def status(met: bool | None) -> str:
    return "met" if met else "see figure" if met is None else "NOT MET"


def markdown_table(rows: list[tuple[str, str, bool | None]]) -> str:
    """The targets as the README's table: every figure read from the committed JSON."""
    lines = ["| target | measured | |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {status(met)} |" for target, measured, met in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    chosen = list(argv if argv is not None else sys.argv[1:]) or list(SCRIPTS)
    if chosen in (["--summary"], ["--markdown"]):  # no benchmark run: the committed results only
        rows = targets()
        print(markdown_table(rows) if chosen == ["--markdown"] else
              "\n".join(f"[{status(met)}] {target}: {measured}" for target, measured, met in rows))
        return 0
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}, or --summary or "
              "--markdown alone for the committed results' targets", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        started = time.perf_counter()
        print(f"== benchmarks.{name}", flush=True)
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"])
        print(f"== benchmarks.{name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    print("\nTargets (CPU rows from benchmarks/results/*-cpu.json, GPU rows from the latest device run):")
    for target, measured, met in targets():
        print(f"  [{status(met)}] {target}: {measured}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
