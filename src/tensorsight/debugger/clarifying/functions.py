"""Rules for library functions: concatenation, reshape, einsum and functional layers.

``received`` is what the called function's own Python frame holds (its positional arguments),
when it has one: the real values of operands that are results of calls.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from typing import Any

from tensorsight.debugger.arrays import Dim, dims_text
from tensorsight.debugger.clarifying.context import Context, from_callee
from tensorsight.debugger.clarifying.derive import REDUCTIONS, Arguments, arguments
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.operands import Operand
from tensorsight.debugger.clarifying.phrases import (
    conflict_text,
    drawing_for,
    generic,
    mismatch_phrase,
    shapes_phrase,
    unknown_cause,
)
from tensorsight.debugger.clarifying.shapes import normalise_dim
from tensorsight.debugger.frames import Unreadable
from tensorsight.debugger.render import Box

# The parameters of F.conv1d/2d/3d in order (they take them by position too).
CONV_PARAMETERS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
SPATIAL_DIMS = {"conv1d": 1, "conv2d": 2, "conv3d": 3}
SEQUENCE_KEYWORDS = ("tensors", "arrays")


def argument(
    context: Context,
    node: ast.Call,
    names: str | tuple[str, ...],
    position: int,
    default: int | None,
) -> int | None:
    """An integer argument given by keyword or position, its default, or None if unreadable."""
    names = (names,) if isinstance(names, str) else names
    given = next((kw.value for kw in node.keywords if kw.arg in names), None)
    if given is None and len(node.args) > position:
        given = node.args[position]
    if given is None:
        return default
    try:
        return int(context.read(given))
    except (Unreadable, TypeError, ValueError):
        return None


def elements(context: Context, sequence: ast.expr, received: Any = None) -> list[Operand]:
    """One operand per element of a list/tuple argument such as ``[a, f(x)]`` or ``arrays``."""
    if isinstance(sequence, ast.List | ast.Tuple):
        operands = [context.operand(element) for element in sequence.elts]
        if isinstance(received, list | tuple) and len(received) == len(operands):
            pairs = zip(operands, received, strict=True)
            operands = [from_callee(op, value) for op, value in pairs]
        return operands
    label = context.text(sequence)
    try:
        values = context.read(sequence)
    except Unreadable:
        return [Operand.unknown(label)]
    if not isinstance(values, list | tuple):
        return [Operand.of(label, values)]
    return [Operand.of(f"{label}[{i}]", value) for i, value in enumerate(values)]


def _sequence_operands(context: Context, node: ast.Call, received: Sequence[Any]) -> list[Operand]:
    sequence = (
        node.args[0]
        if node.args
        else next((kw.value for kw in node.keywords if kw.arg in SEQUENCE_KEYWORDS), None)
    )
    if sequence is None:
        return []
    return elements(context, sequence, received[0] if node.args and received else None)


def concatenate(
    context: Context, node: ast.Call, name: str, received: Sequence[Any]
) -> Clarification | None:
    """``cat``/``concatenate``/``stack``/``hstack``/``vstack`` along one dim."""
    short = name.rsplit(".", 1)[-1]
    operands = context.fill(_sequence_operands(context, node, received))
    if not any(op.is_tensor for op in operands):
        return None
    if any(op.shape is None for op in operands):
        cause = unknown_cause(shapes_phrase(operands, None, name))
        return context.build(cause, operands, drawing_for(operands, None, name))
    shapes = [op.shape for op in operands if op.shape is not None]
    listed = ", ".join(dims_text(shape) for shape in shapes)
    if short in ("cat", "concat", "concatenate") and any(not shape for shape in shapes):
        scalars = [op.ref() for op in operands if not op.shape]
        verb = "is a scalar" if len(scalars) == 1 else "are scalars"
        cause = (
            f"{name} of shapes {listed} needs arrays of at least 1 dim to join: "
            f"{', '.join(scalars)} {verb}"
        )
        return context.build(cause, operands, drawing_for(operands, None, name))
    stacking = short == "stack" or (short == "vstack" and all(len(s) == 1 for s in shapes))
    default_axis = 1 if short == "hstack" and all(len(s) > 1 for s in shapes) else 0
    axis = argument(context, node, ("dim", "axis"), 1, default_axis)
    first = operands[0]
    for index, other in enumerate(operands[1:], start=1):
        if other.ndim != first.ndim:
            cause = (
                f"{name} of shapes {listed} needs arrays with the same number of dims: "
                f"{first.ref()} is {first.ndim}-D, {other.ref()} is {other.ndim}-D"
            )
            return context.build(cause, operands, drawing_for(operands, None, name))
        skip = None if stacking or axis is None else normalise_dim(axis, first.ndim)
        assert first.shape is not None and other.shape is not None
        differing = [d for d in range(first.ndim) if d != skip and first.shape[d] != other.shape[d]]
        if differing:
            dim = differing[0]
            operands[0], operands[index] = first.with_bad(dim), other.with_bad(dim)
            rule = "equal shapes" if stacking else f"equal sizes in every dim but dim {axis}"
            cause = (
                f"{name} of shapes {listed} needs {rule}: "
                f"{conflict_text(operands[0], dim, operands[index], dim)}"
            )
            return context.build(cause, operands, drawing_for(operands, None, name))
    mismatch = mismatch_phrase(operands, None, name)
    if mismatch:
        return context.build(mismatch, operands, drawing_for(operands, None, name))
    return generic(context, operands, name)


def target_shape(context: Context, nodes: Sequence[ast.expr]) -> tuple[int, ...] | None:
    """The integers of a shape argument: ``(5, 3)``, ``5, 3``, ``[5, 3]``, a ``torch.Size``."""
    try:
        values = [context.read(node) for node in nodes]
    except Unreadable:
        return None
    if len(values) == 1 and isinstance(values[0], list | tuple | range):
        values = list(values[0])
    if len(values) == 1 and hasattr(values[0], "__len__") and not isinstance(values[0], int):
        values = list(values[0])  # a torch.Size
    try:
        return tuple(int(value) for value in values)
    except (TypeError, ValueError):
        return None


def reshape(
    context: Context, subject: Operand, target_nodes: Sequence[ast.expr], name: str
) -> Clarification | None:
    """``x.view(...)``, ``x.reshape(...)``, ``np.reshape(x, shape)``: element counts."""
    short = name.rsplit(".", 1)[-1]
    if not subject.is_tensor or subject.shape is None:
        return None
    target = target_shape(context, target_nodes)
    size = math.prod(subject.shape)
    have = f"{subject.ref()} ({subject.shape_text()}, {size} elements)"
    if target is None:
        return generic(context, [subject], name)
    target_text = dims_text(target)
    known = math.prod(part for part in target if part != -1)
    drawing: list[Box | str] = [
        subject.box(),
        "→",
        Box(f"{short} to", tuple(_dim_or_free(p) for p in target)),
    ]
    verb = "view" if short == "view" else "reshape"
    preposition = "as" if short == "view" else "into"
    if -1 in target and (known == 0 or size % known):
        cause = (
            f"cannot {verb} {have} {preposition} {target_text}: {size} is not a multiple of {known}"
        )
    elif -1 not in target and known != size:
        cause = f"cannot {verb} {have} {preposition} {target_text} ({known} elements)"
    elif "stride" in context.message or "contiguous" in context.message:
        cause = (
            f"cannot view {subject.ref()} ({subject.shape_text()}) as {target_text}: its "
            f"memory is not contiguous; use .reshape() or .contiguous() first"
        )
    else:
        return generic(context, [subject], name)
    return context.build(cause, [subject], drawing)


def _dim_or_free(size: int) -> Dim:
    return "-1" if size == -1 else size


def einsum(
    context: Context, node: ast.Call, name: str, received: Sequence[Any]
) -> Clarification | None:
    """``einsum(spec, *operands)``: each letter must have one size across operands."""
    try:
        spec = context.read(node.args[0])
    except (Unreadable, IndexError):
        return None
    if not isinstance(spec, str):
        return None
    operands = [context.operand(arg) for arg in node.args[1:]]
    operands = context.fill(
        [
            from_callee(op, received[i + 1]) if i + 1 < len(received) else op
            for i, op in enumerate(operands)
        ]
    )
    if not any(op.is_tensor for op in operands):
        return None
    terms = spec.replace(" ", "").partition("->")[0].split(",")
    opening = f"{name}('{spec}',"
    if len(terms) != len(operands):
        cause = f"{name} '{spec}' names {len(terms)} operands but got {len(operands)}"
        return context.build(cause, operands, drawing_for(operands, None, name, opening))
    if any(op.shape is None for op in operands):
        return context.build(
            unknown_cause(f"{name} '{spec}' operand shapes"),
            operands,
            drawing_for(operands, None, name, opening),
        )
    found = _einsum_conflict(terms, operands, name, spec)
    if found is None:
        return generic(context, operands, name)
    cause, operands = found
    return context.build(cause, operands, drawing_for(operands, None, name, opening))


def _einsum_conflict(
    terms: Sequence[str], operands: list[Operand], name: str, spec: str
) -> tuple[str, list[Operand]] | None:
    """The first term that does not fit its operand, or letter with two sizes, if any."""
    seen: dict[str, tuple[int, int]] = {}
    for index, (term, op) in enumerate(zip(terms, operands, strict=True)):
        assert op.shape is not None
        head, ellipsis, tail = term.partition("...")
        if not ellipsis and len(term) != op.ndim:
            return (
                f"{name} '{spec}': term '{term}' has {len(term)} letters but {op.ref()} "
                f"is {op.ndim}-D ({op.shape_text()})"
            ), operands
        trailing = [(op.ndim - len(tail) + k, letter) for k, letter in enumerate(tail)]
        for dim, letter in [*enumerate(head), *trailing]:
            if letter not in seen:
                seen[letter] = (index, dim)
                continue
            other_index, other_dim = seen[letter]
            other = operands[other_index]
            assert other.shape is not None
            if other.shape[other_dim] != op.shape[dim]:
                marked = list(operands)
                marked[other_index] = other.with_bad(other_dim)
                marked[index] = op.with_bad(dim)
                return (
                    f"{name} '{spec}': index {letter} is {other.shape[other_dim]} in "
                    f"dim {other_dim} of {other.ref()} but {op.shape[dim]} in dim {dim} "
                    f"of {op.ref()}"
                ), marked
    return None


def functional_layer(
    context: Context, node: ast.Call, operands: Sequence[Operand], name: str
) -> Clarification | None:
    """``F.linear(x, w)`` contracts the last dims; ``F.conv2d(x, w)`` checks input channels."""
    if len(operands) < 2:
        return generic(context, operands, name)
    x, w = operands[:2]
    if x.shape is None or w.shape is None or not x.shape or not w.shape or w.ndim < 2:
        return generic(context, operands, name)
    phrase = shapes_phrase([x, w], None, name)
    short = name.rsplit(".", 1)[-1]
    if short == "linear":
        dx, dw, why = x.ndim - 1, w.ndim - 1, f"{name} computes x @ weight.T"
    else:
        dx, dw = x.ndim - SPATIAL_DIMS[short] - 1, 1
        why = "input channels; weight is out x in/groups x kernel"
        if argument(context, node, "groups", CONV_PARAMETERS.index("groups"), 1) != 1:
            return generic(context, operands, name)
    if dx < 0 or x.shape[dx] == w.shape[dw]:
        return generic(context, operands, name)
    x, w = x.with_bad(dx), w.with_bad(dw)
    cause = f"{phrase} disagree: {conflict_text(x, dx, w, dw)} ({why})"
    return context.build(cause, [x, w, *operands[2:]], drawing_for([x, w], None, name))


# Functions whose integer arguments after the array are dims of it; unsqueeze's name a place in
# the result, which has one dim more.
DIM_FUNCTIONS = REDUCTIONS | {
    "transpose",
    "swapaxes",
    "swapdims",
    "permute",
    "squeeze",
    "flatten",
    "softmax",
    "log_softmax",
    "cumsum",
    "cumprod",
    "argsort",
    "sort",
    "unsqueeze",
    "expand_dims",
    "size",
}
NEW_DIM = frozenset({"unsqueeze", "expand_dims"})
DIM_KEYWORDS = (
    "axis",
    "dim",
    "dim0",
    "dim1",
    "axis1",
    "axis2",
    "start_dim",
    "end_dim",
    "axes",
    "dims",
)


def _given_dims(values: Arguments) -> list[int]:
    given: list[Any] = [value for name, value in values.keywords.items() if name in DIM_KEYWORDS]
    given += list(values.positional)
    dims: list[int] = []
    for value in given:
        parts = value if isinstance(value, list | tuple) else [value]
        dims += [part for part in parts if isinstance(part, int) and not isinstance(part, bool)]
    return dims


def dim_out_of_range(
    context: Context, node: ast.Call, subject: Operand, name: str, after: Sequence[ast.expr]
) -> Clarification | None:
    """``x.transpose(0, -3)`` on a 2-D ``x``, ``np.sum(x, axis=2)``: the dim that is not there.

    ``after`` are the argument nodes after the array (all of them for a method).
    """
    short = name.rsplit(".", 1)[-1]
    if subject.shape is None or short not in DIM_FUNCTIONS:
        return None
    if not subject.shape and short not in NEW_DIM:  # which dims a 0-D array takes differs
        return None
    ndim = subject.ndim + (1 if short in NEW_DIM else 0)
    bad = next(
        (
            dim
            for dim in _given_dims(arguments(context, after, node.keywords))
            if normalise_dim(dim, ndim) is None
        ),
        None,
    )
    if bad is None:
        return None
    where = "a position in the result" if short in NEW_DIM else "a dim"
    cause = (
        f"{name} got {bad} for {where}, but {subject.ref()} is {subject.ndim}-D "
        f"({subject.shape_text()}): valid {-ndim}..{ndim - 1}"
    )
    return context.build(cause, [subject], [subject.box(), "→", name])
