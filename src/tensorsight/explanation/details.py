"""Detail packs: for one node and one channel, the real numbers its detail view explains.

Each builder returns ``(meta, arrays)`` for :func:`~tensorsight.explanation.pack.encode_pack`
(docs/architecture.md, "Detail packs"). Arrays are the captured tensors, or computed from them
by :mod:`tensorsight.explanation.maths`; values are float32, indices (window ranges, argmax)
int32, and none has the batch dimension. The front end computes none of these numbers: it only
looks them up (docs/architecture.md says why windows travel as ranges and conv products lazily).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tensorsight.capturing import ELEMENTWISE_KINDS, Graph, Node
from tensorsight.explanation import maths
from tensorsight.explanation.deform import deform_pack
from tensorsight.explanation.errors import BadParameterError

Pack = tuple[dict[str, Any], dict[str, np.ndarray]]
# What the builders return: the same arrays, still as tensors.
TensorPack = tuple[dict[str, Any], dict[str, torch.Tensor]]

# Arrays that hold positions (window tables, the cell max pooling picked), not values.
INDEX_ARRAYS = frozenset(
    (
        "rows",
        "cols",
        "argmax",
        "row_index",
        "col_index",
        "row_taps",
        "col_taps",
        "window_rows",
        "window_cols",
        "stamp_rows",
        "stamp_cols",
        "canvas_rows",
        "canvas_cols",
    )
)


def detail_pack(graph: Graph, node: Node, channel: int) -> Pack:
    """The detail pack of ``node`` for output ``channel`` (the unit, for dense layers)."""
    builder = _elementwise if node.kind in ELEMENTWISE_KINDS else _BUILDERS.get(node.kind, _generic)
    meta, arrays = builder(graph, node, channel)
    return {"kind": node.kind, **meta}, _numpy(arrays)


def terms_pack(graph: Graph, node: Node, channel: int, row: int, col: int) -> Pack:
    """One output value of a convolution term by term: the patch under the window and the
    products patch × kernel, for every input channel (``[Cin_g, kh, kw]`` each).

    Sent on demand, one window at a time: all windows of a layer at once would be
    ``Cin_g·kh·kw`` times its output map (megabytes for MobileNetV2's first layer).

    >>> import torch
    >>> from tensorsight import capture
    >>> graph = capture(torch.nn.Conv2d(2, 1, 3), torch.ones(1, 2, 4, 4))
    >>> meta, arrays = terms_pack(graph, graph.nodes[1], 0, 1, 1)
    >>> arrays["patch"].shape, arrays["products"].shape
    ((2, 3, 3), (2, 3, 3))
    """
    if node.kind != "conv2d":
        raise BadParameterError(
            f"{node.name} is a {node.kind} layer; per-window terms exist for convolutions only."
        )
    x, output = per_image(_source(graph, node).activation), per_image(node.activation)
    check_channel(output, channel)
    for name, index, size in (("row", row, output.shape[1]), ("column", col, output.shape[2])):
        if not 0 <= index < size:
            raise BadParameterError(
                f"{name} {index} is outside the {size} {name}s of {node.name}'s output."
            )
    settings = _conv_settings(node)
    terms = maths.conv_terms(
        x, node.parameters["weight"], node.parameters.get("bias"), channel, row, col, **settings
    )
    meta = {"kind": node.kind, "channel": channel, "row": row, "col": col, "bias": terms.bias}
    return meta, _numpy(
        {"patch": terms.patch, "products": terms.products, "channel_sums": terms.channel_sums}
    )


def per_image(tensor: torch.Tensor) -> torch.Tensor:
    """The first image of a batched tensor; a scalar becomes a one-element vector."""
    values = tensor[0] if tensor.dim() > 1 else tensor
    return values.reshape(1) if values.dim() == 0 else values


def check_channel(values: torch.Tensor, channel: int, what: str = "channel") -> None:
    """Raise :class:`BadParameterError` unless ``channel`` indexes the first axis of ``values``."""
    if not 0 <= channel < values.shape[0]:
        raise BadParameterError(
            f"{what} {channel} does not exist: this node has {values.shape[0]} "
            f"({what}s 0 to {values.shape[0] - 1})."
        )


def _plane(values: torch.Tensor, channel: int) -> torch.Tensor:
    """One channel of a map, or the whole tensor when it is a vector."""
    if values.dim() == 1:
        return values
    check_channel(values, channel)
    return values[channel]


def _source(graph: Graph, node: Node) -> Node:
    """The node whose output this one reads first."""
    if not node.inputs:
        raise BadParameterError(
            f"{node.name} has no recorded input to explain it with (it reads a tensor that no "
            "earlier layer produced)."
        )
    return graph.node(node.inputs[0])


def _conv2d(graph: Graph, node: Node, channel: int) -> TensorPack:
    x = per_image(_source(graph, node).activation)
    output = per_image(node.activation)
    check_channel(output, channel)
    weight, bias = node.parameters["weight"], node.parameters.get("bias")
    settings = _conv_settings(node)
    channels = maths.conv_input_channels(channel, x.shape[0], weight.shape[0], settings["groups"])
    intermediate = maths.conv_channel_maps(x, weight, channel, **settings)
    top, _, left, _ = maths.conv_padding(
        settings["padding"], weight.shape[2:], settings["dilation"]
    )
    meta = {
        "channel": channel,
        "stride": list(settings["stride"]),
        "padding": [top, left],
        "dilation": list(settings["dilation"]),
        "groups": settings["groups"],
        "padding_mode": settings["padding_mode"],
        "bias": 0.0 if bias is None else float(bias[channel]),
        "in_channels": list(channels),
    }
    arrays = {
        "input": x[channels.start : channels.stop],
        "kernel": weight[channel],
        "intermediate": intermediate,
        "output": output[channel],
        **_window_tables(
            output.shape[1:],
            weight.shape[2:],
            settings["stride"],
            (top, left),
            settings["dilation"],
        ),
    }
    return meta, arrays


def _conv_settings(node: Node) -> dict[str, Any]:
    config = node.config
    return {
        "stride": maths.pair(config.get("stride", 1)),
        "padding": config.get("padding", 0),
        "dilation": maths.pair(config.get("dilation", 1)),
        "groups": int(config.get("groups", 1)),
        "padding_mode": config.get("padding_mode", "zeros"),
    }


def _window_tables(
    out_size: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> dict[str, torch.Tensor]:
    """``rows [Ho, 3]`` and ``cols [Wo, 3]``: the (start, stop, step) of every window's taps."""
    return {
        name: maths.window_ranges(
            int(out_size[axis]),
            kernel=int(kernel[axis]),
            stride=int(stride[axis]),
            padding=int(padding[axis]),
            dilation=int(dilation[axis]),
        )
        for axis, name in enumerate(("rows", "cols"))
    }


def _elementwise(graph: Graph, node: Node, channel: int) -> TensorPack:
    settings: dict[str, Any] = {
        name: node.config[name]
        for name in ("negative_slope", "approximate", "p")
        if name in node.config
    }
    x = per_image(_source(graph, node).activation)
    return (
        {"channel": channel, **settings},
        {"input": _plane(x, channel), "output": _plane(per_image(node.activation), channel)},
    )


def _pool(graph: Graph, node: Node, channel: int) -> TensorPack:
    config = node.config
    meta: dict[str, Any] = {"channel": channel}
    if node.kind == "adaptive_avg_pool2d":
        meta["output_size"] = list(per_image(node.activation).shape[1:])
    else:
        kernel = maths.pair(config["kernel_size"])
        stride = config.get("stride") or kernel  # PyTorch: stride defaults to the kernel size
        meta.update(
            kernel_size=list(kernel),
            stride=list(maths.pair(stride)),
            padding=list(maths.pair(config.get("padding", 0))),
            dilation=list(maths.pair(config.get("dilation", 1))),
            ceil_mode=bool(config.get("ceil_mode", False)),
        )
        if node.kind == "avg_pool2d":
            meta["count_include_pad"] = bool(config.get("count_include_pad", True))
    x, output = per_image(_source(graph, node).activation), per_image(node.activation)
    arrays = {"input": _plane(x, channel), "output": _plane(output, channel)}
    if arrays["input"].dim() == 2:
        arrays.update(_pool_windows(node.kind, meta, arrays["input"], arrays["output"]))
    return meta, arrays


def _pool_windows(
    kind: str, meta: dict[str, Any], x: torch.Tensor, output: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Window ranges of a pooling plane, and for max pooling which input cell won (``argmax
    [Ho, Wo]``, a flat index into the input map, as ``max_pool2d`` itself reports it)."""
    if kind == "adaptive_avg_pool2d":
        return {
            "rows": maths.adaptive_ranges(output.shape[0], x.shape[0]),
            "cols": maths.adaptive_ranges(output.shape[1], x.shape[1]),
        }
    tables = _window_tables(
        output.shape, meta["kernel_size"], meta["stride"], meta["padding"], meta["dilation"]
    )
    if kind == "max_pool2d":
        _, argmax = F.max_pool2d(
            x[None].float(),
            meta["kernel_size"],
            meta["stride"],
            meta["padding"],
            meta["dilation"],
            ceil_mode=meta["ceil_mode"],
            return_indices=True,
        )
        tables["argmax"] = argmax[0].to(torch.int32)
    return tables


def _linear(graph: Graph, node: Node, channel: int) -> TensorPack:
    x = per_image(_source(graph, node).activation)
    output = per_image(node.activation)
    if x.dim() != 1:
        raise BadParameterError(
            f"{node.name} is applied to every row of a {list(x.shape)} tensor; its detail view "
            "explains dense layers on vectors only."
        )
    check_channel(output, channel, "unit")
    weight, bias = node.parameters["weight"], node.parameters.get("bias")
    meta = {
        "channel": channel,
        "bias": 0.0 if bias is None else float(bias[channel]),
        "in_features": int(weight.shape[1]),
        "out_features": int(weight.shape[0]),
    }
    terms = maths.linear_terms(x, weight, bias, channel)
    return meta, {
        "input": x,
        "weight": weight[channel],
        "products": terms.products,
        "output": output,
    }


def _reshape(graph: Graph, node: Node, channel: int) -> TensorPack:
    x = per_image(_source(graph, node).activation)
    return ({"input_shape": list(x.shape)}, {"input": x, "output": per_image(node.activation)})


def _softmax(graph: Graph, node: Node, channel: int) -> TensorPack:
    logits = per_image(_source(graph, node).activation)
    if logits.dim() != 1:
        raise BadParameterError(
            f"{node.name} normalises a {list(logits.shape)} tensor; its detail view explains "
            "softmax over a vector of class scores only."
        )
    terms = maths.softmax_terms(logits)
    # The probabilities shown are the node's own output, not exp / sum recomputed here (which
    # can differ in the last bit from torch.softmax).
    return (
        {"sum_exp": terms.sum_exp, "max_logit": terms.max_logit},
        {"logits": terms.logits, "exp": terms.exp, "probabilities": per_image(node.activation)},
    )


def _batch_norm(graph: Graph, node: Node, channel: int) -> TensorPack:
    source = _source(graph, node).activation
    x, output = per_image(source), per_image(node.activation)
    check_channel(output, channel)
    parameters = node.parameters
    if "running_mean" in parameters:
        mean = float(parameters["running_mean"][channel])
        var = float(parameters["running_var"][channel])
    else:  # no running statistics: normalised with the batch's own (biased) statistics
        values = source.transpose(0, 1)[channel].double()
        mean, var = float(values.mean()), float(values.var(unbiased=False))
    gamma = float(parameters["weight"][channel]) if "weight" in parameters else 1.0
    beta = float(parameters["bias"][channel]) if "bias" in parameters else 0.0
    eps = float(node.config["eps"])
    line = maths.batch_norm_terms(x[channel], mean, var, eps, gamma, beta)
    meta = {
        "channel": channel,
        "mean": mean,
        "var": var,
        "eps": eps,
        "gamma": gamma,
        "beta": beta,
        "scale": line.scale,
        "shift": line.shift,
    }
    return meta, {"input": x[channel], "output": output[channel]}


def _elementwise_binary(graph: Graph, node: Node, channel: int) -> TensorPack:
    output = per_image(node.activation)
    operands = (
        torch.stack(
            [
                _plane(per_image(graph.node(source).activation).expand_as(output), channel)
                for source in node.inputs
            ]
        )
        if node.inputs
        else torch.empty(0)
    )
    return (
        {"channel": channel, "operand_nodes": list(node.inputs)},
        {"operands": operands, "output": _plane(output, channel)},
    )


def _cat(graph: Graph, node: Node, channel: int) -> TensorPack:
    output = per_image(node.activation)
    batched_dim = int(node.config.get("dim", 0))
    dim = (batched_dim % len(node.output_shape)) - 1  # without the batch dimension
    sizes = [per_image(graph.node(source).activation).shape[dim] for source in node.inputs]
    spans = list(zip(node.inputs, maths.concat_sources(sizes), strict=True))
    sources = [{"node": source, "start": start, "stop": stop} for source, (start, stop) in spans]
    # The source (its position in ``sources``) and channel this output channel is a copy of.
    origin = next(
        (
            {"source": index, "node": source, "channel": channel - start}
            for index, (source, (start, stop)) in enumerate(spans)
            if dim == 0 and start <= channel < stop
        ),
        None,
    )
    return (
        {"channel": channel, "dim": dim, "sources": sources, "origin": origin},
        {"output": _plane(output, channel)},
    )


def _generic(graph: Graph, node: Node, channel: int) -> TensorPack:
    output = per_image(node.activation)
    arrays = {"output": _plane(output, channel)}
    if node.inputs:
        x = per_image(graph.node(node.inputs[0]).activation)
        if x.dim() == 1 or channel < x.shape[0]:
            arrays = {"input": _plane(x, channel), **arrays}
    return {"channel": channel}, arrays


_BUILDERS: dict[str, Callable[[Graph, Node, int], TensorPack]] = {
    "conv2d": _conv2d,
    "deform_conv2d": deform_pack,
    "max_pool2d": _pool,
    "avg_pool2d": _pool,
    "adaptive_avg_pool2d": _pool,
    "linear": _linear,
    "flatten": _reshape,
    "reshape": _reshape,
    "softmax": _softmax,
    "batch_norm": _batch_norm,
    "add": _elementwise_binary,
    "mul": _elementwise_binary,
    "cat": _cat,
}


# Transposed convolution, upsample, layer norm and mean live in their own module, which reads
# this one's helpers: registered once both are defined.
from tensorsight.explanation.updetails import BUILDERS as _UP_BUILDERS  # noqa: E402

_BUILDERS.update(_UP_BUILDERS)


def _numpy(arrays: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Index arrays as int32, everything else (an integer activation too) as float32."""
    return {
        name: np.ascontiguousarray(
            array.detach().to(torch.int32 if name in INDEX_ARRAYS else torch.float32).numpy()
        )
        for name, array in arrays.items()
    }
