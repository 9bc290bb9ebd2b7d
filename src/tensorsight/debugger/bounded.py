"""A small least-recently-used cache: every cache the debugger keeps has a ceiling.

>>> cache: BoundedCache[str, int] = BoundedCache(2)
>>> cache["a"], cache["b"], cache["c"] = 1, 2, 3
>>> list(cache.keys()), cache.get("a")
(['b', 'c'], None)
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import suppress
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(OrderedDict[K, V], Generic[K, V]):
    """An ``OrderedDict`` that forgets its least recently used entry past ``limit`` entries."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __getitem__(self, key: K) -> V:
        value = super().__getitem__(key)
        with suppress(KeyError):  # evicted by another thread meanwhile: the value read holds
            self.move_to_end(key)
        return value

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        """The value for ``key`` (now the most recently used), or ``default``."""
        try:  # one lookup: another thread may evict the key between a test and a read
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            try:
                self.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break


class CappedDict(dict[K, V], Generic[K, V]):
    """A ``dict`` that empties itself when it would grow past ``limit`` entries: reads stay
    plain dict reads, for caches on a hot path (one lookup per value ``explain()`` observes).

    >>> cache: CappedDict[int, int] = CappedDict(2)
    >>> cache[1], cache[2], cache[3] = 1, 2, 3
    >>> dict(cache)
    {3: 3}
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        if key not in self and len(self) >= self.limit:
            self.clear()
        super().__setitem__(key, value)
