"""`python -m benchmarks`: every speed benchmark in turn, each in its own process, then the targets met or not.

Each script also runs alone (`python -m benchmarks.lora_training`, `.answering`, `.indexing`, `.whole_run`, `.profiling`) and writes its
JSON under benchmarks/results/; this runner reads those files back for the summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from benchmarks.common import RESULTS

SCRIPTS = ("lora_training", "answering", "indexing", "whole_run", "profiling")


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}-cpu.json"
    return json.loads(path.read_text()) if path.is_file() else None


def targets() -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target the issue set; None where it was not measured."""
    rows: list[tuple[str, str, bool | None]] = []
    lora = _load("lora_training")
    ours = next((r for r in (lora or {}).get("rows", []) if r["name"] == "ours" and "figures" in r), None)
    if ours:
        share = ours["figures"]["utilisation_percent_6N"]["median"]
        rows.append(("LoRA: at least 50% of the measured bf16 limit (6N FLOP per token)",
                     f"{ours['figures']['real_tokens_per_second']['median']:.0f} real tok/s, {share:.0f}%", share >= 50))
    answering = _load("answering")
    for row in (answering or {}).get("rows", []):
        if row["mode"] == "batch 8":
            ratio, differ = row["figures"]["ratio_to_one_at_a_time"]["median"], row["figures"]["differ"]["max"]
            rows.append((f"Answering ({row['prompts']}): batch 8 at least 3x one at a time, same answers",
                         f"{ratio:.2f}x, {differ:.0f} differ", ratio >= 3 and differ == 0))
    for row in (answering or {}).get("likelihoods", []):
        rows.append((f"Likelihoods ({row['prompts']}): batched, the same values",
                     f"{row['ratio']['median']:.2f}x, largest difference {row['max_abs_difference']:.1e}",
                     row["max_abs_difference"] < 1e-3))
    whole = _load("whole_run")
    if whole:
        rows.append(("Whole quick run: at most 6 minutes", f"{whole['seconds']:.0f} s", whole["targets"]["seconds_met"]))
        rows.append(("Whole quick run: peak memory under 3 GB", f"{whole['peak_gib']:.2f} GiB",
                     whole["targets"]["peak_met"]))
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
    return rows


def main(argv=None) -> int:
    chosen = list(argv if argv is not None else sys.argv[1:]) or list(SCRIPTS)
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        started = time.perf_counter()
        print(f"== benchmarks.{name}", flush=True)
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"])
        print(f"== benchmarks.{name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    print("\nTargets (from benchmarks/results/*-cpu.json):")
    for target, measured, met in targets():
        print(f"  [{'met' if met else 'not measured' if met is None else 'NOT MET'}] {target}: {measured}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
