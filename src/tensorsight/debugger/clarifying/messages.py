"""What NumPy, PyTorch and JAX error messages state about shapes: a fallback for operands
nothing else can see."""

from __future__ import annotations

import re
from dataclasses import replace

from tensorsight.debugger.clarifying.operands import MESSAGE, UNKNOWN, Operand

_TORCH_PAIR = re.compile(r"\((\d+(?:x\d+)+) and (\d+(?:x\d+)+)\)")
_TUPLE = re.compile(r"\((\d+(?:,\s*\d+)*,?)\)")
_LIST_ENTRY = re.compile(r"\[(\d+(?:,\s*\d+)*)\] at entry (\d+)")


def message_shapes(message: str) -> list[tuple[int, ...]]:
    """Every full shape a NumPy/PyTorch/JAX error message states, in order.

    >>> message_shapes("mat1 and mat2 shapes cannot be multiplied (32x128 and 64x10)")
    [(32, 128), (64, 10)]
    >>> message_shapes("operands could not be broadcast together with shapes (3,4) (5,) ")
    [(3, 4), (5,)]
    """
    pair = _TORCH_PAIR.search(message)
    if pair:
        return [tuple(int(size) for size in part.split("x")) for part in pair.groups()]
    if "remapped shapes" in message:  # NumPy's gufunc messages state remapped, not real, shapes
        return []
    if "size of tensor" in message:  # PyTorch's "(4)" there is one dim's size, not a shape
        return []
    return [
        tuple(int(size) for size in match.group(1).split(",") if size.strip())
        for match in _TUPLE.finditer(message)
    ]


def fill_from_message(
    operands: list[Operand], message: str, framework: str | None
) -> list[Operand]:
    """Operands with unknown shapes filled in when the message states exactly one per operand.

    >>> known, unknown = Operand("W", (64, 10)), Operand.unknown("f(x)")
    >>> message = "mat1 and mat2 shapes cannot be multiplied (32x128 and 64x10)"
    >>> fill_from_message([unknown, known], message, "torch")[0].line()
    "f(x): 32x128 (from torch's message; not run again)"
    """
    if all(op.shape is not None for op in operands):
        return operands
    shapes = message_shapes(message)
    if len(shapes) != len(operands):
        return operands
    for op, shape in zip(operands, shapes, strict=True):
        if op.shape is not None and op.shape != shape:
            return operands  # the message speaks of other arrays (e.g. folded batch dims)
    return [
        replace(op, shape=shape, origin=MESSAGE, framework=framework)
        if op.origin == UNKNOWN
        else op
        for op, shape in zip(operands, shapes, strict=True)
    ]


# Messages that name only the two contracted sizes of a matrix product: (left's, right's).
_CONTRACTED_SIZES = (
    # NumPy: "Input operand 1 has a mismatch in its core dimension 0, with gufunc signature
    # (n?,k),(k,m?)->(n?,m?) (size 64 is different from 128)"
    (
        re.compile(
            r"Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
            r"\(n\?,k\),\(k,m\?\)->\(n\?,m\?\) \(size (?P<right>\d+) is different from "
            r"(?P<left>\d+)\)"
        ),
        "numpy",
    ),
    # PyTorch batched: "Expected size for first two dimensions of batch2 tensor to be: [16, 4]
    # but got: [16, 5]."
    (
        re.compile(
            r"first two dimensions of batch2 tensor to be: \[\d+, (?P<left>\d+)\] but got: "
            r"\[\d+, (?P<right>\d+)\]"
        ),
        "torch",
    ),
    # JAX: "dot_general requires contracting dimensions to have the same shape, got (128,) and
    # (64,)."
    (
        re.compile(
            r"contracting dimensions to have the same shape, got \((?P<left>\d+),\) and "
            r"\((?P<right>\d+),\)"
        ),
        "jax",
    ),
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
