"""Train TinyVGG (:func:`train`, ``tensorsight train``) or a DCGAN (:func:`train_gan`,
``tensorsight train-gan``).

>>> from tensorsight.training import TrainConfig, train  # doctest: +SKIP
>>> result = train(TrainConfig(output="runs/fashion", epochs=2))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes

if TYPE_CHECKING:
    from tensorsight.training.gan import GanConfig, GanResult, train_gan
    from tensorsight.training.gan_quality import frechet_distance
    from tensorsight.training.trainer import TrainConfig, TrainResult, evaluate, train

__all__ = [
    "GanConfig",
    "GanResult",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "frechet_distance",
    "train",
    "train_gan",
]

# `tensorsight --help` imports this package to register `train`: torch loads on first use.
__getattr__ = lazy_attributes(
    __name__,
    {
        **dict.fromkeys(
            ("TrainConfig", "TrainResult", "evaluate", "train"), "tensorsight.training.trainer"
        ),
        **dict.fromkeys(("GanConfig", "GanResult", "train_gan"), "tensorsight.training.gan"),
        "frechet_distance": "tensorsight.training.gan_quality",
    },
)
