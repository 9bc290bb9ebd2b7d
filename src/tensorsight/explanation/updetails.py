"""Detail packs of the layers that enlarge or renormalise maps: transposed convolution,
upsampling, layer norm and mean (docs/architecture.md, "Detail packs"). The numbers come from
:mod:`tensorsight.explanation.upmaths`; the ``output`` array is always the captured tensor.

:func:`tensorsight.explanation.details.detail_pack` dispatches here through ``BUILDERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from tensorsight.capturing import Graph, Node
from tensorsight.explanation import upmaths
from tensorsight.explanation.details import (
    TensorPack,
    _generic,
    _plane,
    _source,
    check_channel,
    per_image,
)
from tensorsight.explanation.maths import pair


def _conv_transpose2d(graph: Graph, node: Node, channel: int) -> TensorPack:
    x = per_image(_source(graph, node).activation)
    output = per_image(node.activation)
    check_channel(output, channel)
    weight, bias = node.parameters["weight"], node.parameters.get("bias")
    config = node.config
    (sh, sw), (ph, pw) = pair(config.get("stride", 1)), pair(config.get("padding", 0))
    (oh, ow), (dh, dw) = pair(config.get("output_padding", 0)), pair(config.get("dilation", 1))
    groups = int(config.get("groups", 1))
    settings: dict[str, Any] = {
        "stride": (sh, sw),
        "padding": (ph, pw),
        "output_padding": (oh, ow),
        "dilation": (dh, dw),
        "groups": groups,
    }
    scatter = upmaths.conv_transpose_scatter(x, weight, channel, bias, **settings)
    as_conv = upmaths.conv_transpose_as_conv(x, weight, channel, bias, **settings)
    channels = scatter.channels
    meta = {
        "channel": channel,
        "stride": [sh, sw],
        "padding": [ph, pw],
        "output_padding": [oh, ow],
        "dilation": [dh, dw],
        "groups": groups,
        "bias": scatter.bias,
        "in_channels": [channels.start, channels.stop],
        "equivalent_padding": list(as_conv.padding),
    }
    (out_h, out_w), (kh, kw) = output.shape[1:], weight.shape[2:]
    arrays = {
        "input": x[channels.start : channels.stop],
        "kernel": scatter.kernel,
        "full": scatter.full,
        "intermediate": scatter.intermediate,
        "stamped": scatter.intermediate.sum(0),
        "stretched": as_conv.stretched,
        "flipped": as_conv.flipped,
        "output": output[channel],
        # Which input cells stamp onto each output row/column, and which window cells of the
        # zero-inserted input the equivalent convolution reads: the view only looks them up.
        "row_taps": upmaths.transposed_taps(out_h, x.shape[1], kh, sh, ph, dh),
        "col_taps": upmaths.transposed_taps(out_w, x.shape[2], kw, sw, pw, dw),
        "window_rows": upmaths.window_cells(out_h, kh, dh),
        "window_cols": upmaths.window_cells(out_w, kw, dw),
        # Where each input cell's stamp starts on the canvas, and which canvas row/column each
        # output row/column is (-1: output padding, past the canvas).
        "stamp_rows": torch.arange(x.shape[1]) * sh,
        "stamp_cols": torch.arange(x.shape[2]) * sw,
        "canvas_rows": _canvas_cells(out_h, ph, scatter.full.shape[0]),
        "canvas_cols": _canvas_cells(out_w, pw, scatter.full.shape[1]),
    }
    meta["stamp_span"] = [dh * (kh - 1) + 1, dw * (kw - 1) + 1]
    return meta, arrays


def _canvas_cells(out_size: int, padding: int, canvas: int) -> torch.Tensor:
    cells = torch.arange(out_size) + padding
    return torch.where(cells < canvas, cells, torch.full_like(cells, -1))


def _upsample(graph: Graph, node: Node, channel: int) -> TensorPack:
    x = per_image(_source(graph, node).activation)
    output = per_image(node.activation)
    mode = str(node.config.get("mode", "nearest"))
    if mode not in upmaths.UPSAMPLE_MODES or x.dim() != 3 or output.dim() != 3:
        return _generic(graph, node, channel)  # linear/bicubic/3-D: maps only
    check_channel(output, channel)
    factor = node.config.get("scale_factor")
    factors = (
        None
        if factor in (None, [])
        else (
            (float(factor),) * 2 if isinstance(factor, int | float) else tuple(map(float, factor))
        )
    )
    align = node.config.get("align_corners")
    weights = upmaths.resample_weights(
        x.shape[1:], output.shape[1:], mode, bool(align) if align is not None else None, factors
    )
    meta = {
        "channel": channel,
        "mode": mode,
        "align_corners": bool(align),
        "scale_factor": list(factors) if factors else None,
    }
    return meta, {
        "input": x[channel],
        "output": output[channel],
        "row_index": weights.row_index,
        "row_weight": weights.row_weight,
        "col_index": weights.col_index,
        "col_weight": weights.col_weight,
    }


def _layer_norm(graph: Graph, node: Node, channel: int) -> TensorPack:
    x = per_image(_source(graph, node).activation)
    output = per_image(node.activation)
    shape = node.config.get("normalized_shape", [x.shape[-1]])
    shape = [shape] if isinstance(shape, int) else list(shape)
    terms = upmaths.layer_norm_terms(
        x,
        len(shape),
        float(node.config.get("eps", 1e-5)),
        node.parameters.get("weight"),
        node.parameters.get("bias"),
    )
    meta = {
        "channel": channel,
        "normalized_shape": shape,
        "eps": float(node.config.get("eps", 1e-5)),
        "group_size": terms.group_size,
    }
    arrays = {
        "input": x,
        "mean": terms.mean,
        "std": terms.std,
        "gamma": terms.gamma,
        "beta": terms.beta,
        "output": output,
    }
    return meta, {name: _plane(array, channel) for name, array in arrays.items()}


def _mean(graph: Graph, node: Node, channel: int) -> TensorPack:
    source = _source(graph, node).activation
    x = per_image(source)
    dim = node.config.get("dim")
    # The config's dims count the batch dimension; the groups are per image.
    dims = (
        None
        if dim in (None, [])
        else [
            (int(d) % source.dim()) - 1
            for d in ([dim] if isinstance(dim, int) else dim)
            if int(d) % source.dim() != 0
        ]
    )
    groups = upmaths.mean_groups(x, dims or None, bool(node.config.get("keepdim", False)))
    meta = {
        "channel": channel,
        "dim": list(groups.dims),
        "keepdim": bool(node.config.get("keepdim", False)),
        "count": int(groups.groups.shape[1]),
        "input_shape": list(x.shape),
        "output_shape": list(groups.output_shape),
    }
    return meta, {
        "groups": groups.groups,
        "sums": groups.groups.sum(1),
        "output": per_image(node.activation).reshape(-1),
    }


BUILDERS: dict[str, Callable[[Graph, Node, int], TensorPack]] = {
    "conv_transpose2d": _conv_transpose2d,
    "upsample": _upsample,
    "layer_norm": _layer_norm,
    "mean": _mean,
}

__all__ = ["BUILDERS"]
