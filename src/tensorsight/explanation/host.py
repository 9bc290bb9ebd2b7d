"""Where run data leaves the device: a run's activations stay where the model ran (a GPU's
memory, counted by the explainer's byte budget) and only what a request sends crosses to the host.

Every crossing goes through :func:`to_host`: the arrays of an activations pack (quantised on the
device first, so a u8 map crosses as bytes), the tensors a detail view reads (:class:`HostGraph`
moves a node when a detail builder first reads it, so a convolution's detail moves that layer and
its input, not the whole network), and the overview's value ranges (computed on the device, one
small tensor for the whole network). On the CPU each crossing is the tensor itself, no copy.

>>> import torch
>>> to_host(torch.ones(2)).device.type
'cpu'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from tensorsight.capturing import Graph, Node


def to_host(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` detached on the CPU: itself when it is there already, else a copy."""
    return tensor.detach().cpu()


def node_on_host(node: Node) -> Node:
    """``node`` with its activation and parameters on the CPU (itself when they all are)."""
    tensors = (node.activation, *node.parameters.values())
    if all(tensor.device.type == "cpu" for tensor in tensors):
        return node
    return dataclasses.replace(
        node,
        activation=to_host(node.activation),
        parameters={name: to_host(tensor) for name, tensor in node.parameters.items()},
    )


@dataclass(frozen=True)
class HostGraph(Graph):
    """A run's graph whose nodes come to the host one at a time, when first read.

    >>> from torch import nn
    >>> from tensorsight.capturing import capture
    >>> graph = HostGraph.of(capture(nn.Sequential(nn.Tanh()), torch.zeros(1, 2)))
    >>> graph.node("n1").activation.device.type
    'cpu'
    """

    _moved: dict[str, Node] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, graph: Graph) -> HostGraph:
        """The host view of ``graph`` (which stays as it is, on its device)."""
        return graph if isinstance(graph, HostGraph) else cls(graph.nodes, graph.output_id)

    def node(self, node_id: str) -> Node:
        moved = self._moved.get(node_id)
        if moved is None:
            moved = self._moved[node_id] = node_on_host(super().node(node_id))
        return moved


def value_ranges(tensors: Sequence[torch.Tensor]) -> list[tuple[float, float]]:
    """The finite minimum and maximum of each tensor; ``(0, 0)`` when it has no finite value.

    >>> value_ranges([torch.tensor([1.0, float("nan"), -2.0]), torch.tensor([float("inf")])])
    [(-2.0, 1.0), (0.0, 0.0)]
    """
    if all(tensor.device.type == "cpu" for tensor in tensors):
        return [_host_range(tensor) for tensor in tensors]
    return device_ranges(tensors)


def device_ranges(tensors: Sequence[torch.Tensor]) -> list[tuple[float, float]]:
    """:func:`value_ranges` computed where the tensors are, crossing to the host as one
    ``[N, 2]`` tensor (one transfer and one synchronisation for a whole network)."""
    if not tensors:
        return []
    rows = []
    for tensor in tensors:
        values = tensor.detach().to(torch.float32).reshape(-1)
        if not values.numel():
            rows.append(values.new_zeros(2))
            continue
        finite = torch.isfinite(values)
        pair = torch.stack(
            (
                torch.where(finite, values, torch.inf).amin(),
                torch.where(finite, values, -torch.inf).amax(),
            )
        )
        rows.append(torch.where(finite.any(), pair, 0.0))
    table = to_host(torch.stack(rows)).tolist()
    return [(float(low), float(high)) for low, high in table]


def _host_range(tensor: torch.Tensor) -> tuple[float, float]:
    # NumPy: torch's reductions are much slower on small tensors when the CPU is contended.
    values = tensor.detach().to(torch.float32).numpy()
    if values.size:  # the usual case, every value finite: two reductions and no mask
        low, high = values.min(), values.max()
        if np.isfinite(low) and np.isfinite(high):
            return float(low), float(high)
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
