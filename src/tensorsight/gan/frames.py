"""A snapshot as a pack frame (``tensorsight.explanation.encode_pack``) for the page.

Scalars and settings go in the JSON meta; point sets and grids go as float32 arrays.

>>> from tensorsight.gan.lab import GanLab
>>> meta, arrays = frame(GanLab("line").snapshot())
>>> meta["kind"], arrays["fake"].shape
('gan', (150, 2))
"""

from __future__ import annotations

from typing import Any

import numpy as np


def frame(snapshot: dict[str, Any], **extra: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)``: every array of ``snapshot`` as float32, the rest (and ``extra``) meta."""
    arrays = {
        k: np.asarray(v, np.float32) for k, v in snapshot.items() if isinstance(v, np.ndarray)
    }
    meta = {k: v for k, v in snapshot.items() if k not in arrays}
    return {"kind": "gan", **meta, **extra}, arrays
