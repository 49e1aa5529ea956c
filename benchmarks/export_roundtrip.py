"""`advisor export` checked on a real run: does the exported fine-tune answer as the measured arm did?

`python -m benchmarks.export_roundtrip --run RUN_DIR [--arm finetune] [--questions 10] [--types f32,f16,q8_0]`:
exports the run's tuned arm as merged safetensors and as GGUF files of each type (llama.cpp's converter), reads
each back through transformers (the GGUF ones through its GGUF loader), answers the first held-out questions the
way the run did (its prompt, greedy, first line) and counts the answers equal to the arm's in report.json. Prints
a table (format, file size, export seconds, answers equal) and writes benchmarks/results/export_roundtrip-cpu.json.
`make demo`'s run (runs/demo/run) is the usual one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, progress, quiet_libraries, save_results


def answers_equal(model, tokenizer, samples: list[dict], max_new_tokens: int) -> int:
    from advisor.measure.metrics import first_line
    from rag.generation import generate
    from rag.prompting import build_prompt

    return sum(first_line(generate(model, tokenizer, build_prompt(tokenizer, sample["question"]),
                                   max_new_tokens).text) == sample["answer"] for sample in samples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished run's folder with a fine-tune")
    parser.add_argument("--arm", default="finetune")
    parser.add_argument("--questions", type=int, default=10, help="held-out questions answered per format")
    parser.add_argument("--types", default="f32,f16,q8_0", help="GGUF types, comma-separated")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    quiet_libraries()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from advisor.export import export_run

    run = Path(args.run)
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    samples = report["arms"][args.arm]["details"]["samples"][:args.questions]  # answered one at a time in the run
    max_new_tokens = report["config"].get("max_new_tokens", 32)
    rows, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        formats = [("hf", None)] + [("gguf", kind) for kind in args.types.split(",") if kind]
        for target, kind in formats:
            progress(f"exporting {target} {kind or ''}")
            t0 = time.perf_counter()
            exported = export_run(run, target, Path(scratch) / f"{target}-{kind}", arm=args.arm,
                                  gguf_type=kind or "f16")
            seconds = time.perf_counter() - t0
            if target == "hf":
                folder = exported.folder / "model"
                model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
                tokenizer = AutoTokenizer.from_pretrained(folder)
                size = sum(path.stat().st_size for path in folder.glob("*.safetensors"))
            else:
                model = AutoModelForCausalLM.from_pretrained(exported.folder, gguf_file="model.gguf",
                                                             dtype=torch.float32)
                tokenizer = AutoTokenizer.from_pretrained(exported.folder, gguf_file="model.gguf")
                size = (exported.folder / "model.gguf").stat().st_size
            progress(f"answering {len(samples)} questions")
            same = answers_equal(model, tokenizer, samples, max_new_tokens)
            rows.append({"format": f"{target} {kind or 'float32'}".strip(), "megabytes": size / 1e6,
                         "export_seconds": seconds, "answers_equal": same, "questions": len(samples)})
            del model
    print(f"{'format':<12} {'MB':>8} {'export s':>9} {'answers as the arm':>19}")
    for row in rows:
        print(f"{row['format']:<12} {row['megabytes']:>8.0f} {row['export_seconds']:>9.1f} "
              f"{row['answers_equal']:>12} of {row['questions']}")
    save_results({"run": str(run), "arm": args.arm, "base_model": report["config"].get("base_model"), "rows": rows,
                  "machine": machine("cpu"), "seconds": time.perf_counter() - started},
                 "export_roundtrip", "cpu", args.out)


if __name__ == "__main__":
    main()
