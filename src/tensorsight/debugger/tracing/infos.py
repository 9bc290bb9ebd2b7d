"""Describing observed values fast: ``explain()`` describes every value every statement computes.

:func:`describe_cached` memoises :func:`~tensorsight.debugger.arrays.describe` on (type, shape,
dtype[, device]) in bounded caches, since formatting a NumPy dtype's name alone costs
microseconds.
"""

from __future__ import annotations

from typing import Any

from tensorsight.debugger.arrays import TensorInfo, describe
from tensorsight.debugger.bounded import CappedDict

# Types that are not arrays, and torch tensor types (whose key must include the device).
_NOT_ARRAYS: CappedDict[type, bool] = CappedDict(256)
_TORCH_TYPES: CappedDict[type, bool] = CappedDict(16)
_INFOS: CappedDict[tuple[Any, ...], TensorInfo] = CappedDict(4096)


def describe_cached(value: Any) -> TensorInfo | None:
    """:func:`~tensorsight.debugger.arrays.describe`, memoised.

    >>> import numpy as np
    >>> describe_cached(np.ones(3)).shape, describe_cached(3) is None
    ((3,), True)
    """
    kind = type(value)
    if kind in _NOT_ARRAYS:
        return None
    try:
        key = (kind, value.shape, value.dtype, value.device if kind in _TORCH_TYPES else None)
        info = _INFOS.get(key)
    except (AttributeError, TypeError):  # no shape/dtype, or an unhashable shape
        key, info = None, None
    if info is None:
        info = describe(value)
        if info is None:
            _NOT_ARRAYS[kind] = True
        elif key is not None:
            if info.framework == "torch" and kind not in _TORCH_TYPES:
                _TORCH_TYPES[kind] = True  # its key must include the device from now on
            else:
                _INFOS[key] = info
    return info
