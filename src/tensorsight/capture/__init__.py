"""Run a model once and record the executed graph with every activation.

>>> import torch
>>> from torch import nn
>>> from tensorsight.capture import capture
>>> graph = capture(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), torch.randn(1, 4))
>>> [node.kind for node in graph.nodes], graph.output_id
(['input', 'linear', 'relu'], 'n2')

``tensorsight.capture`` names both this package and its function, and Python's import system
sets ``tensorsight.capture`` to the package whenever the package is imported. So the package
itself can be called too, and ``tensorsight.capture(model, x)`` works whichever came first.
"""

import sys
from types import ModuleType
from typing import Any

from tensorsight.capture.graph import KINDS, Graph, Node
from tensorsight.capture.recorder import CaptureError, capture

__all__ = ["KINDS", "CaptureError", "Graph", "Node", "capture"]


class _CallablePackage(ModuleType):
    def __call__(self, model: Any, x: Any) -> Graph:
        return capture(model, x)


sys.modules[__name__].__class__ = _CallablePackage
