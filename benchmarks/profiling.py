"""Profiling a corpus at growing sizes: seconds per part of the profile, and peak memory, each size in its own process.

`python -m benchmarks.profiling [--sizes-mb 5 20 50]` writes synthetic corpora made from the ferry sample's
words (documents of 500 to 3,000 words, a third of the words shuffled in, so nothing is an exact copy),
profiles each with the default base model's tokenizer in a fresh process (so each peak is its own), and
prints a table: the whole profile and its parts (loading, near duplicates, personal data, freshness,
style and tokens on the sample), with the peak resident memory. Writes benchmarks/results/profiling-cpu.json.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import SAMPLE, progress, save_results


def write_corpus(folder: Path, megabytes: float, seed: int = 0) -> int:
    from advisor.corpus.loading import load_corpus

    words = " ".join(d.text for d in load_corpus(SAMPLE / "corpus").documents).split()
    rng, total, index = random.Random(seed), 0, 0
    while total < megabytes * 1e6:
        n = rng.randint(500, 3000)
        start = rng.randint(0, len(words) - 1)
        chosen = [rng.choice(words) if rng.random() < 0.3 else words[(start + i) % len(words)] for i in range(n)]
        text = "\n\n".join(" ".join(chosen[i:i + 80]) + "." for i in range(0, n, 80))
        (folder / f"doc{index:05d}.md").write_text(text, encoding="utf-8")
        total, index = total + len(text), index + 1
    return index


def measure(folder: str) -> dict:
    """In this process: each part of the profile timed, then the whole, and the peak resident memory."""
    from transformers import AutoTokenizer

    from advisor.config import DEFAULT_BASE_MODEL
    from advisor.corpus import profile as profiling
    from advisor.corpus.freshness import freshness
    from advisor.corpus.loading import load_corpus
    from advisor.corpus.personal_data import find_personal_data
    from advisor.corpus.style import style_signals
    from advisor.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_BASE_MODEL).path)
    parts = {}

    def timed(name, work):
        start = time.perf_counter()
        result = work()
        parts[name] = time.perf_counter() - start
        return result

    documents = timed("load", lambda: load_corpus(folder).documents)
    sample, _ = profiling.sample_documents(documents)
    timed("near duplicates", lambda: profiling.near_duplicates(documents))
    timed("personal data", lambda: find_personal_data(documents))
    timed("freshness", lambda: freshness(documents))
    timed("style (sample)", lambda: style_signals([d.text for d in sample]))
    timed("tokens (sample)", lambda: profiling.token_counts(tokenizer, [d.text for d in sample]))
    profile = timed("whole profile", lambda: profiling.profile_documents(documents, tokenizer))
    return {"parts_seconds": parts, "documents": len(documents), "characters": profile.characters,
            "sampled": profile.sampled, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[5, 20, 50])
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: profile this folder, print JSON
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = []
    started = time.perf_counter()
    for size in args.sizes_mb:
        with tempfile.TemporaryDirectory(prefix="profiling-") as folder:
            files = write_corpus(Path(folder), size)
            progress(f"{size:g} MB: {files} files; profiling")
            out = subprocess.run([sys.executable, "-m", "benchmarks.profiling", "--measure", folder],
                                 capture_output=True, text=True, check=True)
            rows.append({"megabytes": size, "files": files, **json.loads(out.stdout.strip().splitlines()[-1])})
    names = list(rows[0]["parts_seconds"])
    print("| size | " + " | ".join(names) + " | peak memory |")
    print("|---" * (len(names) + 2) + "|")
    for row in rows:
        print(f"| {row['megabytes']:g} MB ({row['files']} files) | "
              + " | ".join(f"{row['parts_seconds'][n]:.1f} s" for n in names) + f" | {row['peak_rss_gib']:.2f} GiB |")
    save_results({"rows": rows, "seconds": time.perf_counter() - started,
                  "note": "whole profile = every part again in one call (the parts above are timed one by one); "
                          "peak memory is the process's, corpus text included"}, "profiling", "cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
