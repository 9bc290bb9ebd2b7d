"""How the process's allocator keeps memory that evicted runs freed (glibc; elsewhere, nothing).

A capture keeps every layer's output, so each one needs as much fresh memory as its run holds
(MobileNetV2 at 224x224: 79 MB). Memory the system hands over is zero-filled page by page on
first touch, and those page faults cost more than the capture itself: a capture of MobileNetV2
took 2.7x a bare forward in fresh memory and 1.6x in memory kept from the run it replaced
(``bench/explain_model.py``). So a server keeps what evicted runs freed for the next capture,
and hands it back only when the allocator holds more than one run's worth of it, which keeps
resident memory within the cache's budget (``bench/serve_load.py``).

>>> release_freed_memory(keep_bytes=0)  # trims everything freed (glibc), else does nothing
"""

from __future__ import annotations

import ctypes
import sys

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Blocks this large come from the heap, where freed ones can be reused, not from their own mmap
# (glibc's own dynamic limit); and the heap is never trimmed on its own, only here.
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
_NEVER_TRIM_BYTES = 2**31 - 1  # mallopt takes a C int


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _glibc() -> ctypes.CDLL | None:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):  # musl, or a glibc before 2.33
        return None
    return libc


_libc = _glibc()


def tune_allocator(*, arenas: int = 2) -> None:
    """Bound the allocator's arenas and let it keep freed memory until it is released here.

    Each thread that runs a model gets its own arena by default, and each arena keeps its freed
    blocks: resident memory then grows with the thread pool (MobileNetV2, 16 threads: 5x the
    activation budget above idle), not with the cache. Call it once, before the model runs; it
    sets the whole process, hence the example is not run as a test.

    >>> tune_allocator()  # doctest: +SKIP
    """
    if _libc is None:
        return
    _libc.mallopt(_M_ARENA_MAX, arenas)
    _libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
    _libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM_BYTES)


def freed_bytes() -> int | None:
    """Bytes the allocator holds freed for reuse (glibc's ``mallinfo2``), or ``None`` elsewhere.

    >>> freed_bytes() is None or freed_bytes() >= 0
    True
    """
    if _libc is None:
        return None
    return int(_libc.mallinfo2().fordblks)


def release_freed_memory(*, keep_bytes: int) -> None:
    """Hand freed pages back to the system, unless the allocator holds at most ``keep_bytes``.

    Called after runs are evicted with the size of the run about to be computed, which reuses
    that much of what they freed.
    """
    if _libc is None:
        return
    if keep_bytes and (freed_bytes() or 0) <= keep_bytes:
        return
    _libc.malloc_trim(0)
