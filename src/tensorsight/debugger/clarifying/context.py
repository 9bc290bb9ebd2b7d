"""What a rule may look at: the failing site, the error, and what a torch recorder saw.

A :class:`Context` never changes once made; rules get everything else (operands, what the
called function received) as explicit arguments. Reading an operand tries, in order: the live
value; plain arithmetic on readable parts (``(a @ b)``); and otherwise reports it unknown.
:meth:`Context.fill` then fills unknown operands from, in order, what a torch recorder saw, the
framework's message, and shape rules applied to the operands' own operands
(:mod:`~tensorsight.debugger.clarifying.derive`): what the library itself stated comes first,
our model of a function's shapes last.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from tensorsight.debugger.clarifying.derive import derive_unknown, infer
from tensorsight.debugger.clarifying.messages import fill_from_message
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.operands import ARGUMENT, UNKNOWN, Operand
from tensorsight.debugger.frames import Site, Unreadable, array_library, read
from tensorsight.debugger.render import Box

Recorded = tuple[Any, tuple[Any, ...], dict[str, Any]]
"""``(function, args, kwargs)`` of the last torch call, as a recorder saw it."""


@dataclass(frozen=True)
class Context:
    """The site of one failure, the error, and recorded torch arguments if any.

    ``inside_library`` is true when the site is a library's own frame being read like a user's
    (to say which inner operation failed).
    """

    site: Site
    error: BaseException
    recorded: Recorded | None = None
    inside_library: bool = False

    @property
    def message(self) -> str:
        """The error's message."""
        return str(self.error)

    @property
    def frame(self) -> FrameType:
        """The frame the failing expression ran in."""
        return self.site.frame

    def text(self, node: ast.AST) -> str:
        """The source text of ``node`` on one line."""
        return self.site.text(node)

    def raising_library(self) -> str | None:
        """The array library of the deepest library frame (who raised), if any."""
        for frame in reversed(self.site.library_frames):
            library = array_library(frame.f_globals.get("__name__"))
            if library is not None:
                return library
        return None

    def read(self, node: ast.expr) -> Any:
        """The value of ``node`` read from the frame (raises :class:`Unreadable`)."""
        return read(node, self.frame)

    def operand(self, node: ast.expr) -> Operand:
        """The operand ``node`` read from the frame, inferred from readable parts, or unknown."""
        label = self.text(node)
        if isinstance(node, ast.Starred):
            return Operand.unknown(label)
        try:
            return replace(Operand.of(label, self.read(node)), node=node)
        except Unreadable:
            pass
        except Exception:  # a property of the user's that raised: report the operand as unknown
            return Operand.unknown(label)
        found = infer(self, node, label)
        return found if found is not None else replace(Operand.unknown(label), node=node)

    def callee_arguments(self, function: Any) -> tuple[Any, ...]:
        """The positional arguments the called library function received, read from its frame.

        Empty unless the first frame below the user's is that function's own Python frame.
        """
        frames = self.site.library_frames
        code = getattr(inspect.unwrap(function), "__code__", None) if function else None
        if not frames or code is None or frames[0].f_code is not code:
            return ()
        local = frames[0].f_locals
        names = code.co_varnames[: code.co_argcount]
        values = [local[name] for name in names if name in local]
        if len(values) == len(names) and code.co_flags & inspect.CO_VARARGS:
            star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
            values += list(local.get(star, ()))
        return tuple(values)

    def fill(self, operands: Sequence[Operand], *, derive: bool = True) -> list[Operand]:
        """Unknown operands filled from recorded torch arguments, the framework's message, and
        (with ``derive``) shape rules; see the module docstring for why in that order."""
        filled = fill_from_recording(list(operands), self.recorded)
        framework = next((op.framework for op in filled if op.framework), None)
        filled = fill_from_message(filled, self.message, framework or self.raising_library())
        return derive_unknown(self, filled) if derive else filled

    def build(
        self,
        cause: str,
        operands: Sequence[Operand],
        drawing: Sequence[Box | str],
        details: Sequence[str] = (),
        generic: bool = False,
    ) -> Clarification:
        """The :class:`Clarification` of this site (operands keep no reference to values)."""
        node = self.site.node
        return Clarification(
            expression=self.text(node),
            line=node.lineno,
            cause=cause,
            operands=tuple(replace(op, value=None, node=None) for op in operands),
            drawing=tuple(drawing),
            statement=self.site.statement_text() if self.site.worth_showing_statement() else None,
            details=tuple(details),
            generic=generic,
        )


def fill_from_recording(operands: list[Operand], recorded: Recorded | None) -> list[Operand]:
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


def from_callee(operand: Operand, value: Any) -> Operand:
    """An unknown operand replaced by the value the callee received, if that is an array."""
    if operand.origin != UNKNOWN:
        return operand
    received = Operand.of(operand.label, value)
    return replace(received, origin=ARGUMENT) if received.framework else operand
