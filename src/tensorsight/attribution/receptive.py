"""Receptive fields: which input pixels each cell of each layer depends on.

The geometric receptive field is worked out from the captured graph alone. Every spatial op maps
a range of its output rows (or columns) to the range of input rows it reads: a convolution or
pool with kernel k, stride s, padding p and dilation d reads ``[a s - p, b s - p + d (k - 1)]``
for output rows ``[a, b]``; element-wise ops, batch norm and joins read the same rows; adaptive
pooling, upsampling, transposed convolution and spatial concatenation have their own rules.
Rows and columns are independent, so a node's fields are two tables: for each output row the
first and last input row, and the same for columns. The tables are propagated from the node back
to the input through every branch; where branches meet, ranges merge (min of starts, max of ends),
which is exact for the bounding box. Ranges are clipped to the image: padding reads nothing.

An op whose geometry is unknown (kind ``other``, or a reshape that moves spatial axes) makes the
field the whole input and ``exact`` false.

The *effective* receptive field is the gradient of one cell with respect to the input: where
inside the box the cell really looks (Luo et al. 2016).

>>> import torch
>>> from torch import nn
>>> from tensorsight.capturing import capture
>>> model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
>>> graph = capture(model, torch.randn(1, 1, 16, 16))
>>> receptive_fields(graph, "n3").box(0, 0)  # (top, left, bottom, right), inclusive
(0, 0, 6, 6)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from tensorsight.attribution.errors import AttributionError
from tensorsight.attribution.taps import tap_run
from tensorsight.capturing import ELEMENTWISE_KINDS, Graph, Node

# A per-axis table: ranges[i] = (first, last) input index that output index i reads; an empty
# range (a cell that does not read this input at all) is (EMPTY, -1).
EMPTY = np.iinfo(np.int64).max // 4

# Kinds that read, for each output cell, the same cell of each input (or the only one, when an
# input is broadcast along an axis of size 1).
_SAME_PLACE = ELEMENTWISE_KINDS | {"batch_norm", "add", "mul"}
_WINDOWED = frozenset(("conv2d", "max_pool2d", "avg_pool2d"))


@dataclass(frozen=True)
class ReceptiveFields:
    """The input box of every cell of one node.

    ``rows[i]`` is the first and last input row that output row ``i`` depends on, ``cols[j]``
    the same for columns; ``exact`` is false when an op of unknown geometry was on the way.
    """

    node_id: str
    rows: np.ndarray
    cols: np.ndarray
    exact: bool

    def box(self, y: int, x: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of cell ``(y, x)``, inclusive, in input pixels."""
        if not (0 <= y < len(self.rows) and 0 <= x < len(self.cols)):
            raise AttributionError(
                f"Cell ({y}, {x}) is outside the {len(self.rows)}x"
                f"{len(self.cols)} map of node {self.node_id}."
            )
        return (
            int(self.rows[y, 0]),
            int(self.cols[x, 0]),
            int(self.rows[y, 1]),
            int(self.cols[x, 1]),
        )

    def describe(self) -> dict[str, Any]:
        """JSON-able: ``{node, rows: [[first, last], ...], cols: [...], exact}``."""
        return {
            "node": self.node_id,
            "rows": self.rows.tolist(),
            "cols": self.cols.tolist(),
            "exact": self.exact,
        }


def spatial_nodes(graph: Graph) -> list[str]:
    """Ids of the nodes whose output is a map ``[1, C, H, W]`` (the input included)."""
    return [node.id for node in graph.nodes if len(node.output_shape) == 4]


def receptive_fields(graph: Graph, node_id: str) -> ReceptiveFields:
    """The geometric receptive field of every cell of ``node_id`` (a spatial node).

    >>> import torch
    >>> from torch import nn
    >>> from tensorsight.capturing import capture
    >>> graph = capture(nn.Conv2d(1, 1, 5, stride=2, dilation=2), torch.randn(1, 1, 20, 20))
    >>> receptive_fields(graph, "n1").rows[:2].tolist()
    [[0, 8], [2, 10]]
    """
    target = graph.node(node_id)
    source = graph.nodes[0]
    if len(target.output_shape) != 4 or len(source.output_shape) != 4:
        raise AttributionError(
            f"Node {node_id} ({target.name}) is not a map [1, C, H, W] of an "
            "image input, so its cells have no receptive field."
        )
    needed: dict[str, tuple[np.ndarray, np.ndarray]] = {
        node_id: (_identity(target.output_shape[2]), _identity(target.output_shape[3]))
    }
    exact = True
    order = {node.id: index for index, node in enumerate(graph.nodes)}
    for node in reversed(graph.nodes[1 : order[node_id] + 1]):
        if node.id not in needed:
            continue
        rows, cols = needed.pop(node.id)
        for input_id in node.inputs:
            upstream = graph.node(input_id)
            mapped, known = _back(node, upstream, rows, cols)
            exact = exact and known
            needed[input_id] = _merge(needed.get(input_id), mapped)
    if source.id not in needed:  # the node does not depend on the input at all
        empty = np.array([[EMPTY, -1]])
        return ReceptiveFields(
            node_id,
            empty.repeat(target.output_shape[2], 0),
            empty.repeat(target.output_shape[3], 0),
            exact,
        )
    rows, cols = needed[source.id]
    return ReceptiveFields(node_id, rows, cols, exact)


def effective_receptive_field(
    model: nn.Module,
    x: torch.Tensor,
    graph: Graph,
    node_id: str,
    y: int,
    x_: int,
    channel: int | None = None,
) -> np.ndarray:
    """``|d unit / d input|`` summed over input channels, ``[H, W]``: where cell (y, x_) looks.

    The unit is channel ``channel`` of the cell, or the sum of all its channels when ``None``.
    ``graph`` is the capture of ``model`` on ``x``.
    """
    node = graph.node(node_id)
    if len(node.output_shape) != 4:
        raise AttributionError(f"Node {node_id} ({node.name}) is not a map [1, C, H, W].")
    _, channels, height, width = node.output_shape
    if not (0 <= y < height and 0 <= x_ < width):
        raise AttributionError(
            f"Cell ({y}, {x_}) is outside the {height}x{width} map of node {node_id}."
        )
    if channel is not None and not 0 <= channel < channels:
        raise AttributionError(f"Channel {channel} is out of range (0-{channels - 1}).")
    gradient = unit_input_gradient(model, x, graph, node_id, y, x_, channel)
    return gradient.abs().sum(1)[0].to("cpu", torch.float32).numpy()


def unit_input_gradient(
    model: nn.Module,
    x: torch.Tensor,
    graph: Graph,
    node_id: str,
    y: int,
    x_: int,
    channel: int | None = None,
) -> torch.Tensor:
    """d(sum over the batch of one cell's channel, or all channels) / d(input), like ``x``."""
    modes = {module: module.training for module in model.modules()}
    inputs = x.detach().clone().requires_grad_(True)
    try:
        model.eval()
        run = tap_run(model, inputs, graph, [node_id])
        cell = run.taps[node_id][:, :, y, x_]
        unit = cell.sum() if channel is None else cell[:, channel].sum()
        (gradient,) = torch.autograd.grad(unit, inputs)
    finally:
        for module, training in modes.items():
            module.training = training
    return gradient


# -- geometry of one op --------------------------------------------------------------------------


def _identity(length: int) -> np.ndarray:
    indices = np.arange(length, dtype=np.int64)
    return np.stack([indices, indices], axis=1)


def _merge(
    old: tuple[np.ndarray, np.ndarray] | None, new: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    if old is None:
        return new
    return tuple(
        np.stack([np.minimum(o[:, 0], n[:, 0]), np.maximum(o[:, 1], n[:, 1])], axis=1)
        for o, n in zip(old, new, strict=True)
    )  # type: ignore[return-value]


def _back(
    node: Node, upstream: Node, rows: np.ndarray, cols: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], bool]:
    """Map the needed output ranges of ``node`` to ranges of its input ``upstream``."""
    if len(upstream.output_shape) != 4 or len(node.output_shape) != 4:
        # A vector (or any non-map) between input and node: every cell reads all of it, which
        # is exact for the layers that do that (linear, mean, flatten); unknown ops are not.
        return _everything(rows, cols, upstream), node.kind != "other"
    mapped = []
    for axis, ranges in ((0, rows), (1, cols)):
        size_in = upstream.output_shape[2 + axis]
        size_out = node.output_shape[2 + axis]
        axis_map = _axis_map(node, upstream, axis, size_in, size_out)
        if axis_map is None:
            return _everything(rows, cols, upstream), False
        mapped.append(_apply(axis_map, ranges, size_in))
    return (mapped[0], mapped[1]), True


def _everything(
    rows: np.ndarray, cols: np.ndarray, upstream: Node
) -> tuple[np.ndarray, np.ndarray]:
    """Every needed cell reads all of ``upstream`` (empty cells stay empty)."""
    shape = upstream.output_shape
    sizes = (shape[2], shape[3]) if len(shape) == 4 else (1, 1)
    return tuple(
        np.where(
            ranges[:, :1] <= ranges[:, 1:],
            np.array([[0, size - 1]]),  # type: ignore[return-value]
            np.array([[EMPTY, -1]]),
        )
        for ranges, size in zip((rows, cols), sizes, strict=True)
    )


# An axis map turns (first, last) output indices (arrays) into (first, last) input indices.
AxisMap = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _apply(axis_map: AxisMap, ranges: np.ndarray, size_in: int) -> np.ndarray:
    empty = ranges[:, 0] > ranges[:, 1]
    first, last = axis_map(np.where(empty, 0, ranges[:, 0]), np.where(empty, 0, ranges[:, 1]))
    first, last = np.clip(first, 0, size_in - 1), np.clip(last, 0, size_in - 1)
    empty = empty | (first > last)
    return np.stack([np.where(empty, EMPTY, first), np.where(empty, -1, last)], axis=1)


def _axis_map(node: Node, upstream: Node, axis: int, size_in: int, size_out: int) -> AxisMap | None:
    kind, config = node.kind, node.config
    if kind in _WINDOWED:
        return _window_map(config, axis, size_in)
    if kind == "conv_transpose2d":
        return _transposed_map(config, axis)
    if kind == "adaptive_avg_pool2d":
        return lambda a, b: (a * size_in // size_out, -(-(b + 1) * size_in // size_out) - 1)
    if kind == "upsample":
        return _upsample_map(config, axis, size_in, size_out)
    if kind == "cat":
        return _cat_map(node, upstream, axis)
    if kind in _SAME_PLACE or (kind == "softmax" and config.get("dim") in (1, -3)):
        if size_in == size_out:
            return lambda a, b: (a, b)
        if size_in == 1:
            return lambda a, b: (np.zeros_like(a), np.zeros_like(b))
    return None


def _pair(value: Any, axis: int, default: int) -> int:
    if value is None or value == []:
        return default
    if isinstance(value, int):
        return value
    return int(value[axis] if len(value) > 1 else value[0])


def _window_map(config: dict[str, Any], axis: int, size_in: int) -> AxisMap:
    kernel = _pair(config.get("kernel_size"), axis, 1)
    stride = _pair(config.get("stride"), axis, kernel)
    dilation = _pair(config.get("dilation"), axis, 1)
    padding_value = config.get("padding", 0)
    if padding_value == "same":
        padding = dilation * (kernel - 1) // 2
    elif padding_value == "valid":
        padding = 0
    else:
        padding = _pair(padding_value, axis, 0)
    reach = dilation * (kernel - 1)
    return lambda a, b: (a * stride - padding, b * stride - padding + reach)


def _transposed_map(config: dict[str, Any], axis: int) -> AxisMap:
    """Output o of a transposed convolution reads input u when o = u s - p + d j, 0 <= j < k."""
    kernel = _pair(config.get("kernel_size"), axis, 1)
    stride = _pair(config.get("stride"), axis, 1)
    padding = _pair(config.get("padding"), axis, 0)
    dilation = _pair(config.get("dilation"), axis, 1)

    def readers(o: int) -> list[int]:
        return [
            (o + padding - dilation * j) // stride
            for j in range(kernel)
            if (o + padding - dilation * j) % stride == 0
        ]

    def first_last(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        firsts, lasts = [], []
        for lo, hi in zip(a.tolist(), b.tolist(), strict=True):
            found = [u for o in range(lo, min(hi, lo + stride) + 1) for u in readers(o)]
            found += [u for o in range(max(lo, hi - stride), hi + 1) for u in readers(o)]
            firsts.append(min(found, default=EMPTY))
            lasts.append(max(found, default=-1))
        return np.array(firsts, dtype=np.int64), np.array(lasts, dtype=np.int64)

    return first_last


def _upsample_map(config: dict[str, Any], axis: int, size_in: int, size_out: int) -> AxisMap | None:
    mode = config.get("mode", "nearest")
    factor = config.get("scale_factor")
    scale = size_in / size_out if factor is None else 1 / _pair_float(factor, axis)
    if mode == "nearest":
        return lambda a, b: (
            np.floor(a * scale).astype(np.int64),
            np.floor(b * scale).astype(np.int64),
        )
    if mode in ("bilinear", "linear"):
        if config.get("align_corners"):
            ratio = (size_in - 1) / max(size_out - 1, 1)
            return lambda a, b: (
                np.floor(a * ratio).astype(np.int64),
                np.ceil(b * ratio).astype(np.int64),
            )

        def source(o: np.ndarray) -> np.ndarray:
            return np.maximum((o + 0.5) * scale - 0.5, 0)

        return lambda a, b: (
            np.floor(source(a)).astype(np.int64),
            np.floor(source(b)).astype(np.int64) + 1,
        )
    return None


def _pair_float(value: Any, axis: int) -> float:
    if isinstance(value, int | float):
        return float(value)
    return float(value[axis] if len(value) > 1 else value[0])


def _cat_map(node: Node, upstream: Node, axis: int) -> AxisMap | None:
    dim = node.config.get("dim", 0)
    dim = dim + 4 if dim < 0 else dim
    if dim != 2 + axis:
        return lambda a, b: (a, b)  # joined along channels: the same places
    return None  # joined along a rows or columns axis: stay conservative (the whole input)
