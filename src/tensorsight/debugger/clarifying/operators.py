"""Rules for operators and their function forms: matrix products and broadcasting.

Each rule is a function of the context and the operands it is given; it returns the
:class:`Clarification`, or None when nothing about tensors can be said.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from tensorsight.debugger.clarifying.context import Context
from tensorsight.debugger.clarifying.messages import contracted_sizes
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.operands import UNKNOWN, Operand
from tensorsight.debugger.clarifying.phrases import (
    conflict_text,
    drawing_for,
    generic,
    mismatch_phrase,
    shapes_phrase,
    unknown_cause,
)
from tensorsight.debugger.clarifying.shapes import broadcast_conflicts

OPERATORS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
# Functions with a fixed number of dims per operand: (left's, right's).
FIXED_NDIM = {"mm": (2, 2), "bmm": (3, 3), "mv": (2, 1)}


def binary(
    context: Context, left: ast.expr, op: ast.AST, right: ast.expr, augmented: bool = False
) -> Clarification | None:
    """``a @ b``, ``a + b``, ``a == b``, ``a += b``."""
    symbol = OPERATORS.get(type(op), "?") + ("=" if augmented else "")
    operands = [context.operand(left), context.operand(right)]
    if isinstance(op, ast.MatMult):
        return matmul(context, operands, symbol, None)
    return elementwise(context, operands, symbol, None)


def matmul(
    context: Context, operands: Sequence[Operand], symbol: str | None, name: str | None
) -> Clarification | None:
    """Matrix products: the contracted dims, then the batch dims, then dtypes.

    Sizes the message states for unknown operands are used before shape rules derive them.
    """
    a, b = context.fill(operands[:2], derive=False)
    sizes = contracted_sizes(context.message)
    if (a.shape is None or b.shape is None) and sizes:
        left, right, library = sizes
        cause = (
            f"{shapes_phrase([a, b], symbol, name)} disagree: {a.ref()} has {left} in its "
            f"last dim but {b.ref()} has {right} in its contracted dim (sizes from "
            f"{library}'s message)"
        )
        return context.build(cause, [a, b], drawing_for([a, b], symbol, name))
    a, b = context.fill([a, b])
    if not (a.is_tensor or b.is_tensor):
        return None
    return _matmul_shapes(context, a, b, symbol, name)


def _matmul_shapes(
    context: Context, a: Operand, b: Operand, symbol: str | None, name: str | None
) -> Clarification | None:
    phrase = shapes_phrase([a, b], symbol, name)
    short = (name or "").rsplit(".", 1)[-1]

    def report(cause: str, *operands: Operand) -> Clarification:
        return context.build(cause, operands, drawing_for(operands, symbol, name))

    if a.shape is None or b.shape is None:
        return report(unknown_cause(phrase), a, b)
    if short in FIXED_NDIM and (a.ndim, b.ndim) != FIXED_NDIM[short]:
        want_a, want_b = FIXED_NDIM[short]
        needs = (
            f"{want_a}-D operands" if want_a == want_b else f"a {want_a}-D and a {want_b}-D operand"
        )
        cause = (
            f"{phrase} disagree: {name} needs {needs}, "
            f"got {a.ref()} {a.ndim}-D and {b.ref()} {b.ndim}-D"
        )
        return report(cause, a, b)
    if a.ndim == 0 or b.ndim == 0:
        scalar = a if a.ndim == 0 else b
        cause = (
            f"{phrase} disagree: a matrix product needs 1-D or larger operands, "
            f"{scalar.ref()} is a scalar"
        )
        return report(cause, a, b)
    shape_a, shape_b = a.shape, b.shape
    da, db = a.ndim - 1, (b.ndim - 2 if b.ndim >= 2 else 0)
    if shape_a[da] != shape_b[db]:
        a, b = a.with_bad(da), b.with_bad(db)
        return report(f"{phrase} disagree: {conflict_text(a, da, b, db)}", a, b)
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


def elementwise(
    context: Context, operands: Sequence[Operand], symbol: str | None, name: str | None
) -> Clarification | None:
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
