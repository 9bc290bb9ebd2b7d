"""Train TinyVGG: :func:`train` with a :class:`TrainConfig`, or ``tensorsight train``.

>>> from tensorsight.training import TrainConfig, train  # doctest: +SKIP
>>> result = train(TrainConfig(output="runs/fashion", epochs=2))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes

if TYPE_CHECKING:
    from tensorsight.training.trainer import TrainConfig, TrainResult, evaluate, train

__all__ = ["TrainConfig", "TrainResult", "evaluate", "train"]

# `tensorsight --help` imports this package to register `train`: torch loads on first use.
__getattr__ = lazy_attributes(__name__, dict.fromkeys(__all__, "tensorsight.training.trainer"))
