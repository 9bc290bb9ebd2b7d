"""The allocator keeps what evicted runs freed for the next capture, and no more (glibc)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tensorsight.explanation.memory import freed_bytes

pytestmark = pytest.mark.skipif(freed_bytes() is None, reason="needs glibc's mallinfo2")

# A child process: the allocator's settings are the whole process's.
_CHILD = textwrap.dedent(
    """
    import os, torch
    from tensorsight.explanation.memory import freed_bytes, release_freed_memory, tune_allocator

    def resident_mb():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    tune_allocator()
    blocks = [torch.ones(1024, 1024) for _ in range(24)]  # 24 x 4 MB, as a run's layers are
    del blocks
    held, freed = resident_mb(), freed_bytes() / 2**20
    release_freed_memory(keep_bytes=200 * 2**20)  # the next run reuses it: kept
    kept = resident_mb()
    release_freed_memory(keep_bytes=16 * 2**20)  # more than the next run needs: handed back
    print(held, freed, kept, resident_mb())
    """
)


def test_freed_memory_is_kept_for_the_next_run_and_released_beyond_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=60
    )
    held, freed, kept, released = map(float, done.stdout.split())
    assert freed >= 90  # the blocks stayed in the allocator's heap when freed
    assert kept >= held - 1
    assert released <= held - 80
