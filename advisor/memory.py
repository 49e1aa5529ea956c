"""Hands the memory freed by a finished stage back to the operating system (glibc's malloc_trim)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (macOS, musl, Windows)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> bool:
    """Collects unreachable objects, then asks the C library to return the free pages of its heaps; True when some
    were returned. Freed tensors below glibc's mmap threshold (up to 32 MB, raised as large blocks are freed) stay
    in its heaps otherwise, and the next stage's peak stacks on them: on the bundled sample the resident memory
    entering the tuned-embeddings stage fell from 1.40 to 1.22 GiB (the note of issue 25). A millisecond or so."""
    gc.collect()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
