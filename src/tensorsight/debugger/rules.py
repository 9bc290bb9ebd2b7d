"""Explain one failing tensor operation: which operation, which operands, which dims disagree.

:func:`clarify_error` is the entry point. It locates the user's failing sub-expression
(:mod:`tensorsight.debugger.source`), reads its operands, and hands them to the rule for that kind
of operation (matrix product, broadcasting, concatenation, reshape, einsum, indexing, an
``nn.Module`` call, or a generic rule). Every rule works from the operands' real shapes; the
framework's message is only a fallback for operands nothing can read.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Any

from tensorsight.debugger.clarification import NOTE_PREFIX, Clarification
from tensorsight.debugger.diagram import Box, Dim, dims_text
from tensorsight.debugger.operands import (
    ARGUMENT,
    INFERRED,
    UNKNOWN,
    Operand,
    fill_from_message,
)
from tensorsight.debugger.source import Site, Unreadable, called_name, locate, read, site_at

TENSOR_ERRORS = (ValueError, TypeError, RuntimeError, IndexError)
TENSOR_LIBRARIES = frozenset({"numpy", "torch", "jax", "jaxlib"})

OPERATORS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
    ast.LShift: "<<", ast.RShift: ">>", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
    ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
}
MATMUL = frozenset({"matmul", "dot", "mm", "bmm", "mv"})
ELEMENTWISE = frozenset(
    {
        "add", "subtract", "sub", "multiply", "mul", "divide", "div", "true_divide",
        "floor_divide", "power", "pow", "maximum", "minimum", "where", "fmax", "fmin",
        "hypot", "arctan2", "atan2", "logical_and", "logical_or", "equal", "eq", "ne",
        "not_equal", "less", "greater", "lt", "gt", "le", "ge", "remainder", "mod",
        "add_", "sub_", "mul_", "div_", "copy_",
    }
)
CONCATENATE = frozenset({"cat", "concat", "concatenate", "hstack", "vstack", "stack"})
RESHAPE = frozenset({"reshape", "view"})
FUNCTIONAL_LAYERS = frozenset({"linear", "conv1d", "conv2d", "conv3d"})
FIXED_NDIM = {"mm": (2, 2), "bmm": (3, 3), "mv": (2, 1)}
# Messages that name only the two contracted sizes of a matrix product: (left's, right's).
_CONTRACTED_SIZES = (
    # NumPy: "Input operand 1 has a mismatch in its core dimension 0, with gufunc signature
    # (n?,k),(k,m?)->(n?,m?) (size 64 is different from 128)"
    (re.compile(r"Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
                r"\(n\?,k\),\(k,m\?\)->\(n\?,m\?\) \(size (?P<right>\d+) is different from "
                r"(?P<left>\d+)\)"), "numpy"),
    # PyTorch batched: "Expected size for first two dimensions of batch2 tensor to be: [16, 4]
    # but got: [16, 5]."
    (re.compile(r"first two dimensions of batch2 tensor to be: \[\d+, (?P<left>\d+)\] but got: "
                r"\[\d+, (?P<right>\d+)\]"), "torch"),
    # JAX: "dot_general requires contracting dimensions to have the same shape, got (128,) and
    # (64,)."
    (re.compile(r"contracting dimensions to have the same shape, got \((?P<left>\d+),\) and "
                r"\((?P<right>\d+),\)"), "jax"),
)


def contracted_sizes(message: str) -> tuple[int, int, str] | None:
    """(left operand's last dim, right operand's contracted dim, library) stated by a message.

    >>> contracted_sizes("dot_general requires contracting dimensions to have the same shape, "
    ...                  "got (128,) and (64,).")
    (128, 64, 'jax')
    """
    for pattern, library in _CONTRACTED_SIZES:
        match = pattern.search(message)
        if match:
            return int(match["left"]), int(match["right"]), library
    return None


@dataclass
class Context:
    """What a rule may look at: the site, the error, and recorded torch arguments if any."""

    site: Site
    error: BaseException
    recorded: tuple[Any, ...] | None = None
    received: list[Any] = field(default_factory=list)  # arguments the callee's frame holds
    inside_library: bool = False  # explaining a library's own frame, not the user's

    @property
    def message(self) -> str:
        return str(self.error)

    @property
    def frame(self) -> FrameType:
        return self.site.frame

    def text(self, node: ast.AST) -> str:
        return self.site.text(node)

    def raising_library(self) -> str | None:
        """Top-level package of the deepest library frame (who raised), if any."""
        for frame in reversed(self.site.library_frames):
            package = (frame.f_globals.get("__name__") or "").partition(".")[0]
            if package in TENSOR_LIBRARIES:
                return "jax" if package == "jaxlib" else package
        return None

    def operand(self, node: ast.expr) -> Operand:
        """The operand ``node`` read from the frame, inferred, recorded, or unknown."""
        label = self.text(node)
        if isinstance(node, ast.Starred):
            return Operand.unknown(label)
        try:
            return Operand.of(label, read(node, self.frame))
        except Unreadable:
            pass
        except Exception:  # a property that raised: report the operand as unknown
            return Operand.unknown(label)
        return infer(self, node, label) or Operand.unknown(label)

    def callee_arguments(self, function: Any) -> list[Any]:
        """The positional arguments the called library function received, read from its frame.

        Empty unless the first frame below the user's is that function's own Python frame.
        """
        frames = self.site.library_frames
        code = getattr(inspect.unwrap(function), "__code__", None) if function else None
        if not frames or code is None or frames[0].f_code is not code:
            return []
        local = frames[0].f_locals
        names = code.co_varnames[: code.co_argcount]
        values = [local[name] for name in names if name in local]
        if len(values) == len(names) and code.co_flags & inspect.CO_VARARGS:
            star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
            values += list(local.get(star, ()))
        return values

    def fill(self, operands: list[Operand]) -> list[Operand]:
        """Unknown operands filled from recorded torch arguments or the framework's message."""
        operands = fill_from_recording(operands, self.recorded)
        framework = next((op.framework for op in operands if op.framework), None)
        return fill_from_message(operands, self.message, framework or self.raising_library())

    def build(
        self,
        cause: str,
        operands: Sequence[Operand],
        drawing: Sequence[Box | str],
        details: Sequence[str] = (),
        generic: bool = False,
    ) -> Clarification:
        node = self.site.node
        statement_text = self.site.statement_text()
        expression = self.text(node)
        return Clarification(
            expression=expression,
            line=node.lineno,
            cause=cause,
            operands=tuple(replace(op, value=None) for op in operands),
            drawing=tuple(drawing),
            statement=statement_text if _worth_showing(self.site) else None,
            details=tuple(details),
            generic=generic,
        )


def _worth_showing(site: Site) -> bool:
    """Show the whole statement when it spans lines or the failure is in a comprehension/lambda."""
    statement = site.statement
    multi_line = (statement.end_lineno or statement.lineno) > statement.lineno
    nested = site.frame.f_code.co_name in ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>",
                                          "<lambda>")
    return multi_line or nested


def already_clarified(error: BaseException) -> bool:
    """True when an enclosing or earlier ``clarify`` already added its note."""
    return any(str(note).startswith(NOTE_PREFIX) for note in getattr(error, "__notes__", ()))


def clarify_error(
    error: BaseException, recorded: tuple[Any, ...] | None = None
) -> Clarification | None:
    """The :class:`Clarification` of a tensor error, or None for any other exception.

    ``recorded`` is ``(function, args, kwargs)`` of the last torch call, when a recorder saw it.

    >>> import numpy as np
    >>> try:
    ...     np.ones((2, 3)) @ np.ones((4, 5))
    ... except ValueError as error:
    ...     print(clarify_error(error).headline())  # doctest: +SKIP
    """
    if not isinstance(error, TENSOR_ERRORS):
        return None
    site = locate(error.__traceback__)
    if site is None:
        return None
    return explain_site(Context(site, error, recorded))


def explain_site(context: Context) -> Clarification | None:
    """Dispatch on the kind of the failing expression."""
    node = context.site.node
    if isinstance(node, ast.BinOp):
        return binary(context, node.left, node.op, node.right)
    if isinstance(node, ast.AugAssign):
        return binary(context, node.target, node.op, node.value, augmented=True)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return binary(context, node.left, node.ops[0], node.comparators[0])
    if isinstance(node, ast.Call):
        return call(context, node)
    if isinstance(node, ast.Subscript):
        return subscript(context, node)
    return None


# --- shape arithmetic ---------------------------------------------------------------------------

Conflict = tuple[int, int, int, int]  # operand i, its dim, operand j, its dim


def broadcast_conflicts(shapes: Sequence[tuple[int, ...]]) -> list[Conflict]:
    """Pairs of dims that cannot broadcast, aligned from the right, leftmost operand first.

    >>> broadcast_conflicts([(3, 4), (5,)])
    [(0, 1, 1, 0)]
    """
    conflicts = []
    for back in range(1, max((len(shape) for shape in shapes), default=0) + 1):
        sized = [(i, len(shape) - back, shape[-back]) for i, shape in enumerate(shapes)
                 if len(shape) >= back and shape[-back] != 1]
        first = sized[0] if sized else None
        for other in sized[1:]:
            if first is not None and other[2] != first[2]:
                conflicts.append((first[0], first[1], other[0], other[1]))
                break
    return sorted(conflicts, key=lambda conflict: conflict[1])


def broadcast_shape(shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...] | None:
    """The broadcast result, or None when the shapes do not broadcast.

    >>> broadcast_shape([(8, 1, 4), (3, 1)]), broadcast_shape([(3, 4), (5,)])
    ((8, 3, 4), None)
    """
    if broadcast_conflicts(shapes):
        return None
    ndim = max(len(shape) for shape in shapes)
    padded = [(1,) * (ndim - len(shape)) + shape for shape in shapes]
    return tuple(max(sizes) for sizes in zip(*padded, strict=True))


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape of ``a @ b`` under NumPy/PyTorch rules, or None when they disagree.

    >>> matmul_shape((8, 3, 4), (4, 5)), matmul_shape((3, 4), (5, 6))
    ((8, 3, 5), None)
    """
    if not a or not b or a[-1] != (b[-2] if len(b) >= 2 else b[0]):
        return None
    batch = broadcast_shape([a[:-2], b[:-2]])
    if batch is None:
        return None
    return batch + a[-2:-1] + b[-1:] if len(b) >= 2 else batch + a[-2:-1]


def infer(context: Context, node: ast.expr, label: str) -> Operand | None:
    """The shape of plain arithmetic on readable operands, computed without running it."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Invert):
        inner = context.operand(node.operand)
        return replace(inner, label=label, origin=INFERRED, value=None) if inner.is_tensor else None
    if not isinstance(node, ast.BinOp):
        return None
    left, right = context.operand(node.left), context.operand(node.right)
    if left.shape is None or right.shape is None or not (left.is_tensor or right.is_tensor):
        return None
    if isinstance(node.op, ast.MatMult):
        shape = matmul_shape(left.shape, right.shape)
    else:
        shape = broadcast_shape([left.shape, right.shape])
    if shape is None:
        return None
    tensor = left if left.is_tensor else right
    return Operand(label, shape, None, tensor.device, INFERRED, tensor.framework)


def fill_from_recording(operands: list[Operand], recorded: tuple[Any, ...] | None) -> list[Operand]:
    """Unknown operands taken from the arguments a torch recorder saw the failing call get."""
    if recorded is None or all(op.origin != UNKNOWN for op in operands):
        return operands
    _, args, kwargs = recorded
    flat: list[Any] = []
    for arg in (*args, *kwargs.values()):
        flat.extend(arg if isinstance(arg, list | tuple) else [arg])
    tensors = [arg for arg in flat if Operand.of("", arg).framework]
    if len(tensors) != len(operands):
        return operands
    pairs = list(zip(operands, tensors, strict=True))
    if any(op.origin != UNKNOWN and op.value is not value for op, value in pairs):
        return operands  # the recorded call is not the failing one
    return [Operand.of(op.label, value) if op.origin == UNKNOWN else op for op, value in pairs]


def conflict_text(a: Operand, da: int, b: Operand, db: int) -> str:
    assert a.shape is not None and b.shape is not None
    return f"dim {da} of {a.ref()} ({a.shape[da]}) != dim {db} of {b.ref()} ({b.shape[db]})"


def shapes_phrase(operands: Sequence[Operand], symbol: str | None, name: str | None) -> str:
    """``operand shapes 3x4 + 5`` for operators, ``np.add operand shapes 3x4, 5`` for calls."""
    if symbol:
        return "operand shapes " + f" {symbol} ".join(op.shape_text() for op in operands)
    return f"{name} operand shapes " + ", ".join(op.shape_text() for op in operands)


def mismatch_phrase(operands: Sequence[Operand], symbol: str | None, name: str | None
                    ) -> str | None:
    """``operand devices cpu @ cuda:0 disagree: ...`` or the same for dtypes, when they differ."""
    tensors = [op for op in operands if op.framework]
    for attribute, plural, verb in (("device", "devices", "is on"), ("dtype", "dtypes", "is")):
        values = [getattr(op, attribute) for op in tensors if getattr(op, attribute)]
        if len(set(values)) < 2:
            continue
        joined = f" {symbol} ".join(values) if symbol else ", ".join(values)
        lead = f"operand {plural}" if symbol else f"{name} operand {plural}"
        which = ", ".join(f"{op.ref()} {verb} {getattr(op, attribute)}" for op in tensors)
        return f"{lead} {joined} disagree: {which}"
    return None


def drawing_for(operands: Sequence[Operand], symbol: str | None, name: str | None,
                opening: str | None = None) -> list[Box | str]:
    """Boxes joined by the operator, or wrapped in ``name(...)`` for a function call."""
    if symbol:
        items: list[Box | str] = []
        for op in operands:
            items += [op.box(), symbol]
        return items[:-1]
    items = [opening or f"{name}("]
    for op in operands:
        items += [op.box(), ","]
    items[-1] = ")"
    return items


def unknown_cause(phrase: str) -> str:
    return f"{phrase} disagree (an operand's shape is unknown: it is the result of a call)"


# --- rules --------------------------------------------------------------------------------------


def binary(context: Context, left: ast.expr, op: ast.AST, right: ast.expr,
           augmented: bool = False) -> Clarification | None:
    """``a @ b``, ``a + b``, ``a == b``, ``a += b``."""
    symbol = OPERATORS.get(type(op), "?") + ("=" if augmented else "")
    operands = [context.operand(left), context.operand(right)]
    if isinstance(op, ast.MatMult):
        return matmul(context, operands, symbol, None)
    return elementwise(context, operands, symbol, None)


def matmul(context: Context, operands: list[Operand], symbol: str | None,
           name: str | None) -> Clarification | None:
    """Matrix products: the contracted dims, then the batch dims, then dtypes."""
    a, b = context.fill(operands[:2])
    sizes = contracted_sizes(context.message)
    if not (a.is_tensor or b.is_tensor or sizes):
        return None
    phrase = shapes_phrase([a, b], symbol, name)
    short = (name or "").rsplit(".", 1)[-1]

    def report(cause: str, *operands: Operand) -> Clarification:
        return context.build(cause, operands, drawing_for(operands, symbol, name))

    if (a.shape is None or b.shape is None) and sizes:
        left, right, library = sizes
        cause = (f"{phrase} disagree: {a.ref()} has {left} in its last dim but {b.ref()} has "
                 f"{right} in its contracted dim (sizes from {library}'s message)")
        return report(cause, a, b)
    if a.shape is None or b.shape is None:
        return report(unknown_cause(phrase), a, b)
    if short in FIXED_NDIM and (a.ndim, b.ndim) != FIXED_NDIM[short]:
        want_a, want_b = FIXED_NDIM[short]
        needs = (f"{want_a}-D operands" if want_a == want_b
                 else f"a {want_a}-D and a {want_b}-D operand")
        cause = (f"{phrase} disagree: {name} needs {needs}, "
                 f"got {a.ref()} {a.ndim}-D and {b.ref()} {b.ndim}-D")
        return report(cause, a, b)
    if a.ndim == 0 or b.ndim == 0:
        scalar = a if a.ndim == 0 else b
        cause = (f"{phrase} disagree: a matrix product needs 1-D or larger operands, "
                 f"{scalar.ref()} is a scalar")
        return report(cause, a, b)
    shape_a, shape_b = a.shape, b.shape
    da, db = a.ndim - 1, (b.ndim - 2 if b.ndim >= 2 else 0)
    if shape_a[da] != shape_b[db]:
        a, b = a.with_bad(da), b.with_bad(db)
        cause = f"{phrase} disagree: {conflict_text(a, da, b, db)}"
        return report(cause, a, b)
    batch = broadcast_conflicts([shape_a[:-2], shape_b[:-2] if b.ndim >= 2 else ()])
    if batch:
        _, da, _, db = batch[0]
        a, b = a.with_bad(da), b.with_bad(db)
        cause = f"{phrase} disagree in their batch dims: {conflict_text(a, da, b, db)}"
        return report(cause, a, b)
    dtypes = mismatch_phrase([a, b], symbol, name)
    if dtypes:
        return report(dtypes, a, b)
    return generic(context, [a, b], name or symbol or "?")


def elementwise(context: Context, operands: list[Operand], symbol: str | None,
                name: str | None) -> Clarification | None:
    """Broadcasting operations: aligned from the right, sizes must match or be 1."""
    operands = context.fill(operands)
    if not any(op.is_tensor for op in operands):
        return None
    phrase = shapes_phrase(operands, symbol, name)
    if any(op.shape is None for op in operands if op.origin == UNKNOWN):
        return context.build(unknown_cause(phrase), operands, drawing_for(operands, symbol, name))
    shaped = [op for op in operands if op.shape is not None]
    conflicts = broadcast_conflicts([op.shape for op in shaped if op.shape is not None])
    if conflicts:
        marked = list(shaped)
        texts = []
        for i, di, j, dj in conflicts:
            marked[i], marked[j] = marked[i].with_bad(di), marked[j].with_bad(dj)
            texts.append(conflict_text(marked[i], di, marked[j], dj))
        marked_by_id = {id(old): new for old, new in zip(shaped, marked, strict=True)}
        operands = [marked_by_id.get(id(op), op) for op in operands]
        cause = f"{phrase} do not broadcast: {'; '.join(texts)}"
        return context.build(cause, operands, drawing_for(operands, symbol, name))
    dtypes = mismatch_phrase(operands, symbol, name)
    if dtypes:
        return context.build(dtypes, operands, drawing_for(operands, symbol, name))
    return generic(context, operands, name or symbol or "?")


def _keyword_or_position(context: Context, node: ast.Call, names: str | tuple[str, ...],
                         position: int, default: int | None) -> int | None:
    """An integer argument given by keyword or position, its default, or None if unreadable."""
    names = (names,) if isinstance(names, str) else names
    given = next((kw.value for kw in node.keywords if kw.arg in names), None)
    if given is None and len(node.args) > position:
        given = node.args[position]
    if given is None:
        return default
    try:
        return int(read(given, context.frame))
    except (Unreadable, TypeError, ValueError):
        return None


def _axis(context: Context, node: ast.Call, position: int, default: int | None) -> int | None:
    return _keyword_or_position(context, node, ("dim", "axis"), position, default)


def _sequence_operands(context: Context, node: ast.Call) -> list[Operand]:
    sequence = node.args[0] if node.args else next(
        (kw.value for kw in node.keywords if kw.arg in ("tensors", "arrays")), None)
    if sequence is None:
        return []
    received = context.received[0] if node.args and context.received else None
    return _elements(context, sequence, received)


def _elements(context: Context, sequence: ast.expr, received: Any = None) -> list[Operand]:
    """One operand per element of a list/tuple argument such as ``[a, f(x)]`` or ``arrays``."""
    if isinstance(sequence, ast.List | ast.Tuple):
        operands = [context.operand(element) for element in sequence.elts]
        if isinstance(received, list | tuple) and len(received) == len(operands):
            pairs = zip(operands, received, strict=True)
            operands = [from_callee(op, value) for op, value in pairs]
        return operands
    label = context.text(sequence)
    try:
        values = read(sequence, context.frame)
    except Unreadable:
        return [Operand.unknown(label)]
    if not isinstance(values, list | tuple):
        return [Operand.of(label, values)]
    return [Operand.of(f"{label}[{i}]", value) for i, value in enumerate(values)]


def concatenate(context: Context, node: ast.Call, name: str) -> Clarification | None:
    """``cat``/``concatenate``/``stack``/``hstack``/``vstack`` along one dim."""
    short = name.rsplit(".", 1)[-1]
    operands = context.fill(_sequence_operands(context, node))
    if not any(op.is_tensor for op in operands):
        return None
    if any(op.shape is None for op in operands):
        cause = unknown_cause(shapes_phrase(operands, None, name))
        return context.build(cause, operands, drawing_for(operands, None, name))
    shapes = [op.shape for op in operands if op.shape is not None]
    listed = ", ".join(dims_text(shape) for shape in shapes)
    stacking = short == "stack" or (short == "vstack" and all(len(s) == 1 for s in shapes))
    default_axis = 1 if short == "hstack" and all(len(s) > 1 for s in shapes) else 0
    axis = _axis(context, node, 1, default_axis)
    first = operands[0]
    for index, other in enumerate(operands[1:], start=1):
        if other.ndim != first.ndim:
            cause = (f"{name} of shapes {listed} needs arrays with the same number of dims: "
                     f"{first.ref()} is {first.ndim}-D, {other.ref()} is {other.ndim}-D")
            return context.build(cause, operands, drawing_for(operands, None, name))
        skip = None if stacking or axis is None else axis % first.ndim
        assert first.shape is not None and other.shape is not None
        differing = [d for d in range(first.ndim) if d != skip and first.shape[d] != other.shape[d]]
        if differing:
            dim = differing[0]
            operands[0], operands[index] = first.with_bad(dim), other.with_bad(dim)
            rule = "equal shapes" if stacking else f"equal sizes in every dim but dim {axis}"
            cause = (f"{name} of shapes {listed} needs {rule}: "
                     f"{conflict_text(operands[0], dim, operands[index], dim)}")
            return context.build(cause, operands, drawing_for(operands, None, name))
    mismatch = mismatch_phrase(operands, None, name)
    if mismatch:
        return context.build(mismatch, operands, drawing_for(operands, None, name))
    return generic(context, operands, name)


def _target_shape(context: Context, nodes: Sequence[ast.expr]) -> tuple[int, ...] | None:
    try:
        values = [read(node, context.frame) for node in nodes]
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


def reshape(context: Context, subject: Operand, target_nodes: Sequence[ast.expr],
            name: str) -> Clarification | None:
    """``x.view(...)``, ``x.reshape(...)``, ``np.reshape(x, shape)``: element counts."""
    short = name.rsplit(".", 1)[-1]
    if not subject.is_tensor or subject.shape is None:
        return None
    target = _target_shape(context, target_nodes)
    size = math.prod(subject.shape)
    have = f"{subject.ref()} ({subject.shape_text()}, {size} elements)"
    if target is None:
        return generic(context, [subject], name)
    target_text = "x".join(str(part) for part in target)
    known = math.prod(part for part in target if part != -1)
    drawing: list[Box | str] = [subject.box(), "→",
                                Box(f"{short} to", tuple(_dim_or_free(p) for p in target))]
    verb = "view" if short == "view" else "reshape"
    preposition = "as" if short == "view" else "into"
    if -1 in target and (known == 0 or size % known):
        cause = (f"cannot {verb} {have} {preposition} {target_text}: {size} is not a multiple "
                 f"of {known}")
    elif -1 not in target and known != size:
        cause = f"cannot {verb} {have} {preposition} {target_text} ({known} elements)"
    elif "stride" in context.message or "contiguous" in context.message:
        cause = (f"cannot view {subject.ref()} ({subject.shape_text()}) as {target_text}: its "
                 f"memory is not contiguous; use .reshape() or .contiguous() first")
    else:
        return generic(context, [subject], name)
    return context.build(cause, [subject], drawing)


def _dim_or_free(size: int) -> Dim:
    return "-1" if size == -1 else size


def einsum(context: Context, node: ast.Call, name: str) -> Clarification | None:
    """``einsum(spec, *operands)``: each letter must have one size across operands."""
    try:
        spec = read(node.args[0], context.frame)
    except (Unreadable, IndexError):
        return None
    if not isinstance(spec, str):
        return None
    operands = [context.operand(arg) for arg in node.args[1:]]
    operands = context.fill([from_callee(op, context.received[i + 1])
                             if i + 1 < len(context.received) else op
                             for i, op in enumerate(operands)])
    if not any(op.is_tensor for op in operands):
        return None
    terms = spec.replace(" ", "").partition("->")[0].split(",")
    drawing = drawing_for(operands, None, name, f"{name}('{spec}',")
    if len(terms) != len(operands):
        cause = f"{name} '{spec}' names {len(terms)} operands but got {len(operands)}"
        return context.build(cause, operands, drawing)
    if any(op.shape is None for op in operands):
        return context.build(unknown_cause(f"{name} '{spec}' operand shapes"), operands, drawing)
    seen: dict[str, tuple[int, int]] = {}
    for index, (term, op) in enumerate(zip(terms, operands, strict=True)):
        assert op.shape is not None
        head, ellipsis, tail = term.partition("...")
        if not ellipsis and len(term) != op.ndim:
            cause = (f"{name} '{spec}': term '{term}' has {len(term)} letters but {op.ref()} "
                     f"is {op.ndim}-D ({op.shape_text()})")
            return context.build(cause, operands, drawing)
        trailing = [(op.ndim - len(tail) + k, letter) for k, letter in enumerate(tail)]
        lettered = list(enumerate(head)) + trailing
        for dim, letter in lettered:
            if letter in seen:
                other_index, other_dim = seen[letter]
                other = operands[other_index]
                assert other.shape is not None
                if other.shape[other_dim] != op.shape[dim]:
                    operands[other_index] = other.with_bad(other_dim)
                    operands[index] = op.with_bad(dim)
                    cause = (f"{name} '{spec}': index {letter} is {other.shape[other_dim]} in "
                             f"dim {other_dim} of {other.ref()} but {op.shape[dim]} in dim {dim} "
                             f"of {op.ref()}")
                    return context.build(cause, operands,
                                         drawing_for(operands, None, name, f"{name}('{spec}',"))
            else:
                seen[letter] = (index, dim)
    return generic(context, operands, name)


def _index_items(index: Any) -> tuple[Any, ...]:
    return index if isinstance(index, tuple) else (index,)


def subscript(context: Context, node: ast.Subscript) -> Clarification | None:
    """``x[i, j]``: which index is out of range for which dim."""
    container = context.operand(node.value)
    if not container.is_tensor or container.shape is None:
        return None
    index_text = context.text(node.slice)
    try:
        items = _index_items(read(node.slice, context.frame))
    except Unreadable:
        return generic(context, [container], f"indexing [{index_text}]")
    drawing: list[Box | str] = [container.box(), f"[{index_text}]"]
    wanted = sum(1 for item in items if item is not None and item is not Ellipsis)
    if Ellipsis not in items and wanted > container.ndim:
        cause = (f"{container.ref()} is {container.ndim}-D ({container.shape_text()}) but "
                 f"[{index_text}] indexes {wanted} dims")
        return context.build(cause, [container], drawing)
    dim = 0
    for item in items:
        if item is Ellipsis:
            dim = container.ndim - (len(items) - items.index(Ellipsis) - 1)
            continue
        if item is None:
            continue
        size = container.shape[dim] if dim < container.ndim else 0
        bad = _bad_index(item, size)
        if bad is not None:
            marked = container.with_bad(dim)
            cause = (f"index {bad} is out of range for dim {dim} of {marked.ref()} "
                     f"(size {size}, valid {-size}..{size - 1}); {marked.ref()} is "
                     f"{marked.shape_text()}")
            return context.build(cause, [marked], [marked.box(), f"[{index_text}]"])
        dim += 1
    return generic(context, [container], f"indexing [{index_text}]")


def _bad_index(item: Any, size: int) -> int | None:
    """The first integer in ``item`` outside ``-size..size-1``, if any."""
    if isinstance(item, bool | slice):
        return None
    if isinstance(item, int):
        return item if not -size <= item < size else None
    described = Operand.of("", item)
    if described.framework and described.dtype and "int" in described.dtype:
        numpy = sys.modules["numpy"]
        values = numpy.asarray(item.cpu() if described.framework == "torch" else item).ravel()
        outside = values[(values >= size) | (values < -size)]
        return int(outside[0]) if outside.size else None
    return None


def _display_path(base: str, path: str) -> str:
    for part in path.split("."):
        base += f"[{part}]" if part.isdigit() else f".{part}"
    return base


def _failing_module(context: Context, called: Any) -> tuple[Any, Any, bool]:
    """The deepest ``nn.Module.forward`` frame below the user's call: (module, input, found)."""
    torch = sys.modules["torch"]
    for frame in reversed(context.site.library_frames):
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "forward" and isinstance(owner, torch.nn.Module):
            names = frame.f_code.co_varnames
            if frame.f_code.co_argcount > 1 and names[1] in frame.f_locals:
                return owner, frame.f_locals[names[1]], True
    return called, None, False


def module_call(context: Context, node: ast.Call, module: Any, name: str) -> Clarification | None:
    """``self.fc(x)``: the module (or the layer inside it) that rejected its input."""
    leaf, value, found = _failing_module(context, module)
    path = name
    if leaf is not module:
        paths = (_display_path(name, sub) for sub, mod in module.named_modules() if mod is leaf)
        path = next(paths, f"a {type(leaf).__name__} inside {name}")
    if found and leaf is module and node.args:
        given = Operand.of(context.text(node.args[0]), value)
    elif found:
        given = replace(Operand.of(f"input of {path}", value), prose=True)
    elif node.args:
        given = context.operand(node.args[0])
    else:
        return None
    config = f"{type(leaf).__name__}({leaf.extra_repr()})"
    explained = layer_rule(context, leaf, given)
    if explained is None:
        cause = f"{path} is {config}: it failed on input {given.ref()} ({given.shape_text()})"
        return context.build(cause, [given], [given.box(), "→", path])
    want, marked, expected = explained
    cause = f"{path} is {config}: {want}"
    return context.build(cause, [marked], [marked.box(), "vs", Box(f"{path} expects", expected,
                                                                    marked.bad)])


def layer_rule(context: Context, layer: Any, given: Operand
               ) -> tuple[str, Operand, tuple[Dim, ...]] | None:
    """What ``layer`` expected of its input: (sentence, marked input, expected dims)."""
    if given.shape is None or not given.shape:
        return None
    torch = sys.modules["torch"]
    nn = torch.nn
    shape, ndim = given.shape, given.ndim
    subject = "its input" if given.prose else f"input {given.ref()}"
    if isinstance(layer, nn.Linear) and shape[-1] != layer.in_features:
        dim = ndim - 1
        return (f"{subject} is {given.shape_text()} but dim {dim} should be "
                f"{layer.in_features} (in_features)", given.with_bad(dim),
                (*shape[:-1], layer.in_features))
    if isinstance(layer, nn.modules.conv._ConvNd):
        spatial = len(layer.kernel_size)
        letters = ("L",) if spatial == 1 else ("H", "W") if spatial == 2 else ("D", "H", "W")
        expected: tuple[Dim, ...] = (layer.in_channels, *letters)
        if ndim != spatial + 1:
            expected = ("N", *expected)
        if ndim not in (spatial + 1, spatial + 2):
            return (f"{subject} is {given.shape_text()} ({ndim}-D) but it should be "
                    f"{spatial + 2}-D N x C x {' x '.join(letters)} (or {spatial + 1}-D without N)",
                    given, expected)
        channel = ndim - spatial - 1
        if shape[channel] != layer.in_channels:
            return (f"{subject} is {given.shape_text()} but dim {channel} should be "
                    f"{layer.in_channels} (in_channels)", given.with_bad(channel), expected)
        return _kernel_too_large(layer, given, expected)
    if isinstance(layer, nn.modules.batchnorm._BatchNorm):
        channel = 1 if ndim > 1 else 0
        if shape[channel] != layer.num_features:
            return (f"{subject} is {given.shape_text()} but dim {channel} should be "
                    f"{layer.num_features} (num_features)", given.with_bad(channel),
                    (*shape[:channel], layer.num_features, *shape[channel + 1:]))
        return None
    if isinstance(layer, nn.LayerNorm):
        normalized = tuple(layer.normalized_shape)
        if shape[-len(normalized):] != normalized:
            dims = range(ndim - len(normalized), ndim)
            return (f"{subject} is {given.shape_text()} but its last dims should be "
                    f"{dims_text(normalized)} (normalized_shape)", given.with_bad(*dims),
                    (*shape[: ndim - len(normalized)], *normalized))
        return None
    if isinstance(layer, nn.Embedding) and given.value is not None:
        largest = int(given.value.max())
        if largest >= layer.num_embeddings:
            return (f"{subject} holds index {largest} but the table has {layer.num_embeddings} "
                    f"rows (valid 0..{layer.num_embeddings - 1})", given, shape)
    return None


def _kernel_too_large(layer: Any, given: Operand, expected: tuple[Dim, ...]
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
    subject = "its input" if given.prose else f"input {given.ref()}"
    return (f"{subject} is {given.shape_text()} but its spatial size "
            f"{dims_text(sizes)} (padding {dims_text(padding)}) is smaller than the kernel "
            f"{dims_text(tuple(reach))}", marked, expected)


def functional_layer(context: Context, node: ast.Call, operands: list[Operand], name: str
                     ) -> Clarification | None:
    """``F.linear(x, w)`` contracts the last dims; ``F.conv2d(x, w)`` checks input channels."""
    if len(operands) < 2:
        return generic(context, operands, name)
    x, w = operands[:2]
    if x.shape is None or w.shape is None or not x.shape or not w.shape or w.ndim < 2:
        return generic(context, operands, name)
    phrase = shapes_phrase([x, w], None, name)
    if name.endswith("linear"):
        dx, dw, why = x.ndim - 1, w.ndim - 1, f"{name} computes x @ weight.T"
    else:
        spatial = int(name[-2])
        dx, dw = x.ndim - spatial - 1, 1
        why = "input channels; weight is out x in/groups x kernel"
        if _keyword_or_position(context, node, "groups", 6, 1) != 1:
            return generic(context, operands, name)
    if dx < 0 or x.shape[dx] == w.shape[dw]:
        return generic(context, operands, name)
    x, w = x.with_bad(dx), w.with_bad(dw)
    cause = f"{phrase} disagree: {conflict_text(x, dx, w, dw)} ({why})"
    return context.build(cause, [x, w, *operands[2:]], drawing_for([x, w], None, name))


def generic(context: Context, operands: Sequence[Operand], name: str) -> Clarification | None:
    """Any other failing operation on tensors: name it and list its operands' shapes."""
    operands = list(operands)
    if not any(op.is_tensor for op in operands):
        return None
    listing = ", ".join(f"{op.ref()} ({op.shape_text()})" for op in operands if op.is_tensor)
    details = [] if context.inside_library else _inside_library(context)
    cause = f"{name} failed on {listing}"
    return context.build(cause, operands, drawing_for(operands, None, name), details, True)


def _inside_library(context: Context) -> list[str]:
    """Where in the library it raised, and that inner operation explained when it can be.

    The deepest library frame is read like a user frame: its failing instruction's source span,
    its operands from its locals. Nothing runs again.
    """
    frames = context.site.library_frames
    for depth in range(len(frames) - 1, -1, -1):
        frame = frames[depth]
        module = frame.f_globals.get("__name__") or ""
        if module.partition(".")[0] not in TENSOR_LIBRARIES:
            continue
        where = f"raised inside {module}.{frame.f_code.co_qualname}"
        site = site_at(frame, frame.f_lasti, frames[depth + 1 :])
        inner = None
        if site is not None:
            inner = explain_site(Context(site, context.error, inside_library=True))
        if inner is None or inner.generic:
            return [where]
        return [f"{where}, at `{inner.expression}`: {inner.cause}",
                *(f"  {operand.line()}" for operand in inner.operands)]
    return []


def _called_module(context: Context) -> Any:
    """The ``nn.Module`` whose ``__call__`` frame sits right below the user's frame, if any."""
    frames = context.site.library_frames
    return frames[0].f_locals.get("self") if frames and frames[0].f_code.co_name in (
        "_wrapped_call_impl", "_call_impl") else None


def from_callee(operand: Operand, value: Any) -> Operand:
    """An unknown operand replaced by the value the callee received, if that is an array."""
    if operand.origin != UNKNOWN:
        return operand
    received = Operand.of(operand.label, value)
    return replace(received, origin=ARGUMENT) if received.framework else operand


def _library_callable(function: Any) -> bool:
    owner = getattr(function, "__self__", None)
    if owner is not None and Operand.of("", owner).framework:
        return True
    module = getattr(function, "__module__", None) or ""
    return module.partition(".")[0] in TENSOR_LIBRARIES


def _receiver(context: Context, node: ast.Call, function: Any) -> Operand | None:
    """The array a method is called on (``x`` in ``x.view(5, 3)``), if it is one."""
    owner = getattr(function, "__self__", None)
    if owner is not None and Operand.of("", owner).framework:
        assert isinstance(node.func, ast.Attribute)
        return Operand.of(context.text(node.func.value), owner)
    if function is None and isinstance(node.func, ast.Attribute):
        return context.operand(node.func.value)  # e.g. f(x).view(...): unknown, not re-run
    return None


def _flattened(context: Context, positional: list[ast.expr], args: list[Operand]
               ) -> list[Operand]:
    """Arguments with list/tuple arguments such as ``[a, b, c]`` expanded into their elements."""
    operands: list[Operand] = []
    for index, (arg, operand) in enumerate(zip(positional, args, strict=True)):
        if isinstance(operand.value, list | tuple):
            value = context.received[index] if index < len(context.received) else None
            operands += _elements(context, arg, value)
        else:
            operands.append(operand)
    return operands


def call(context: Context, node: ast.Call) -> Clarification | None:
    """Function and method calls: dispatch on what is being called."""
    name = called_name(node.func)
    if "(...)" in name:
        name = context.text(node.func)
    try:
        function = read(node.func, context.frame)
    except Exception:
        function = None
    torch = sys.modules.get("torch")
    if torch is not None and function is None:
        function = _called_module(context)
    if torch is not None and isinstance(function, torch.nn.Module):
        return module_call(context, node, function, name)
    receiver = _receiver(context, node, function)
    positional = [arg for arg in node.args if not isinstance(arg, ast.Starred)]
    context.received = context.callee_arguments(function)
    args = [from_callee(op, context.received[i]) if i < len(context.received) else op
            for i, op in enumerate(context.operand(arg) for arg in positional)]
    operands = ([receiver] if receiver else []) + args
    short = name.rsplit(".", 1)[-1]
    if function is None or _library_callable(function):
        if short in MATMUL:
            return matmul(context, operands, None, name)
        if short in ELEMENTWISE:
            return elementwise(context, operands, None, name)
        if short in CONCATENATE:
            return concatenate(context, node, name)
        if short in RESHAPE and (receiver or args):
            subject, target = (receiver, node.args) if receiver else (args[0], node.args[1:2])
            return reshape(context, subject, target, name)
        if short == "einsum":
            return einsum(context, node, name)
        if short in FUNCTIONAL_LAYERS:
            return functional_layer(context, node, args, name)
    flattened = _flattened(context, positional, args)
    return generic(context, ([receiver] if receiver else []) + flattened, name)
