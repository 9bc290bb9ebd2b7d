"""Which channels of its inputs each output channel of a node reads: the overview lights them.

A node's feeds are one entry per input node, ``{"node": id, "channels": how}``, where ``how`` is
``"all"`` (every channel of that input), ``"same"`` (output channel ``c`` reads channel ``c``) or
a list with one ``[start, stop)`` pair per output channel (grouped convolutions, concatenation,
a one-channel operand broadcast over many; ``[0, 0]`` where that input feeds nothing).
The front end only looks these up, so the rule lives here once, tested against autograd.
"""

from __future__ import annotations

from typing import Any

from tensorsight.capturing import Graph, Node
from tensorsight.explanation import maths

# Kinds whose every output value reads every channel of every input.
_MIXING_KINDS = frozenset(("linear", "flatten", "reshape", "softmax", "layer_norm", "other"))
_CONV_KINDS = frozenset(("conv2d", "conv_transpose2d"))


def node_feeds(graph: Graph, node: Node) -> list[dict[str, Any]]:
    """The feeds of ``node`` (see the module docstring), one entry per recorded input.

    >>> import torch
    >>> from tensorsight import capture
    >>> graph = capture(torch.nn.Conv2d(4, 4, 3, groups=2), torch.zeros(1, 4, 5, 5))
    >>> node_feeds(graph, graph.nodes[1])[0]["channels"]
    [[0, 2], [0, 2], [2, 4], [2, 4]]
    """
    sources = [graph.node(source) for source in node.inputs]
    if node.kind in _CONV_KINDS and sources:
        return [{"node": sources[0].id, "channels": _conv_feed(node, sources[0])}]
    if node.kind == "cat" and _joins_channels(node):
        return _cat_feeds(sources)
    if node.kind in _MIXING_KINDS or len(node.output_shape) != 4:
        return [{"node": source.id, "channels": "all"} for source in sources]
    return [{"node": source.id, "channels": _same_channel(node, source)} for source in sources]


def _channels(node: Node) -> int:
    return node.output_shape[1] if len(node.output_shape) == 4 else 1


def _conv_feed(node: Node, source: Node) -> str | list[list[int]]:
    groups = int(node.config.get("groups", 1))
    if groups <= 1:
        return "all"
    cin, cout = _channels(source), _channels(node)
    return [
        [r.start, r.stop]
        for r in (maths.conv_input_channels(c, cin, cout, groups) for c in range(cout))
    ]


def _joins_channels(node: Node) -> bool:
    dim = int(node.config.get("dim", 0))
    return len(node.output_shape) == 4 and dim % 4 == 1


def _cat_feeds(sources: list[Node]) -> list[dict[str, Any]]:
    bounds = maths.concat_sources([_channels(source) for source in sources])
    total = bounds[-1][1] if bounds else 0
    return [
        {
            "node": source.id,
            "channels": [
                [c - start, c - start + 1] if start <= c < stop else [0, 0] for c in range(total)
            ],
        }
        for source, (start, stop) in zip(sources, bounds, strict=True)
    ]


def _same_channel(node: Node, source: Node) -> str | list[list[int]]:
    if len(source.output_shape) != 4:
        return "all"
    if _channels(source) == _channels(node):
        return "same"
    if _channels(source) == 1:  # broadcast: every output channel reads the one channel
        return [[0, 1]] * _channels(node)
    return "all"
