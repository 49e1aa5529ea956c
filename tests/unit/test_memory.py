"""Memory a stage freed goes back to the operating system before the next stage starts."""

import sys

import pytest

from advisor.memory import release_freed_memory
from benchmarks.whole_run import resident_bytes


def resident_mib() -> float:
    return resident_bytes() / 2 ** 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc: Linux")
def test_freed_tensors_leave_the_resident_memory():
    import torch

    blocks = [torch.ones(25_000) for _ in range(3000)]  # 100 KB each, 300 MB: glibc's heap, below its mmap threshold
    pinned = torch.ones(25_000)  # allocated last, in use: free() alone cannot shrink the heap past it
    held = resident_mib()
    del blocks
    freed = resident_mib()
    assert release_freed_memory()
    assert freed > held - 100  # freeing alone left most of it resident
    assert resident_mib() < freed - 200  # trimming handed it back
    assert pinned.sum() == 25_000
