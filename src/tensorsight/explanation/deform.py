"""The arithmetic behind the deformable-convolution view, and its detail pack.

For output position ``p0`` and kernel tap ``k`` a deformable convolution reads its input at
``p = p0 + p_k + dp_k`` (regular grid plus learned offset), by bilinear interpolation from the
four pixels around it: ``x(p) = sum_q G(q, p) x(q)`` with ``G(q, p) = g(q_x, p_x) g(q_y, p_y)``
and ``g(a, b) = max(0, 1 - |a - b|)`` (Dai et al. 2017, eq. 3-4); pixels outside read zero. Each
read value is scaled by the tap's mask (DCNv2; 1 without one) and by the tap's weight; the sum
over taps and input channels plus the bias is the output. Everything here is computed
explicitly, corner by corner, so the tests can hold it against :mod:`tensorsight.ops`.

>>> x = torch.tensor([[[1.0, 2.0], [3.0, 5.0]]])
>>> sampling = deform_sampling(torch.tensor([[[0.5]], [[0.5]]]), (1, 1))
>>> bilinear_read(x, sampling)[0, 0].tolist()   # the midpoint of the four pixels
[[2.75]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from tensorsight.capturing import ELEMENTWISE_KINDS, Graph, Node
from tensorsight.explanation.errors import BadParameterError
from tensorsight.explanation.maths import pair as _pair
from tensorsight.ops import sampling_positions

# The four neighbours of a fractional position, as (row step, column step) from its floor.
CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))
# The adaptive receptive field is left out when it would hold more points than this.
MAX_FIELD_POINTS = 1 << 21
# Kinds a receptive field passes through unchanged (one output pixel, one input pixel).
_PIXELWISE = ELEMENTWISE_KINDS | {"batch_norm"}


@dataclass(frozen=True)
class DeformSampling:
    """Where every tap of every output position reads, ``[G, K, Ho, Wo]`` each.

    ``y``/``x`` are the fractional positions, ``y0``/``x0`` their floors (the top-left
    neighbour), and ``weights [G, K, 4, Ho, Wo]`` the bilinear weights ``G(q, p)`` of the four
    neighbours in :data:`CORNERS` order.
    """

    y: torch.Tensor
    x: torch.Tensor
    y0: torch.Tensor
    x0: torch.Tensor
    weights: torch.Tensor


def deform_sampling(
    offset: torch.Tensor,
    kernel_size: Sequence[int],
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0),
    dilation: Sequence[int] = (1, 1),
) -> DeformSampling:
    """The sampling points of one image's ``offset [2 * G * K, Ho, Wo]`` and their neighbours.

    >>> s = deform_sampling(torch.full((2, 1, 1), 0.25), (1, 1))
    >>> s.weights[0, 0, :, 0, 0].tolist()  # G(q, p) for (0, 0), (0, 1), (1, 0), (1, 1)
    [0.5625, 0.1875, 0.1875, 0.0625]
    """
    y, x = sampling_positions(
        offset.unsqueeze(0), _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation)
    )
    y, x = y[0], x[0]
    y0, x0 = torch.floor(y), torch.floor(x)
    weights = torch.stack([_g(y0 + dy, y) * _g(x0 + dx, x) for dy, dx in CORNERS], dim=2)
    return DeformSampling(y, x, y0, x0, weights)


def _g(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The paper's one-dimensional kernel g(a, b) = max(0, 1 - |a - b|)."""
    return torch.clamp(1 - (a - b).abs(), min=0)


def neighbour_values(
    x: torch.Tensor, sampling: DeformSampling, channel_groups: torch.Tensor | None = None
) -> torch.Tensor:
    """The four neighbouring input values of every sampling point, zero outside the input:
    ``[C, K, 4, Ho, Wo]`` for ``x [C, H, W]``; channel ``c`` uses offset group
    ``channel_groups[c]`` (default: group 0 for all).

    >>> s = deform_sampling(torch.full((2, 1, 1), -0.5), (1, 1))
    >>> neighbour_values(torch.ones(1, 2, 2), s)[0, 0, :, 0, 0].tolist()  # above-left: outside
    [0.0, 0.0, 0.0, 1.0]
    """
    channels, height, width = x.shape
    groups = (
        torch.zeros(channels, dtype=torch.long) if channel_groups is None else channel_groups.long()
    )
    values = []
    for dy, dx in CORNERS:
        rows = (sampling.y0 + dy).long()[groups]  # [C, K, Ho, Wo]
        cols = (sampling.x0 + dx).long()[groups]
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        flat = rows.clamp(0, height - 1) * width + cols.clamp(0, width - 1)
        read = torch.gather(
            x.reshape(channels, 1, -1).expand(-1, flat.shape[1], -1),
            2,
            flat.reshape(channels, flat.shape[1], -1),
        )
        values.append(torch.where(inside, read.reshape(flat.shape), torch.zeros((), dtype=x.dtype)))
    return torch.stack(values, dim=2)


def bilinear_read(
    x: torch.Tensor, sampling: DeformSampling, channel_groups: torch.Tensor | None = None
) -> torch.Tensor:
    """The interpolated value of every tap, ``sum_q G(q, p) x(q)``: ``[C, K, Ho, Wo]``.

    >>> s = deform_sampling(torch.zeros(2, 1, 1), (1, 1))
    >>> bilinear_read(torch.full((1, 1, 1), 7.0), s).item()   # on a pixel: its value
    7.0
    """
    groups = (
        torch.zeros(x.shape[0], dtype=torch.long)
        if channel_groups is None
        else channel_groups.long()
    )
    return (neighbour_values(x, sampling, groups) * sampling.weights[groups]).sum(dim=2)


def channel_offset_groups(channels: range, in_channels: int, offset_groups: int) -> torch.Tensor:
    """The offset group of each input channel in ``channels`` (contiguous blocks, as torchvision).

    >>> channel_offset_groups(range(2, 6), in_channels=8, offset_groups=2).tolist()
    [0, 0, 1, 1]
    """
    per_group = in_channels // offset_groups
    return torch.tensor([channel // per_group for channel in channels], dtype=torch.long)


def deform_pack(
    graph: Graph, node: Node, channel: int
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The detail pack of a deformable convolution node for one output channel.

    Arrays (float32, no batch dimension): ``input [Cin_g, H, W]`` (the channels this output
    reads), ``kernel [Cin_g, kh, kw]``, ``offset [G, 2K, Ho, Wo]``, ``mask [G, K, Ho, Wo]`` (ones
    without one), ``sample_y``/``sample_x [G, K, Ho, Wo]``, ``corner_y``/``corner_x`` (the
    floors), ``bilinear [G, K, 4, Ho, Wo]``, ``sampled [Cin_g, K, Ho, Wo]`` (interpolated
    values), ``intermediate [Cin_g, Ho, Wo]`` (sum over taps of sampled x mask x weight),
    ``output [Ho, Wo]`` and, for chains of layers, the receptive fields ``field_y``/``field_x``
    and ``regular_y``/``regular_x`` ``[Ho, Wo, P]`` in model-input pixels.
    Invariant: ``intermediate.sum(0) + bias == output``.
    """
    from tensorsight.explanation.details import check_channel, per_image

    if not node.inputs or "offset" not in node.parameters:
        raise BadParameterError(f"{node.name} has no recorded input or offsets to explain.")
    x = per_image(graph.node(node.inputs[0]).activation).double()
    output = per_image(node.activation)
    check_channel(output, channel)
    config = node.config
    weight = node.parameters["weight"].double()
    bias = node.parameters.get("bias")
    settings = _settings(config, weight)
    offset = per_image(node.parameters["offset"]).double()
    mask_tensor = node.parameters.get("mask")
    taps = settings["kernel_size"][0] * settings["kernel_size"][1]
    groups_count = offset.shape[0] // (2 * taps)
    out_h, out_w = offset.shape[-2:]
    mask = (
        per_image(mask_tensor).double().reshape(groups_count, taps, out_h, out_w)
        if mask_tensor is not None
        else torch.ones(groups_count, taps, out_h, out_w, dtype=torch.float64)
    )
    per_group_in = weight.shape[1]
    group = channel // (weight.shape[0] // settings["groups"])
    channels = range(group * per_group_in, (group + 1) * per_group_in)
    channel_groups = channel_offset_groups(channels, x.shape[0], groups_count)
    sampling = deform_sampling(
        offset,
        settings["kernel_size"],
        settings["stride"],
        settings["padding"],
        settings["dilation"],
    )
    sampled = bilinear_read(x[channels.start : channels.stop], sampling, channel_groups)
    kernel = weight[channel]
    terms = sampled * mask[channel_groups] * kernel.reshape(per_group_in, taps, 1, 1)
    meta = {
        "channel": channel,
        **{name: list(settings[name]) for name in ("kernel_size", "stride", "padding", "dilation")},
        "groups": settings["groups"],
        "offset_groups": groups_count,
        "modulated": mask_tensor is not None,
        "bias": 0.0 if bias is None else float(bias[channel]),
        "in_channels": [channels.start, channels.stop],
        "channel_offset_groups": channel_groups.tolist(),
        "offset_node": config.get("offset_node"),
        "mask_node": config.get("mask_node"),
        "corners": [list(corner) for corner in CORNERS],
    }
    arrays = {
        "input": x[channels.start : channels.stop],
        "kernel": kernel,
        "offset": offset.reshape(groups_count, 2 * taps, out_h, out_w),
        "mask": mask,
        "sample_y": sampling.y,
        "sample_x": sampling.x,
        "corner_y": sampling.y0,
        "corner_x": sampling.x0,
        "bilinear": sampling.weights,
        "sampled": sampled,
        "intermediate": terms.sum(dim=1),
        "output": output[channel],
    }
    field = receptive_fields(graph, node)
    if field is not None:
        meta["field_levels"] = field.pop("levels")
        arrays.update(field)
    return meta, arrays


def _settings(config: dict[str, Any], weight: torch.Tensor) -> dict[str, Any]:
    return {
        "kernel_size": tuple(weight.shape[2:]),
        "stride": _pair(config.get("stride", 1)),
        "padding": _pair(config.get("padding", 0)),
        "dilation": _pair(config.get("dilation", 1)),
        "groups": int(config.get("groups", 1)),
    }


def receptive_fields(graph: Graph, node: Node) -> dict[str, Any] | None:
    """Where each output position's sampling points land on the model input, through every
    deformable layer of the chain that leads to ``node`` (the paper's figure 5), and where the
    same chain with zero offsets (the plain model) would read.

    Each deformable layer expands a point into its taps' sampling points (read from the offsets
    at the nearest output position); plain convolutions and pools map a point to the centre of
    their window; pixel-wise layers keep it. Returns ``{"field_y", "field_x", "regular_y",
    "regular_x"}`` (``[Ho, Wo, P]``, model-input pixels) and ``levels`` (how many deformable
    layers were expanded), or None when the chain holds another kind of layer (a join, a
    reshape) or the field would be too large.
    """
    chain = _chain(graph, node)
    if chain is None:
        return None
    out_h, out_w = node.output_shape[-2:]
    expansions = sum(1 for step in chain if step.kind == "deform_conv2d")
    taps = [_taps(step) for step in chain if step.kind == "deform_conv2d"]
    points = out_h * out_w
    for count in taps:
        points *= count
    if points > MAX_FIELD_POINTS:
        return None
    rows = torch.arange(out_h, dtype=torch.float64).reshape(out_h, 1, 1).expand(out_h, out_w, 1)
    cols = torch.arange(out_w, dtype=torch.float64).reshape(1, out_w, 1).expand(out_h, out_w, 1)
    fields: dict[str, Any] = {}
    for name, deformed in (("field", True), ("regular", False)):
        y, x = rows.clone(), cols.clone()
        for step in chain:
            y, x = _map_back(step, y, x, deformed=deformed)
        fields[f"{name}_y"], fields[f"{name}_x"] = y, x
    fields["levels"] = expansions
    return fields


def _chain(graph: Graph, node: Node) -> list[Node] | None:
    """The nodes from ``node`` back to the model input, following first inputs; None when one
    of them is not a convolution, a pool or a pixel-wise layer."""
    chain = []
    current = node
    while current.kind != "input":
        if (
            current.kind not in ("deform_conv2d", "conv2d", "max_pool2d", "avg_pool2d", *_PIXELWISE)
            or not current.inputs
        ):
            return None
        if current.kind == "conv2d" and isinstance(current.config.get("padding"), str):
            return None
        chain.append(current)
        current = graph.node(current.inputs[0])
    return chain


def _taps(node: Node) -> int:
    kh, kw = node.parameters["weight"].shape[2:]
    return int(kh * kw)


def _map_back(
    node: Node, y: torch.Tensor, x: torch.Tensor, *, deformed: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions ``[Ho, Wo, P]`` in ``node``'s output -> positions in its input."""
    if node.kind in _PIXELWISE:
        return y, x
    config = node.config
    if node.kind == "deform_conv2d":
        return _deform_back(node, y, x, deformed=deformed)
    if node.kind == "conv2d":
        kernel = tuple(node.parameters["weight"].shape[2:])
    else:
        kernel = _pair(config.get("kernel_size", 1))
    stride = _pair(config.get("stride") or kernel)
    padding, dilation = _pair(config.get("padding", 0)), _pair(config.get("dilation", 1))
    # the centre of the window: a plain layer reads around it evenly
    centre_y = y * stride[0] - padding[0] + dilation[0] * (kernel[0] - 1) / 2
    centre_x = x * stride[1] - padding[1] + dilation[1] * (kernel[1] - 1) / 2
    return centre_y, centre_x


def _deform_back(
    node: Node, y: torch.Tensor, x: torch.Tensor, *, deformed: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    offset = node.parameters["offset"][0].double()
    config = node.config
    kernel = tuple(node.parameters["weight"].shape[2:])
    if not deformed:
        offset = torch.zeros_like(offset)
    sampling = deform_sampling(
        offset,
        kernel,
        _pair(config.get("stride", 1)),
        _pair(config.get("padding", 0)),
        _pair(config.get("dilation", 1)),
    )
    out_h, out_w = offset.shape[-2:]
    # A fractional point reads the offsets of the output position nearest to it (group 0).
    row = y.round().clamp(0, out_h - 1).long()
    col = x.round().clamp(0, out_w - 1).long()
    taps_y = sampling.y[0][:, row, col]  # [K, Ho, Wo, P]
    taps_x = sampling.x[0][:, row, col]
    shape = (*y.shape[:2], -1)
    return (taps_y.permute(1, 2, 3, 0).reshape(shape), taps_x.permute(1, 2, 3, 0).reshape(shape))
