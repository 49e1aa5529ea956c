"""The tuned-embeddings stage: the embedding model trained on training-side (question-like text, passage) pairs,
and the training documents indexed again with it in a collection of their own."""

from __future__ import annotations

import random
from dataclasses import dataclass

from advisor.cache import documents_fingerprint, fingerprint, model_fingerprint
from advisor.corpus.evalset import EvalSet
from advisor.files import write_json
from advisor.stages.context import RunContext
from advisor.stages.index import BuiltIndex
from advisor.stages.models import LoadedModels
from finetune.embedding_tuning import CHECKED_PAIRS, EPOCHS, MAX_PAIRS

# Retrieval has room to improve below this share of training-side questions whose passage is in the top-k:
# with --tune-embeddings auto, the arm is measured only then.
ROOM_TO_IMPROVE = 0.95


@dataclass(frozen=True)
class TunedIndex(BuiltIndex):
    """The training documents indexed with the tuned embedding model: what the arm retrieves from, what it cost."""

    def note(self, config) -> str:
        stats = self.stats
        stopped = ", stopped by its budget" if stats["stopped_by_budget"] else ""
        return (f"the embedding model tuned on {stats['pairs']:,} training-side question/passage pairs in "
                f"{stats['steps']} steps ({stats['train_seconds']:.1f} s{stopped}); a training-side question's "
                f"passage among the top {config.top_k}: {stats['train_side_hit_rate']:.2f} before, "
                f"{stats['train_side_hit_rate_after']:.2f} after; {stats['chunks']} chunks re-embedded with it in "
                f"{stats['index_seconds']:.1f} s")


def retrieval_pairs(evalset: EvalSet, chunks, seed: int) -> list[tuple[str, str]]:
    """(query, passage) pairs from the training side only: each training QA pair's question with the chunk
    holding its answer, and each training-side fact's fill-in-the-blank (augment's forms, worded unlike the
    probes and leaving out every held-out item) with the chunk holding its sentence; at most MAX_PAIRS (a seeded
    sample of the facts)."""
    from collections import defaultdict

    from advisor.corpus.augment import augment
    from advisor.corpus.qa import normalize_answer

    folded = [normalize_answer(chunk.text) for chunk in chunks]
    holders = defaultdict(set)  # word -> the chunks it is in: a text is looked for only where its rarest word is
    for index, words in enumerate(folded):
        for word in set(words.split()):
            holders[word].add(index)

    def holding(text: str, source: str | None = None) -> str | None:
        wanted = normalize_answer(text)
        if not wanted:
            return None
        rarest = min((holders.get(word, set()) for word in wanted.split()), key=len)
        found = [chunks[index] for index in sorted(rarest) if wanted in folded[index]]
        preferred = [chunk for chunk in found if chunk.source == source] or found
        return preferred[0].text if preferred else None

    pairs = []
    for pair in evalset.train_pairs:
        passage = holding(pair.answer, pair.source)
        if passage:
            pairs.append((pair.question, passage))
    forms = [form for form in augment(evalset.train_documents, evalset.held_out_pairs, seed).pairs if form.form == "cloze"]
    if len(forms) > MAX_PAIRS:
        forms = random.Random(seed).sample(forms, MAX_PAIRS)
    for form in forms:
        passage = holding(form.sentence)
        if passage:
            pairs.append((form.prompt, passage))
    return list(dict.fromkeys(pairs))[:MAX_PAIRS]


def train_side_hit_rate(retriever, pairs: list[tuple[str, str]], seed: int) -> float:
    """The share of (a seeded sample of) training-side pairs whose passage the retriever puts in its top-k."""
    sample = pairs if len(pairs) <= CHECKED_PAIRS else random.Random(seed).sample(pairs, CHECKED_PAIRS)
    if not sample:
        return 1.0
    found = sum(passage in {hit.text for hit in retriever.retrieve(query)[0]} for query, passage in sample)
    return found / len(sample)


def tuned_index_stage(ctx: RunContext, evalset: EvalSet, models: LoadedModels, index: BuiltIndex,
                      client) -> tuple[TunedIndex | None, str]:
    """The tuned index, or None and why not: --tune-embeddings never, retrieval already finds the training-side
    passages (auto), too few pairs, or the training libraries missing. Reused when its inputs are unchanged."""
    from finetune.train import uses_bf16
    from finetune.embedding_tuning import TuningUnavailable, tune_embedder
    from rag.retrieval import Retriever, build_index

    cfg = ctx.config
    ctx.progress("embeddings", 0, None, "making training-side question/passage pairs")
    chunk_size, overlap = index.stats["chunk_size"], index.stats["overlap"]
    chunks = index.chunks  # the plain index's, which the tuned one holds too
    pairs = retrieval_pairs(evalset, list(chunks), cfg.seed)
    before = train_side_hit_rate(index.retriever, pairs, cfg.seed)
    if cfg.tune_embeddings == "auto" and before >= ROOM_TO_IMPROVE:
        return None, (f"retrieval already finds the passage for {before:.0%} of training-side questions "
                      f"(at least {ROOM_TO_IMPROVE:.0%}); --tune-embeddings always measures it anyway")
    model_dir = ctx.run_dir / "embeddings"
    key = fingerprint(model_fingerprint(models.embedding.path), documents_fingerprint(evalset.train_documents),
                      pairs, cfg.embedding_budget_minutes, cfg.seed, cfg.precision, chunk_size, overlap, cfg.chroma_url,
                      str(ctx.run_dir.resolve()) if cfg.chroma_url else None)
    cached = ctx.cache.get("embeddings", key)
    if cached is not None and (model_dir / "config.json").is_file():
        from sentence_transformers import SentenceTransformer

        tuned = SentenceTransformer(str(model_dir), device=models.device)
        stats = cached
        ctx.progress("embeddings", 1, 1, "reused from an earlier run")
    else:
        try:
            tuned, training = tune_embedder(
                models.embedder, pairs, model_dir, budget_seconds=cfg.embedding_budget_minutes * 60,
                epochs=EPOCHS, seed=cfg.seed,
                # all-MiniLM-L6-v2 (23M parameters): 2.5 against 3.4 s a step of 32 pairs in bf16 on the 2-core AMX CPU
                bf16=uses_bf16(cfg.precision, models.device, sum(p.numel() for p in models.embedder.parameters())),
                on_step=lambda step, planned, loss: ctx.progress("embeddings", step, planned, loss=loss))
        except TuningUnavailable as exc:
            return None, str(exc)
        stats = {"pairs": training.pairs, "steps": training.steps, "planned_steps": training.planned_steps,
                 "train_seconds": training.seconds, "stopped_by_budget": training.stopped_by_budget,
                 "batch_size": training.batch_size, "losses": training.losses, "train_side_hit_rate": before}
        write_json(ctx.run_dir / "embedding_training.json", stats)
    ctx.progress("embeddings", 0, len(chunks), "indexing the training documents with the tuned embeddings")
    collection, _, built = build_index(evalset.train_documents, tuned, client, chunk_size=chunk_size,
                                       chunk_overlap=overlap, collection_name=f"advisor-tuned-{key[:16]}",
                                       about={"embedding_model": f"{models.embedding.name} (tuned, {key[:8]})"},
                                       on_batch=lambda done, total: ctx.progress("embeddings", done, total))
    retriever = Retriever(tuned, collection, cfg.top_k)
    if "index_seconds" not in stats:  # the first build's time is the one-off cost, a reused index's too
        stats = {**stats, "index_seconds": built.seconds, "chunks": built.chunks,
                 "train_side_hit_rate_after": train_side_hit_rate(retriever, pairs, cfg.seed)}
        ctx.cache.put("embeddings", key, stats)
    stats = {**stats, "seconds": stats["train_seconds"] + stats["index_seconds"], "chunk_size": chunk_size,
             "overlap": overlap}
    ctx.progress("embeddings", stats["chunks"], stats["chunks"],
                 f"hit rate on training-side questions {before:.2f} -> {stats['train_side_hit_rate_after']:.2f}",
                 result=stats)
    return TunedIndex(retriever, stats, fingerprint(key, cfg.top_k)), ""

