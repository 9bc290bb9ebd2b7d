"""Run a model once and record the executed graph with every activation.

>>> import torch
>>> from torch import nn
>>> from tensorsight.capturing import capture
>>> graph = capture(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), torch.randn(1, 4))
>>> [node.kind for node in graph.nodes], graph.output_id
(['input', 'linear', 'relu'], 'n2')

"""

from tensorsight.capturing.graph import ELEMENTWISE_KINDS, KINDS, Graph, Node
from tensorsight.capturing.recorder import CaptureError, capture

__all__ = ["ELEMENTWISE_KINDS", "KINDS", "CaptureError", "Graph", "Node", "capture"]
