"""Content-addressed runs: ids from what went into the model, inputs kept small, activations cached.

A run's id is a digest of the model (its class and every parameter and buffer) and of the
preprocessed input tensor, so the same picture on the same model is the same run on every
worker and every host. The input (a few KB to a few hundred KB) is kept in an :class:`InputStore`;
the activations (up to hundreds of MB) are only a cache: when they have been evicted, the forward
pass runs again from the stored input and gives the same numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import torch
from torch import nn

DEFAULT_STORE_BYTES = 256 * 1024 * 1024
_DIGEST_BYTES = 10
RUN_ID = re.compile(rf"[0-9a-f]{{{2 * _DIGEST_BYTES}}}")
# Pruning a shared directory lists it: do that once per this many writes, not on every one.
_PRUNE_EVERY = 64
_log = logging.getLogger(__name__)

Value = TypeVar("Value")


def model_digest(model: nn.Module) -> str:
    """A digest of the model's class and every parameter and buffer (names, dtypes, values).

    >>> model_digest(nn.Linear(2, 1)) == model_digest(nn.Linear(2, 1))
    False
    """
    digest = hashlib.blake2b(type(model).__qualname__.encode(), digest_size=16)
    for name, tensor in model.state_dict().items():
        if not isinstance(tensor, torch.Tensor):
            continue
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)};".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def run_id_for(model_id: str, x: torch.Tensor) -> str:
    """The run id of input ``x`` (a CPU tensor) on the model whose digest is ``model_id``.

    >>> len(run_id_for("m", torch.zeros(1, 1, 2, 2)))
    20
    """
    digest = hashlib.blake2b(model_id.encode(), digest_size=_DIGEST_BYTES)
    digest.update(f"{x.dtype}:{list(x.shape)};".encode())
    digest.update(x.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class ByteLru(Generic[Value]):
    """A thread-safe LRU bounded by the bytes of its values (the newest value is always kept).

    >>> cache = ByteLru(max_bytes=10, size=len)
    >>> cache.put("a", b"12345678"); cache.put("b", b"123")
    >>> cache.get("a") is None, cache.get("b")
    (True, b'123')
    """

    def __init__(
        self,
        max_bytes: int,
        size: Callable[[Value], int],
        on_evict: Callable[[], None] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._on_evict = on_evict
        self._entries: OrderedDict[str, tuple[Value, int]] = OrderedDict()
        self._total = 0
        self._reserved = 0  # room held for values being computed (room_for)
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """The bytes held now."""
        return self._total

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Value | None:
        """The value (now the most recently used), or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: str, value: Value) -> None:
        """Keep ``value``, dropping the least recently used entries beyond the budget."""
        size = self._size(value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._total -= old[1]
            self._entries[key] = (value, size)
            self._total += size
            evicted = self._evict(keep=1)
        self._evicted(evicted)

    @contextlib.contextmanager
    def room_for(self, nbytes: int) -> Iterator[None]:
        """Hold room for a value of about ``nbytes`` while it is computed, evicting what it needs.

        Concurrent computations each hold their own room, so the cache and everything being
        computed for it stay within the budget together. Put the value after the block.

        >>> cache = ByteLru(max_bytes=10, size=len)
        >>> cache.put("a", b"12345678")
        >>> with cache.room_for(5):
        ...     cache.get("a") is None
        True
        """
        with self._lock:
            self._reserved += nbytes
            evicted = self._evict(keep=0)
        self._evicted(evicted)
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= nbytes

    def _evict(self, *, keep: int) -> int:
        evicted = 0
        while len(self._entries) > keep and self._total + self._reserved > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._total -= dropped
            evicted += 1
        return evicted

    def _evicted(self, count: int) -> None:
        if count and self._on_evict is not None:  # the dropped values are freed by now
            self._on_evict()


class InputStore:
    """Where preprocessed inputs live, by run id: this process's memory, bounded by bytes.

    >>> store = InputStore()
    >>> store.put("ab" * 10, torch.ones(1, 1, 2, 2)); store.get("ab" * 10).shape
    torch.Size([1, 1, 2, 2])
    """

    def __init__(self, max_bytes: int = DEFAULT_STORE_BYTES) -> None:
        self._inputs: ByteLru[torch.Tensor] = ByteLru(
            max_bytes, lambda x: x.numel() * x.element_size()
        )

    def get(self, run_id: str) -> torch.Tensor | None:
        """The input of ``run_id``, or ``None`` when it was never stored or was dropped."""
        return self._inputs.get(run_id)

    def put(self, run_id: str, x: torch.Tensor) -> None:
        """Keep the input of ``run_id``."""
        self._inputs.put(run_id, x)

    def touch(self, run_id: str) -> None:
        """Mark ``run_id`` as just used, so that it is the last to be dropped."""
        self._inputs.get(run_id)

    def describe(self) -> str:
        """Where the inputs are kept, for the start-up line."""
        return f"inputs in memory (up to {self._inputs.max_bytes / 2**20:.0f} MB)"


class DirectoryInputStore(InputStore):
    """Inputs as ``.npy`` files in a directory that several workers and hosts may share.

    Files are written atomically (a temporary name, then a rename) and read without pickle; the
    oldest files (by modification time, refreshed on each read) go when the directory holds
    more than ``max_bytes``. A recent few stay in memory too.

    >>> store = DirectoryInputStore(tempfile.mkdtemp())
    >>> store.put("cd" * 10, torch.zeros(1, 3)); store.get("cd" * 10).shape
    torch.Size([1, 3])
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = 4 * 2**30) -> None:
        super().__init__(max_bytes=min(max_bytes, 32 * 2**20))
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_bytes
        self._writes = 0

    def get(self, run_id: str) -> torch.Tensor | None:
        cached = super().get(run_id)
        if cached is not None:
            return cached
        path = self._path(run_id)
        try:
            array = np.load(io.BytesIO(path.read_bytes()), allow_pickle=False)
            os.utime(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:  # cut short by a full disk, or not ours
            _log.warning("tensorsight: ignoring unreadable stored input %s: %s", path, error)
            return None
        x = torch.from_numpy(array)
        super().put(run_id, x)
        return x

    def put(self, run_id: str, x: torch.Tensor) -> None:
        super().put(run_id, x)
        path = self._path(run_id)
        if path.exists():
            os.utime(path)
            return
        buffer = io.BytesIO()
        np.save(buffer, x.detach().to("cpu").numpy(), allow_pickle=False)
        handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(buffer.getvalue())
        os.replace(temporary, path)
        self._writes += 1
        if self._writes % _PRUNE_EVERY == 0:
            self.prune()

    def touch(self, run_id: str) -> None:
        super().touch(run_id)
        with contextlib.suppress(FileNotFoundError):  # pruned: the next put writes it again
            os.utime(self._path(run_id))

    def prune(self) -> None:
        """Remove the least recently used files while the directory is over its budget."""
        files = sorted(self._files(), key=lambda item: item[1].st_mtime)
        total = sum(stat.st_size for _, stat in files)
        for path, stat in files[:-1]:
            if total <= self.max_file_bytes:
                break
            path.unlink(missing_ok=True)
            total -= stat.st_size

    def describe(self) -> str:
        return f"inputs in {self.directory} (up to {self.max_file_bytes / 2**20:.0f} MB)"

    def _files(self) -> Iterator[tuple[Path, os.stat_result]]:
        for path in self.directory.glob("*.npy"):
            try:
                yield path, path.stat()
            except FileNotFoundError:  # pruned by another worker meanwhile
                continue

    def _path(self, run_id: str) -> Path:
        # Ids come from requests: only a digest may become a file name.
        if not RUN_ID.fullmatch(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.directory / f"{run_id}.npy"
