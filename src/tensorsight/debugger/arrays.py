"""Recognise NumPy, PyTorch and JAX arrays without importing those libraries, and write shapes.

:func:`dims_text` is the one way the debugger writes a shape (``32x128``, ``scalar``, ``?``):
notes, diagrams, ``explain()`` labels and ``astviz()`` trees all call it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Dim = int | str | None
"""A dimension: its size, a symbolic name such as ``"N"``, or None when unknown."""


def dims_text(dims: Sequence[Dim] | None) -> str:
    """``32x128`` style; ``scalar`` for no dimensions, ``?`` for an unknown shape or size.

    >>> dims_text((32, None, "N")), dims_text(()), dims_text(None)
    ('32x?xN', 'scalar', '?')
    """
    if dims is None:
        return "?"
    if not dims:
        return "scalar"
    return "x".join("?" if size is None else str(size) for size in dims)


@dataclass(frozen=True)
class TensorInfo:
    """What the debugger says about one array: its library, shape, dtype and (torch) device.

    >>> import numpy as np
    >>> describe(np.zeros((2, 3), np.float32))
    TensorInfo(framework='numpy', shape=(2, 3), dtype='float32', device=None)
    """

    framework: str
    shape: tuple[int, ...]
    dtype: str
    device: str | None = None

    def shape_text(self) -> str:
        """``2x3`` style, ``scalar`` for 0-d arrays."""
        return dims_text(self.shape)


def describe(value: Any) -> TensorInfo | None:
    """The :class:`TensorInfo` of ``value`` if it is a NumPy, PyTorch or JAX array, else None.

    Only libraries the program already imported are consulted, so this never imports torch or jax.
    """
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray | numpy.generic):
        return TensorInfo("numpy", tuple(value.shape), str(value.dtype))
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        return TensorInfo("torch", tuple(value.shape), dtype, str(value.device))
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(value, jax.Array):
        return TensorInfo("jax", tuple(value.shape), str(value.dtype))
    return None
