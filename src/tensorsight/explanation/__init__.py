"""The maths behind each view, the Explainer session, and the binary pack format.

>>> from tensorsight.explanation import decode_pack, encode_pack
>>> import numpy as np
>>> decode_pack(encode_pack({"kind": "relu"}, {"x": np.ones(2, np.float32)}))[0]
{'kind': 'relu'}

The Explainer needs torch; it is imported on first use so the pack format stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes
from tensorsight.explanation.errors import (
    BadParameterError,
    ExplainerError,
    ModelRunError,
    UnknownIdError,
)
from tensorsight.explanation.pack import PackError, decode_pack, encode_pack

if TYPE_CHECKING:
    from tensorsight.explanation.explainer import Explainer
    from tensorsight.explanation.runs import DirectoryInputStore, InputStore

__all__ = [
    "BadParameterError",
    "DirectoryInputStore",
    "Explainer",
    "ExplainerError",
    "InputStore",
    "ModelRunError",
    "PackError",
    "UnknownIdError",
    "decode_pack",
    "encode_pack",
]


__getattr__ = lazy_attributes(
    __name__,
    {
        "Explainer": "tensorsight.explanation.explainer",
        "InputStore": "tensorsight.explanation.runs",
        "DirectoryInputStore": "tensorsight.explanation.runs",
    },
)
