"""Rules for ``nn.Module`` calls: the layer that rejected its input, its configuration, and
what it expected of every input it was given.

The layer is found in the traceback (the deepest ``forward`` frame below the user's call), so
``self.body(x)`` on an ``nn.Sequential`` names the inner layer that failed. Layers are matched
by their public torch classes only.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from tensorsight.debugger.arrays import Dim, dims_text
from tensorsight.debugger.clarifying.context import Context
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.operands import Operand
from tensorsight.debugger.clarifying.phrases import conflict_text
from tensorsight.debugger.render import Box

# The frames of Module.__call__ (the names differ across torch versions).
MODULE_CALLS = ("_wrapped_call_impl", "_call_impl")

Expected = tuple[str, list[Operand], tuple[Dim, ...] | None]
"""What a layer rule finds: the sentence, the inputs (disagreeing dims marked), and the shape
the layer expected of its first input (None: draw the inputs only)."""


@dataclass(frozen=True)
class LayerCall:
    """The layer that failed, how the note names it, and its inputs as operands."""

    layer: Any
    path: str
    inputs: list[Operand]


def _display_path(base: str, path: str) -> str:
    for part in path.split("."):
        base += f"[{part}]" if part.isdigit() else f".{part}"
    return base


def _failing_forward(context: Context, called: Any) -> tuple[Any, tuple[str, ...], list[Any]]:
    """The deepest ``nn.Module.forward`` frame below the user's call: (module, its parameter
    names after ``self``, the values they were called with); ``called`` with no inputs when
    none is found."""
    torch = sys.modules["torch"]
    frames = context.site.library_frames
    for frame in reversed(frames):
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "forward" and isinstance(owner, torch.nn.Module):
            code = frame.f_code
            names = code.co_varnames[1 : code.co_argcount]
            passed = _passed(frames, owner, names)
            if passed is None:  # forward called without Module.__call__: its locals, as they are
                passed = [(name, frame.f_locals[name]) for name in names if name in frame.f_locals]
            return owner, tuple(name for name, _ in passed), [value for _, value in passed]
    return called, (), []


def _passed(
    frames: Sequence[Any], module: Any, names: Sequence[str]
) -> list[tuple[str, Any]] | None:
    """The arguments ``module`` was called with, read from its ``Module.__call__`` frame.

    Not from ``forward``'s locals: a forward may rebind its inputs before it fails
    (``nn.MultiheadAttention`` transposes them when ``batch_first``).
    """
    for frame in frames:
        if frame.f_code.co_name in MODULE_CALLS and frame.f_locals.get("self") is module:
            args = frame.f_locals.get("args", ())
            kwargs = frame.f_locals.get("kwargs", {})
            return [
                (name, args[index] if index < len(args) else kwargs[name])
                for index, name in enumerate(names)
                if index < len(args) or name in kwargs
            ]
    return None


def _layer_call(context: Context, node: ast.Call, module: Any, name: str) -> LayerCall | None:
    leaf, names, values = _failing_forward(context, module)
    path = name
    if leaf is not module:
        paths = (_display_path(name, sub) for sub, mod in module.named_modules() if mod is leaf)
        path = next(paths, f"a {type(leaf).__name__} inside {name}")
    tensors = [
        (position, param, value)
        for position, (param, value) in enumerate(zip(names, values, strict=True))
        if Operand.of("", value).framework
    ]
    if tensors:
        only = len(tensors) == 1
        inputs = [
            _input(
                context,
                node,
                position,
                value,
                leaf is module,
                f"input of {path}" if only else f"{param} of {path}",
            )
            for position, param, value in tensors
        ]
    elif node.args:
        inputs = [context.operand(node.args[0])]
    else:
        return None
    return LayerCall(leaf, path, inputs)


def _input(
    context: Context, node: ast.Call, position: int, value: Any, direct: bool, prose: str
) -> Operand:
    """An input named by the user's argument when the user called this very layer with it,
    else in words (``input of self.body[2]``)."""
    if direct and position < len(node.args) and not isinstance(node.args[position], ast.Starred):
        return Operand.of(context.text(node.args[position]), value)
    return replace(Operand.of(prose, value), prose=True)


def layer_config(layer: Any) -> str:
    """``Linear(in_features=128, ...)``: the layer's type and configuration."""
    torch = sys.modules["torch"]
    if isinstance(layer, torch.nn.MultiheadAttention):
        parts = [f"embed_dim={layer.embed_dim}", f"num_heads={layer.num_heads}"]
        parts += [
            f"{name}={getattr(layer, name)}"
            for name in ("kdim", "vdim")
            if getattr(layer, name) != layer.embed_dim
        ]
        parts.append(f"batch_first={layer.batch_first}")
        return f"MultiheadAttention({', '.join(parts)})"
    return f"{type(layer).__name__}({layer.extra_repr()})"


def module_call(context: Context, node: ast.Call, module: Any, name: str) -> Clarification | None:
    """``self.fc(x)``: the module (or the layer inside it) that rejected its input."""
    call = _layer_call(context, node, module, name)
    if call is None:
        return None
    config = layer_config(call.layer)
    explained = layer_rule(call.layer, call.inputs)
    if explained is None:
        given = call.inputs[0]
        cause = f"{call.path} is {config}: it failed on input {given.ref()} ({given.shape_text()})"
        return context.build(cause, call.inputs, [given.box(), "→", call.path])
    want, marked, expected = explained
    cause = f"{call.path} is {config}: {want}"
    if expected is None:
        drawing: list[Box | str] = [*_boxes(marked), "→", call.path]
    else:
        drawing = [marked[0].box(), "vs", Box(f"{call.path} expects", expected, marked[0].bad)]
    return context.build(cause, marked, drawing)


def _boxes(operands: Sequence[Operand]) -> list[Box | str]:
    items: list[Box | str] = []
    for op in operands:
        items += [op.box(), ","]
    return items[:-1]


def _subject(given: Operand) -> str:
    return "its input" if given.prose else f"input {given.ref()}"


def layer_rule(layer: Any, inputs: Sequence[Operand]) -> Expected | None:
    """What ``layer`` expected of its inputs, when they do not fit; see :data:`Expected`."""
    nn = sys.modules["torch"].nn
    if isinstance(layer, nn.MultiheadAttention):
        return attention_rule(layer, inputs)
    given = inputs[0]
    if given.shape is None or not given.shape:
        return None
    for kinds, rule in _SINGLE_INPUT_RULES:
        if isinstance(layer, tuple(getattr(nn, kind) for kind in kinds)):
            found = rule(layer, given)
            if found is not None:
                sentence, marked, expected = found
                return sentence, [marked, *inputs[1:]], expected
            return None
    return None


def _linear(layer: Any, given: Operand) -> tuple[str, Operand, tuple[Dim, ...]] | None:
    assert given.shape is not None
    if given.shape[-1] == layer.in_features:
        return None
    dim = given.ndim - 1
    return (
        f"{_subject(given)} is {given.shape_text()} but dim {dim} should be "
        f"{layer.in_features} (in_features)",
        given.with_bad(dim),
        (*given.shape[:-1], layer.in_features),
    )


def _convolution(layer: Any, given: Operand) -> tuple[str, Operand, tuple[Dim, ...]] | None:
    assert given.shape is not None
    spatial = len(layer.kernel_size)
    letters = ("L",) if spatial == 1 else ("H", "W") if spatial == 2 else ("D", "H", "W")
    expected: tuple[Dim, ...] = (layer.in_channels, *letters)
    ndim = given.ndim
    if ndim != spatial + 1:
        expected = ("N", *expected)
    if ndim not in (spatial + 1, spatial + 2):
        return (
            f"{_subject(given)} is {given.shape_text()} ({ndim}-D) but it should be "
            f"{spatial + 2}-D N x C x {' x '.join(letters)} (or {spatial + 1}-D without N)",
            given,
            expected,
        )
    channel = ndim - spatial - 1
    if given.shape[channel] != layer.in_channels:
        return (
            f"{_subject(given)} is {given.shape_text()} but dim {channel} should be "
            f"{layer.in_channels} (in_channels)",
            given.with_bad(channel),
            expected,
        )
    return _kernel_too_large(layer, given, expected)


def _kernel_too_large(
    layer: Any, given: Operand, expected: tuple[Dim, ...]
) -> tuple[str, Operand, tuple[Dim, ...]] | None:
    assert given.shape is not None
    spatial = len(layer.kernel_size)
    padding = layer.padding if isinstance(layer.padding, tuple) else (0,) * spatial
    sizes = given.shape[-spatial:]
    reach = [d * (k - 1) + 1 for d, k in zip(layer.dilation, layer.kernel_size, strict=True)]
    small = [i for i in range(spatial) if sizes[i] + 2 * padding[i] < reach[i]]
    if not small:
        return None
    first_dim = given.ndim - spatial
    marked = given.with_bad(*(first_dim + i for i in small))
    return (
        f"{_subject(given)} is {given.shape_text()} but its spatial size "
        f"{dims_text(sizes)} (padding {dims_text(padding)}) is smaller than the kernel "
        f"{dims_text(tuple(reach))}",
        marked,
        expected,
    )


def _batch_norm(layer: Any, given: Operand) -> tuple[str, Operand, tuple[Dim, ...]] | None:
    assert given.shape is not None
    channel = 1 if given.ndim > 1 else 0
    if given.shape[channel] == layer.num_features:
        return None
    return (
        f"{_subject(given)} is {given.shape_text()} but dim {channel} should be "
        f"{layer.num_features} (num_features)",
        given.with_bad(channel),
        (*given.shape[:channel], layer.num_features, *given.shape[channel + 1 :]),
    )


def _layer_norm(layer: Any, given: Operand) -> tuple[str, Operand, tuple[Dim, ...]] | None:
    assert given.shape is not None
    normalized = tuple(layer.normalized_shape)
    if given.shape[-len(normalized) :] == normalized:
        return None
    ndim = given.ndim
    dims = range(ndim - len(normalized), ndim)
    return (
        f"{_subject(given)} is {given.shape_text()} but its last dims should be "
        f"{dims_text(normalized)} (normalized_shape)",
        given.with_bad(*dims),
        (*given.shape[: ndim - len(normalized)], *normalized),
    )


def _embedding(layer: Any, given: Operand) -> tuple[str, Operand, tuple[Dim, ...]] | None:
    assert given.shape is not None
    if given.value is None:
        return None
    largest = int(given.value.max())
    if largest < layer.num_embeddings:
        return None
    return (
        f"{_subject(given)} holds index {largest} but the table has {layer.num_embeddings} "
        f"rows (valid 0..{layer.num_embeddings - 1})",
        given,
        given.shape,
    )


_SINGLE_INPUT_RULES = (
    (("Linear",), _linear),
    (
        ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"),
        _convolution,
    ),
    (("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"), _batch_norm),
    (("LayerNorm",), _layer_norm),
    (("Embedding",), _embedding),
)

_ATTENTION_ROLES = ("query", "key", "value")


def attention_rule(layer: Any, inputs: Sequence[Operand]) -> Expected | None:
    """``nn.MultiheadAttention(query, key, value)``: every input's last dim against its
    configured size, key and value against each other, and the batch dims of all three."""
    roles = list(zip(_ATTENTION_ROLES, inputs, strict=False))
    if len(roles) < 3 or any(op.shape is None or not op.shape for _, op in roles):
        return None
    ops = list(inputs[:3])
    sizes = (layer.embed_dim, layer.kdim, layer.vdim)
    for index, ((role, op), size, what) in enumerate(
        zip(roles, sizes, ("embed_dim", "kdim", "vdim"), strict=True)
    ):
        assert op.shape is not None
        if op.shape[-1] != size:
            dim = op.ndim - 1
            ops[index] = op.with_bad(dim)
            named = role if op.prose else f"{role} {op.ref()}"
            return (
                f"{named} is {op.shape_text()} but dim {dim} should be {size} ({what})",
                ops,
                None,
            )
    query, _key, _value = ops
    if query.ndim not in (2, 3) or len({op.ndim for op in ops}) != 1:
        order = "N x L x E" if layer.batch_first else "L x N x E"
        listed = ", ".join(
            f"{role} {op.ref()} {op.ndim}-D" for role, op in zip(_ATTENTION_ROLES, ops, strict=True)
        )
        return (
            f"query, key and value should all be 3-D {order} (batch_first="
            f"{layer.batch_first}) or all 2-D L x E; got {listed}",
            ops,
            None,
        )
    return _attention_lengths(layer, ops)


def _attention_lengths(layer: Any, ops: list[Operand]) -> Expected | None:
    """Key and value share their sequence (and batch) dims; query shares the batch dim."""
    query, key, value = ops
    assert key.shape is not None and value.shape is not None and query.shape is not None
    for dim in range(key.ndim - 1):
        if key.shape[dim] != value.shape[dim]:
            ops[1], ops[2] = key.with_bad(dim), value.with_bad(dim)
            return (
                f"key and value should agree in every dim but the last: "
                f"{conflict_text(ops[1], dim, ops[2], dim)}",
                ops,
                None,
            )
    if query.ndim == 3:
        batch = 0 if layer.batch_first else 1
        if query.shape[batch] != key.shape[batch]:
            ops[0], ops[1] = query.with_bad(batch), key.with_bad(batch)
            return (
                f"query and key should have the same batch size (dim {batch}, "
                f"batch_first={layer.batch_first}): "
                f"{conflict_text(ops[0], batch, ops[1], batch)}",
                ops,
                None,
            )
    return None
