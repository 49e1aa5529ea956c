"""The index stage: the training documents split, embedded and stored in Chroma, reused when unchanged."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from advisor.cache import documents_fingerprint, fingerprint, model_fingerprint
from advisor.corpus.evalset import EvalSet
from advisor.errors import VectorStoreError
from advisor.stages.context import RunContext
from advisor.stages.models import LoadedModels

log = logging.getLogger("advisor")
# Read here, never written to config.json: a secret has no place in a run folder that people share.
CHROMA_TOKEN_VARIABLE = "ADVISOR_CHROMA_TOKEN"


@dataclass(frozen=True)
class BuiltIndex:
    retriever: object  # rag.retrieval.Retriever over the training documents
    stats: dict  # chunks, seconds, chunk_size, overlap
    key: str  # what retrieved passages depend on
    chunks: tuple = ()  # rag.splitting.Chunk: the training documents as the index holds them

    def note(self, config) -> str:
        """What the retrieving arms retrieve from, and what the index cost."""
        stats = self.stats
        built = (f"index built in {stats['seconds']:.1f} s" if not stats.get("kept") else
                 f"index updated in {stats['update_seconds']:.1f} s ({stats['added']} new chunk(s), "
                 f"{stats['deleted']} removed, {stats['kept']} kept; a full build, which the one-off cost counts, "
                 f"takes about {stats['seconds']:.1f} s)")
        where = f"Chroma server {config.chroma_url}" if config.chroma_url else "embedded Chroma in the run folder"
        return (f"top-{config.top_k} of {stats['chunks']} chunks ({stats['chunk_size']} embedding tokens each, "
                f"overlap {stats['overlap']}); {built} ({where})")


def open_store(ctx: RunContext):
    """The run's Chroma client (run_store)."""
    return run_store(ctx.run_dir, ctx.config.chroma_url)


def run_store(run_dir: Path, url: str | None):
    """The Chroma client of a run: embedded in its folder, or the server at `url` (--chroma-url)."""
    return chroma_client(run_dir / "index", url)


def chroma_client(path: Path, url: str | None):
    """The Chroma client: embedded in `path`, or the server at `url`, asked to answer as a Chroma server this
    client can talk to (with the token in $ADVISOR_CHROMA_TOKEN, if set)."""
    from rag.store import StoreIncompatible, StoreRefused, StoreUnavailable, open_client

    token = os.environ.get(CHROMA_TOKEN_VARIABLE) or None  # the embedded store takes none
    try:
        return open_client(path=str(path), url=url, token=token)
    except StoreRefused as exc:
        hint = (f"check the token in {CHROMA_TOKEN_VARIABLE}" if exc.token_given else
                f"set {CHROMA_TOKEN_VARIABLE} to the server's token")
        raise VectorStoreError(str(exc), hint=hint) from None
    except StoreIncompatible as exc:
        major = exc.client_version.split(".")[0]
        hint = (f"start a Chroma {major}.x server with: chroma run --path DIR; or leave out --chroma-url"
                if exc.server_version else
                "check the URL and port; chroma run --path DIR --port PORT starts a Chroma server")
        raise VectorStoreError(str(exc), hint=hint) from None
    except StoreUnavailable as exc:
        raise VectorStoreError(str(exc), hint="start one with: chroma run --path DIR, "
                                              "or leave out --chroma-url") from None


def lost_server(ctx: RunContext, stage_title: str, exc: BaseException) -> VectorStoreError | None:
    """The error to show when `exc` says the --chroma-url server stopped answering during a stage; None when
    it says something else."""
    from rag.store import server_gone  # chromadb's HTTP library, loaded only once a stage has failed

    if not ctx.config.chroma_url or not server_gone(exc):
        return None
    log.info("the Chroma server stopped answering: %s: %s", type(exc).__name__, exc)
    return VectorStoreError(f"Chroma server at {ctx.config.chroma_url} stopped answering during "
                            f"{stage_title[:1].lower()}{stage_title[1:]} ({exc})",
                            hint=f"start it again on the same --path, then go on with: advisor run --resume "
                                 f"{ctx.run_dir}; what finished is kept, and chunks already on the server are not "
                                 "embedded again")


def build_index_stage(ctx: RunContext, evalset: EvalSet, models: LoadedModels, client) -> BuiltIndex:
    """A retriever over the training documents' Chroma collection in `client`, reused when its inputs are
    unchanged; a grown corpus adds only its new chunks."""
    from rag.retrieval import Retriever, build_index
    from rag.splitting import chunk_size_for

    cfg = ctx.config
    chunk_size = chunk_size_for(models.embedder, cfg.chunk_size)
    overlap = min(cfg.chunk_overlap, chunk_size // 2)
    store_key = fingerprint(model_fingerprint(models.embedding.path), chunk_size, overlap, cfg.chroma_url,
                            # a server is shared: each run folder keeps its own collection there
                            str(ctx.run_dir.resolve()) if cfg.chroma_url else None)
    key = fingerprint(store_key, documents_fingerprint(evalset.train_documents))
    cached = ctx.cache.get("index", key)
    ctx.progress("index", 0, None, "checking which chunks the index already holds")
    collection, chunks, built = build_index(evalset.train_documents, models.embedder, client,
                                       chunk_size=chunk_size, chunk_overlap=overlap,
                                       collection_name=f"advisor-{store_key[:16]}",
                                       about={"embedding_model": models.embedding.name},
                                       on_batch=lambda done, total: ctx.progress("index", done, total))
    if built.rebuilt:
        ctx.warn(f"The index had been made with another embedding model ({built.rebuilt}): it was emptied "
                 "and built again.")
    if cached is not None and not built.added and not built.deleted:
        stats = cached
        ctx.progress("index", stats["chunks"], stats["chunks"], f"{stats['chunks']} chunks, reused", result=stats)
    else:
        # The one-off cost is a full build's: an update embeds only the new chunks, so their time per
        # chunk stands for all of them.
        full = built.seconds if not built.kept else (
            built.split_seconds + built.store_seconds + built.embed_seconds / max(1, built.added) * built.chunks)
        stats = {"chunks": built.chunks, "seconds": full, "embed_seconds": built.embed_seconds,
                 "added": built.added, "deleted": built.deleted, "kept": built.kept,
                 "update_seconds": built.seconds}
        ctx.cache.put("index", key, stats)
        said = (f"{built.chunks} chunks" if not built.kept else
                f"{built.chunks} chunks: {built.added} new, {built.deleted} removed, {built.kept} kept")
        ctx.progress("index", built.chunks, built.chunks, said, result=stats)
    stats = {**stats, "chunk_size": chunk_size, "overlap": overlap}
    return BuiltIndex(Retriever(models.embedder, collection, cfg.top_k), stats, fingerprint(key, cfg.top_k),
                      tuple(chunks))
