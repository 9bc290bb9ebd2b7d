"""Train TinyVGG: :func:`train` with a :class:`TrainConfig`, or ``tensorsight train``.

>>> from tensorsight.training import TrainConfig, train  # doctest: +SKIP
>>> result = train(TrainConfig(output="runs/fashion", epochs=2))  # doctest: +SKIP
"""

from tensorsight.training.train import TrainConfig, TrainResult, evaluate, train

__all__ = ["TrainConfig", "TrainResult", "evaluate", "train"]
