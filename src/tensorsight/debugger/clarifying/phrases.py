"""The words and drawings of a note: how operands, shapes and disagreements are written.

>>> from tensorsight.debugger.clarifying.operands import Operand
>>> a, b = Operand("a", (3, 4)), Operand("b", (5,))
>>> shapes_phrase([a, b], "+", None), shapes_phrase([a, b], None, "np.add")
('operand shapes 3x4 + 5', 'np.add operand shapes 3x4, 5')
"""

from __future__ import annotations

from collections.abc import Sequence

from tensorsight.debugger.clarifying.context import Context
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.operands import Operand
from tensorsight.debugger.render import Box


def conflict_text(a: Operand, da: int, b: Operand, db: int) -> str:
    """``dim 1 of a (4) != dim 0 of b (5)``."""
    assert a.shape is not None and b.shape is not None
    return f"dim {da} of {a.ref()} ({a.shape[da]}) != dim {db} of {b.ref()} ({b.shape[db]})"


def shapes_phrase(operands: Sequence[Operand], symbol: str | None, name: str | None) -> str:
    """``operand shapes 3x4 + 5`` for operators, ``np.add operand shapes 3x4, 5`` for calls."""
    if symbol:
        return "operand shapes " + f" {symbol} ".join(op.shape_text() for op in operands)
    return f"{name} operand shapes " + ", ".join(op.shape_text() for op in operands)


def mismatch_phrase(
    operands: Sequence[Operand], symbol: str | None, name: str | None
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


def drawing_for(
    operands: Sequence[Operand], symbol: str | None, name: str | None, opening: str | None = None
) -> list[Box | str]:
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
    """The cause when an operand's shape stays unknown."""
    return f"{phrase} disagree (an operand's shape is unknown: it is the result of a call)"


def generic(context: Context, operands: Sequence[Operand], name: str) -> Clarification | None:
    """Any other failing operation on tensors: name it and list its operands' shapes.

    The dispatcher adds where inside the library it raised (the note is marked ``generic``).
    """
    operands = list(operands)
    if not any(op.is_tensor for op in operands):
        return None
    listing = ", ".join(f"{op.ref()} ({op.shape_text()})" for op in operands if op.is_tensor)
    cause = f"{name} failed on {listing}"
    return context.build(cause, operands, drawing_for(operands, None, name), generic=True)
