"""The load stage: the corpus, the --qa file and the reference text, read and checked before anything slow."""

from __future__ import annotations

import time
from dataclasses import dataclass

from advisor.corpus.loading import Corpus, load_corpus
from advisor.corpus.profile import SHIPPED_REFERENCE_TEXT, reference_paragraphs
from advisor.corpus.qa import QAPair, load_qa
from advisor.stages.context import RunContext, log


@dataclass(frozen=True)
class Inputs:
    corpus: Corpus
    pairs: list[QAPair] | None  # the --qa file's pairs, or None
    reference: list[str]  # the reference text's paragraphs, for measuring forgetting (none with --no-forgetting)


def load_inputs(ctx: RunContext) -> Inputs:
    ctx.progress("load", 0, 1)
    shown = time.perf_counter()

    def on_file(done: int, total: int) -> None:  # twice a second at most: a folder may hold thousands of files
        nonlocal shown
        if time.perf_counter() - shown >= 0.5:
            shown = time.perf_counter()
            ctx.progress("load", done, total, f"{done:,} of {total:,} files read")

    corpus = load_corpus(ctx.config.corpus, on_file)
    pairs = load_qa(ctx.config.qa) if ctx.config.qa else None
    reference = reference_paragraphs_of(ctx.config)
    for skipped in corpus.skipped:
        log.warning("skipped %s: %s", skipped.path, skipped.reason)
    ctx.progress("load", 1, 1, f"{len(corpus.documents)} documents, {len(corpus.skipped)} skipped")
    return Inputs(corpus, pairs, reference)


def reference_paragraphs_of(config) -> list[str]:
    """The reference text's paragraphs: the user's, else the shipped general text; none with --no-forgetting."""
    if not config.forgetting:
        return []
    return reference_paragraphs(config.reference_text or SHIPPED_REFERENCE_TEXT)
