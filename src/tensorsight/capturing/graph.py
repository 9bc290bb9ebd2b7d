"""The executed graph that :func:`tensorsight.capture` records (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: The kinds that compute each output element from the same element of their one input
#: (the activations, dropout and identity); batch norm is left out as its channel matters.
ELEMENTWISE_KINDS = frozenset(
    (
        "relu",
        "relu6",
        "leaky_relu",
        "gelu",
        "silu",
        "sigmoid",
        "tanh",
        "hardswish",
        "dropout",
        "identity",
    )
)
#: Every node kind a capture may produce; anything unrecognised is ``"other"``.
KINDS = frozenset(
    (
        "input",
        "conv2d",
        "conv_transpose2d",
        "linear",
        "batch_norm",
        "layer_norm",
        *ELEMENTWISE_KINDS,
        "max_pool2d",
        "avg_pool2d",
        "adaptive_avg_pool2d",
        "add",
        "mul",
        "cat",
        "flatten",
        "reshape",
        "mean",
        "softmax",
        "upsample",
        "other",
    )
)


@dataclass(frozen=True)
class Node:
    """One executed operation: a leaf module call, a functional op, or the model input.

    ``activation`` is the detached output (batch dimension kept), on the device the model ran
    on; ``inputs`` are the ids of the nodes whose outputs fed this one.
    """

    id: str
    kind: str
    name: str
    module_path: str | None
    module_type: str | None
    config: dict[str, Any]
    inputs: tuple[str, ...]
    output_shape: tuple[int, ...]
    activation: torch.Tensor = field(repr=False)
    parameters: dict[str, torch.Tensor] = field(repr=False)
    group: str | None

    def describe(self) -> dict[str, Any]:
        """The JSON-able description of the node, without tensors.

        >>> import torch
        >>> node = Node("n0", "input", "input", None, None, {}, (), (1, 3), torch.zeros(1, 3),
        ...             {}, None)
        >>> node.describe()["shape"]
        [1, 3]
        """
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "module_path": self.module_path,
            "module_type": self.module_type,
            "config": self.config,
            "inputs": list(self.inputs),
            "shape": list(self.output_shape),
            "group": self.group,
        }


@dataclass(frozen=True)
class Graph:
    """The nodes of one capture in execution order; ``nodes[0]`` is the input."""

    nodes: tuple[Node, ...]
    output_id: str
    _by_id: dict[str, Node] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {node.id: node for node in self.nodes})

    def node(self, node_id: str) -> Node:
        """The node with id ``node_id``; ``KeyError`` if there is none.

        >>> import torch
        >>> from torch import nn
        >>> from tensorsight.capturing import capture
        >>> capture(nn.Sequential(nn.Tanh()), torch.zeros(1, 2)).node("n1").kind
        'tanh'
        """
        try:
            return self._by_id[node_id]
        except KeyError:
            raise KeyError(f"This graph has no node {node_id!r}.") from None

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._by_id

    @property
    def output(self) -> Node:
        """The node whose output the model returned."""
        return self._by_id[self.output_id]
