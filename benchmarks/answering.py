"""Answering throughput: one question at a time against batched generation, with the answers that differ.

`python -m benchmarks.answering [--model PATH] [--questions N] [--repeats N] [--out PATH]` answers the same
questions of the bundled ferry sample greedily, one at a time (`rag.generation.generate`, what the advisor
times for latency) and in batches of 8 and 16 with left padding (`rag.generation.generate_batch`, what it
scores the other answers with), for two kinds of prompt: closed-book (the base model's and the fine-tune's
prompts) and with passages (RAG's: three 128-token passages from each question's source document, standing
in for retrieval so that no index is needed). Modes run interleaved within every repeat after a warm-up;
prints a table and writes benchmarks/results/answering-<device>.json with answers/s, generated tokens/s,
the ratio to one at a time and how many answers differ from one at a time. Then the reference answers'
likelihoods (what the advisor reads as further evidence), scored one at a time, in batches of 8, and as the
advisor scores them, after its batches of 8 answers from the key/value cache their generation left (the scoring
timed alone: the answers are generated anyway), with the largest difference from one at a time. Then where the
time goes with passages: prefill against decoding at batches of 1, 4, 8 and 16, and prefill's rate as a share
of the measured matrix rate. On a CUDA GPU with bf16, last, the answers in bf16 (what the advisor answers in
there) against fp32: answers/s and how many differ.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from advisor.corpus.qa import load_qa
from advisor.measure.evaluate import ANSWER_BATCH
from advisor.corpus.loading import load_corpus
from rag.generation import generate, generate_batch, left_padded
from rag.prompting import build_prompt

from benchmarks.common import (SAMPLE, add_weights_arguments, chosen_weights, load_causal_lm, machine, matrix_rates,
                               progress, quiet_libraries, resolve_device, save_results, spread)

MODES = {"one at a time": None, "batch 8": 8, "batch 16": 16}
PASSAGES, PASSAGE_TOKENS = 3, 128
MAX_NEW_TOKENS = 32  # the advisor's default
BREAKDOWN_BATCHES = (1, 4, 8, 16)


def prompts(tokenizer, count: int) -> dict[str, list[str]]:
    """Closed-book prompts and prompts with passages for the first `count` questions of the sample."""
    pairs = load_qa(SAMPLE / "qa.jsonl")[:count]
    documents = {d.source: d.text for d in load_corpus(SAMPLE / "corpus").documents}

    def passages(source: str) -> list[str]:
        ids = tokenizer(documents.get(source, ""), add_special_tokens=False)["input_ids"]
        return [tokenizer.decode(ids[i:i + PASSAGE_TOKENS]) for i in range(0, PASSAGES * PASSAGE_TOKENS,
                                                                           PASSAGE_TOKENS) if ids[i:i + PASSAGE_TOKENS]]

    return {"closed-book": [build_prompt(tokenizer, p.question) for p in pairs],
            "with passages": [build_prompt(tokenizer, p.question, passages(p.source)) for p in pairs]}


def answer_all(model, tokenizer, texts: list[str], batch: int | None) -> tuple[float, list]:
    start = time.perf_counter()
    if batch is None:
        answers = [generate(model, tokenizer, text, MAX_NEW_TOKENS) for text in texts]
    else:
        answers = [g for i in range(0, len(texts), batch)
                   for g in generate_batch(model, tokenizer, texts[i:i + batch], MAX_NEW_TOKENS)]
    return time.perf_counter() - start, answers


def run(model, tokenizer, prompt_sets: dict[str, list[str]], repeats: int) -> dict:
    """{kind: {mode: [per-repeat {"seconds", "answers", "new_tokens", "differ"}]}}, modes interleaved."""
    for texts in prompt_sets.values():  # warm-up: every mode once on a few prompts
        for batch in MODES.values():
            answer_all(model, tokenizer, texts[:4], batch)
    results: dict = {kind: {mode: [] for mode in MODES} for kind in prompt_sets}
    for repeat in range(repeats):
        for kind, texts in prompt_sets.items():
            reference = None
            for mode, batch in MODES.items():
                seconds, answers = answer_all(model, tokenizer, texts, batch)
                if reference is None:
                    reference = [a.text for a in answers]
                differ = sum(a.text != b for a, b in zip(answers, reference))
                results[kind][mode].append({"seconds": seconds, "answers": len(answers),
                                            "new_tokens": sum(a.new_tokens for a in answers), "differ": differ})
                progress(f"repeat {repeat + 1}/{repeats} {kind}, {mode}: {len(answers) / seconds:.2f} answers/s, "
                         f"{differ} differ")
    return results


def figures(results: dict) -> list[dict]:
    rows = []
    for kind, modes in results.items():
        single = modes["one at a time"]
        for mode, runs in modes.items():
            per_repeat = [{"answers_per_second": r["answers"] / r["seconds"],
                           "generated_tokens_per_second": r["new_tokens"] / r["seconds"],
                           "ratio_to_one_at_a_time": s["seconds"] / r["seconds"], "differ": r["differ"]}
                          for r, s in zip(runs, single)]
            rows.append({"prompts": kind, "mode": mode,
                         "figures": {k: spread([v[k] for v in per_repeat]) for k in per_repeat[0]},
                         "repeats": runs})
    return rows


def bf16_against_fp32(tokenizer, fp32_model, prompt_sets: dict[str, list[str]], device: str,
                      batch: int = ANSWER_BATCH) -> list[dict]:
    """On a GPU with bf16 the advisor answers in bf16 (advisor.models.load_generator): each kind of prompt answered
    in its batches by the model in bf16 (a copy of `fp32_model`'s weights, rounded) and in fp32, interleaved after a
    warm-up, with answers/s each and how many bf16 answers differ from fp32's."""
    import copy

    import torch

    bf16_model = copy.deepcopy(fp32_model).to(device=device, dtype=torch.bfloat16).eval()
    rows = []
    for kind, texts in prompt_sets.items():
        for model in (fp32_model, bf16_model):
            answer_all(model, tokenizer, texts[:batch], batch)
        seconds_fp32, fp32 = answer_all(fp32_model, tokenizer, texts, batch)
        seconds_bf16, bf16 = answer_all(bf16_model, tokenizer, texts, batch)
        differ = sum(a.text != b.text for a, b in zip(bf16, fp32))
        rows.append({"prompts": kind, "batch": batch, "answers": len(texts),
                     "fp32_answers_per_second": len(texts) / seconds_fp32,
                     "bf16_answers_per_second": len(texts) / seconds_bf16, "bf16_answers_that_differ": differ})
        progress(f"{kind}, batch {batch}: bf16 {len(texts) / seconds_bf16:.2f} answers/s against fp32 "
                 f"{len(texts) / seconds_fp32:.2f}; {differ} of {len(texts)} answers differ")
    del bf16_model
    return rows


def likelihoods(model, tokenizer, prompt_sets: dict[str, list[str]], references: list[str], repeats: int) -> list[dict]:
    """Answer log-likelihoods one at a time against in batches of 8 and after batches of 8 answers (the scoring
    alone timed), interleaved, with the largest differences from one at a time."""
    from advisor.measure.likelihood import answer_log_likelihood, answer_log_likelihoods, answer_log_likelihoods_after

    rows = []
    for kind, texts in prompt_sets.items():
        items = list(zip(texts, references))
        answer_log_likelihoods(model, tokenizer, items[:8])  # warm-up
        single_s, batch_s, after_s, gap, after_gap = [], [], [], 0.0, 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            single = [answer_log_likelihood(model, tokenizer, prompt, reference) for prompt, reference in items]
            single_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            batched = [v for i in range(0, len(items), 8) for v in answer_log_likelihoods(model, tokenizer, items[i:i + 8])]
            batch_s.append(time.perf_counter() - start)
            gap = max(gap, max(abs(a - b) for a, b in zip(single, batched)))
            after, seconds = [], 0.0
            for i in range(0, len(items), 8):
                answered = generate_batch(model, tokenizer, texts[i:i + 8], MAX_NEW_TOKENS, keep=True)
                start = time.perf_counter()
                after += answer_log_likelihoods_after(model, tokenizer, answered[0].kept[0], references[i:i + 8])
                seconds += time.perf_counter() - start
            after_s.append(seconds)
            after_gap = max(after_gap, max(abs(a - b) for a, b in zip(single, after)))
        rows.append({"prompts": kind, "items": len(items), "one_at_a_time_per_second": spread([len(items) / t for t in single_s]),
                     "batch_8_per_second": spread([len(items) / t for t in batch_s]),
                     "ratio": spread([a / b for a, b in zip(single_s, batch_s)]), "max_abs_difference": gap,
                     "after_answers_per_second": spread([len(items) / t for t in after_s]),
                     "after_answers_ratio_to_batch_8": spread([a / b for a, b in zip(batch_s, after_s)]),
                     "after_answers_max_abs_difference": after_gap})
        progress(f"likelihoods, {kind}: batch 8 {statistics.median(single_s) / statistics.median(batch_s):.2f}x "
                 f"one at a time, largest difference {gap:.2e}; after the answers "
                 f"{statistics.median(batch_s) / statistics.median(after_s):.1f}x batch 8, largest difference "
                 f"{after_gap:.2e}")
    return rows


def weight_parameters(model) -> int:
    """Parameters of the matrices every prompt token is multiplied by (the embedding lookup is not a product)."""
    return sum(p.numel() for name, p in model.named_parameters() if p.dim() == 2 and "embed" not in name)


def where_time_goes(model, tokenizer, texts: list[str], matrix_rate: float, batches=BREAKDOWN_BATCHES) -> list[dict]:
    """For each batch size, the prompts' prefill (one forward pass over the left-padded batch, building the cache
    and one row of logits each, as generate() begins) against the rest of generate() (decoding, one token a step),
    timed on the same prompts; prefill's rate as a share of the measured fp32 matrix rate (counting 2 FLOP per
    weight per prompt token, padding included, attention left out: a floor on the work done)."""
    import torch

    from rag.prompting import encode_prompt

    weights = weight_parameters(model)
    device = next(model.parameters()).device
    rows = []
    for batch in batches:
        prefill = total = 0.0
        tokens = steps = new_tokens = 0
        for i in range(0, len(texts), batch):
            group = texts[i:i + batch]
            ids, mask = left_padded(tokenizer, [encode_prompt(tokenizer, text) for text in group], device)
            start = time.perf_counter()
            with torch.no_grad():
                model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
            prefill += time.perf_counter() - start
            start = time.perf_counter()
            answers = generate_batch(model, tokenizer, group, MAX_NEW_TOKENS)
            total += time.perf_counter() - start
            tokens += ids.numel()
            steps += max(a.new_tokens for a in answers)
            new_tokens += sum(a.new_tokens for a in answers)
        decode = max(0.0, total - prefill)
        rate = 2 * weights * tokens / prefill
        rows.append({"batch": batch, "answers_per_second": len(texts) / total, "seconds": total,
                     "prefill_seconds": prefill, "decode_seconds": decode, "prefill_share": prefill / total,
                     "prompt_tokens": tokens, "prefill_tokens_per_second": tokens / prefill,
                     "prefill_flops": rate, "prefill_share_of_matrix_rate": rate / matrix_rate,
                     "decode_steps": steps, "decode_ms_per_step": 1000 * decode / steps if steps else 0.0,
                     "decode_ms_per_token": 1000 * decode / new_tokens if new_tokens else 0.0})
        progress(f"where the time goes, batch {batch}: prefill {prefill:.1f} s ({100 * prefill / total:.0f}%, "
                 f"{100 * rate / matrix_rate:.0f}% of the matrix rate), decode {decode:.1f} s")
    one = rows[0]
    for row in rows:
        row["ratio_to_batch_1"] = one["seconds"] / row["seconds"]
        # Were decoding free at this batch size, answering could go no faster than its prefill allows.
        row["ceiling_ratio_if_decoding_were_free"] = one["seconds"] / row["prefill_seconds"]
    return rows


def print_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Answering on {report['device']}: {report['questions']} questions, "
                        f"{report['repeats']} repeat(s), medians (min-max)", title_justify="left")
    for header in ("prompts", "mode", "answers/s", "generated tok/s", "x one at a time", "answers that differ"):
        table.add_column(header, justify="left" if header in ("prompts", "mode") else "right")
    for row in report["rows"]:
        f = row["figures"]
        table.add_row(row["prompts"], row["mode"],
                      f"{f['answers_per_second']['median']:.2f} ({f['answers_per_second']['min']:.2f}-"
                      f"{f['answers_per_second']['max']:.2f})",
                      f"{f['generated_tokens_per_second']['median']:.1f}",
                      f"{f['ratio_to_one_at_a_time']['median']:.2f}", f"{f['differ']['max']:.0f}")
    Console(width=140).print(table)
    print(f"weights: {report['weights']} ({report.get('weights_note', 'pretrained weights')}); prompt tokens (mean): " + ", ".join(
        f"{kind} {tokens:.0f}" for kind, tokens in report["prompt_tokens_mean"].items()))
    breakdown = report.get("where_the_time_goes")
    if breakdown:
        table = Table(title=f"Where the time goes, with passages ({breakdown['prompts']} prompts; fp32 matrix rate "
                            f"{breakdown['matrix_flops_fp32'] / 1e9:.0f} GFLOP/s)", title_justify="left")
        for header in ("batch", "answers/s", "x batch 1", "prefill s", "prefill share", "prefill tok/s",
                       "prefill % of matrix rate", "decode ms/step", "decode ms/token", "ceiling if decoding free"):
            table.add_column(header, justify="right")
        for row in breakdown["rows"]:
            table.add_row(str(row["batch"]), f"{row['answers_per_second']:.2f}", f"{row['ratio_to_batch_1']:.2f}",
                          f"{row['prefill_seconds']:.1f}", f"{100 * row['prefill_share']:.0f}%",
                          f"{row['prefill_tokens_per_second']:.0f}", f"{100 * row['prefill_share_of_matrix_rate']:.0f}%",
                          f"{row['decode_ms_per_step']:.0f}", f"{row['decode_ms_per_token']:.1f}",
                          f"{row['ceiling_ratio_if_decoding_were_free']:.2f}x")
        Console(width=160).print(table)
        best = max(breakdown["rows"], key=lambda row: row["answers_per_second"])
        print(f"best batch with passages: {best['batch']} ({best['ratio_to_batch_1']:.2f}x one at a time); prefill runs "
              f"at {100 * best['prefill_share_of_matrix_rate']:.0f}% of the matrix rate there, and takes "
              f"{100 * best['prefill_share']:.0f}% of the time")
    for row in report.get("bf16_against_fp32", {}).get("rows", []):
        print(f"bf16 (the advisor's on this GPU), {row['prompts']}, batch {row['batch']}: "
              f"{row['bf16_answers_per_second']:.2f} answers/s against fp32 {row['fp32_answers_per_second']:.2f}; "
              f"{row['bf16_answers_that_differ']} of {row['answers']} answers differ from fp32's")
    for row in report.get("likelihoods", []):
        print(f"answer likelihoods, {row['prompts']}: batch 8 {row['ratio']['median']:.2f}x one at a time "
              f"({row['batch_8_per_second']['median']:.1f} against {row['one_at_a_time_per_second']['median']:.1f} "
              f"items/s), largest difference {row['max_abs_difference']:.1e}")
        if "after_answers_per_second" in row:
            print(f"answer likelihoods, {row['prompts']}, after the answers (what the advisor does): "
                  f"{row['after_answers_ratio_to_batch_8']['median']:.1f}x batch 8 "
                  f"({row['after_answers_per_second']['median']:.1f} items/s), largest difference from one at a "
                  f"time {row['after_answers_max_abs_difference']:.1e}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.answering", description=__doc__.splitlines()[0])
    add_weights_arguments(parser, " (answers/s only: their answers, and how many differ, say nothing of a trained "
                                  "model's)")
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    import torch
    from transformers import AutoTokenizer

    quiet_libraries()
    device = resolve_device(args.device)
    weights = chosen_weights(args)
    path = weights.path
    progress(f"loading {path} ({weights.note}) on {device}")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = load_causal_lm(weights, device, torch.float32).eval()
    prompt_sets = prompts(tokenizer, args.questions)
    started = time.perf_counter()
    report = {"benchmark": "answering", "device": device, "machine": machine(device), "weights": path,
              "weights_note": weights.note, "questions": args.questions, "repeats": args.repeats,
              "max_new_tokens": MAX_NEW_TOKENS,
              "passages": f"{PASSAGES} x {PASSAGE_TOKENS} tokens of each question's source document",
              "prompt_tokens_mean": {kind: statistics.mean(len(tokenizer(t)["input_ids"]) for t in texts)
                                     for kind, texts in prompt_sets.items()}, "complete": False}

    def part_done(**figures) -> None:
        """Each part's figures written as soon as they are measured: a run cut short (a device's time limit)
        keeps the parts it finished, and says it is not complete."""
        report.update(figures, seconds=time.perf_counter() - started)
        save_results(report, "answering", device, args.out)

    part_done(rows=figures(run(model, tokenizer, prompt_sets, args.repeats)))
    references = [pair.answer for pair in load_qa(SAMPLE / "qa.jsonl")[:args.questions]]
    part_done(likelihoods=likelihoods(model, tokenizer, prompt_sets, references, 1))  # one repeat: the suite's 20 minutes
    progress("timing matrix multiplies, then prefill and decoding apart")
    rate = matrix_rates(device)["fp32"]  # the advisor answers in fp32
    part_done(where_the_time_goes={"prompts": "with passages", "matrix_flops_fp32": rate,
                                   "weight_parameters": weight_parameters(model),
                                   "rows": where_time_goes(model, tokenizer, prompt_sets["with passages"], rate)})
    if device == "cuda" and torch.cuda.is_bf16_supported():
        progress("answering in bf16, as the advisor does on this GPU, against fp32")
        precision = {"rows": bf16_against_fp32(tokenizer, model, prompt_sets, device)}
    else:
        precision = {"skipped": "the advisor answers in fp32 here: bf16 only on a CUDA GPU that supports it"}
    report["complete"] = True
    part_done(bf16_against_fp32=precision)
    print_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
