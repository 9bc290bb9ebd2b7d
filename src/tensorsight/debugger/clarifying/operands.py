"""Operands of a failing operation: what is known about each, and where that knowledge came from.

An operand's shape is read from the live frame when its expression is a name, attribute,
subscript or constant; inferred from readable parts for plain arithmetic such as ``(a @ b)``;
taken from the arguments a library frame received; recovered from the framework's own message;
or, when none of those can see it, reported as unknown. Nothing is ever called again.
"""

from __future__ import annotations

import ast
import re
import reprlib
from dataclasses import dataclass, field, replace
from typing import Any

from tensorsight.debugger.arrays import describe, dims_text
from tensorsight.debugger.render import Box

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
    node: ast.expr | None = field(default=None, repr=False, compare=False)  # its source, if any

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
        return dims_text(self.shape)

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
