"""The maths behind each view, the Explainer session, and the binary pack format.

>>> from tensorsight.explanation import decode_pack, encode_pack
>>> import numpy as np
>>> decode_pack(encode_pack({"kind": "relu"}, {"x": np.ones(2, np.float32)}))[0]
{'kind': 'relu'}

The Explainer needs torch; it is imported on first use so the pack format stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tensorsight.explanation.errors import (
    BadParameterError,
    ExplainerError,
    ModelRunError,
    UnknownIdError,
)
from tensorsight.explanation.pack import PackError, decode_pack, encode_pack

if TYPE_CHECKING:
    from tensorsight.explanation.explainer import Explainer

__all__ = ["BadParameterError", "Explainer", "ExplainerError", "ModelRunError", "PackError",
           "UnknownIdError", "decode_pack", "encode_pack"]


def __getattr__(name: str) -> Any:
    if name == "Explainer":
        return import_module("tensorsight.explanation.explainer").Explainer
    raise AttributeError(f"module 'tensorsight.explanation' has no attribute {name!r}")
