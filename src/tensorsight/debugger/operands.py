"""Operands of a failing operation: what is known about each, and where that knowledge came from.

An operand's shape is read from the live frame when its expression is a name, attribute,
subscript or constant; inferred from readable parts for plain arithmetic such as ``(a @ b)``;
taken from the arguments a library frame received; recovered from the framework's own message;
or, when none of those can see it, reported as unknown. Nothing is ever called again.
"""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass, field, replace
from typing import Any

from tensorsight.debugger.diagram import Box, dims_text
from tensorsight.debugger.tensors import describe

# Where an operand's shape came from; the note says so for everything but a live value.
VALUE, MESSAGE, INFERRED, ARGUMENT, UNKNOWN = "value", "message", "inferred", "argument", "unknown"

_SIMPLE_LABEL = re.compile(r"[A-Za-z_][\w.]*(\[[^\[\]]*\])?")
MAX_LABEL = 30


@dataclass(frozen=True)
class Operand:
    """One operand: its source text and what is known of its shape, dtype and device.

    >>> import numpy as np
    >>> Operand.of("x", np.zeros((2, 3))).line()
    'x: 2x3 float64'
    """

    label: str
    shape: tuple[int, ...] | None
    dtype: str | None = None
    device: str | None = None
    origin: str = VALUE
    framework: str | None = None
    value: Any = field(default=None, repr=False, compare=False)
    bad: frozenset[int] = frozenset()
    prose: bool = False  # the label is words ("input of net[2]"), not source code
    summary: str = ""  # type and short repr of a value that is not an array

    @classmethod
    def of(cls, label: str, value: Any) -> Operand:
        """An operand for a live value: arrays are described, Python numbers are 0-d."""
        info = describe(value)
        if info is not None:
            device = info.device if info.framework == "torch" else None
            return cls(label, info.shape, info.dtype, device, VALUE, info.framework, value)
        if isinstance(value, bool | int | float | complex):
            return cls(label, (), type(value).__name__, value=value)
        summary = f"{type(value).__name__} {reprlib.repr(value)}"
        return cls(label, None, origin=VALUE, value=value, summary=summary)

    @classmethod
    def unknown(cls, label: str) -> Operand:
        """An operand whose value nothing could see without running code again."""
        return cls(label, None, origin=UNKNOWN)

    @property
    def is_tensor(self) -> bool:
        """True when it is a NumPy/PyTorch/JAX array or its shape is known from elsewhere."""
        return self.framework is not None or self.origin in (MESSAGE, INFERRED, ARGUMENT)

    @property
    def ndim(self) -> int:
        """Number of dimensions (the shape must be known)."""
        assert self.shape is not None
        return len(self.shape)

    def shape_text(self) -> str:
        """``32x128``, ``scalar`` or ``?``."""
        return "?" if self.shape is None else dims_text(self.shape)

    def ref(self) -> str:
        """How a sentence names it: ``h``, ``self.W``, or ```f(x)``` in backticks."""
        if self.prose or (_SIMPLE_LABEL.fullmatch(self.label) and len(self.label) <= MAX_LABEL):
            return self.label
        if len(self.label) <= MAX_LABEL:
            return f"`{self.label}`"
        return f"`{self.label[: MAX_LABEL - 1]}…`"

    def with_bad(self, *dims: int) -> Operand:
        """A copy with ``dims`` marked as disagreeing."""
        return replace(self, bad=self.bad | frozenset(dims))

    def line(self) -> str:
        """The note's line for this operand."""
        if self.origin == UNKNOWN:
            return f"{self.label}: shape unknown (result of a call; not run again)"
        if self.shape is None:
            return f"{self.label}: {self.summary}"
        parts = [f"{self.label}: {self.shape_text()}"]
        parts += [part for part in (self.dtype, self.device) if part]
        if self.origin == MESSAGE:
            parts.append(f"(from {self.framework or 'the library'}'s message; not run again)")
        elif self.origin == INFERRED:
            parts.append("(inferred from its operands; not run again)")
        elif self.origin == ARGUMENT:
            parts.append("(as the called function received it; not run again)")
        return " ".join(parts)

    def box(self) -> Box:
        """This operand as a diagram :class:`Box`."""
        caption = " ".join(part for part in (self.dtype, self.device) if part)
        return Box(self.label, self.shape, self.bad, caption)


# --- shapes stated in framework messages -------------------------------------------------------

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
