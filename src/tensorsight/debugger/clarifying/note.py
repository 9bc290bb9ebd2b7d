"""The product: a one-line cause, the operands, and a drawing of the failing operation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # drawing loads only when a note is drawn
    from tensorsight.debugger.clarifying.operands import Operand
    from tensorsight.debugger.render import Box, Diagram

NOTE_PREFIX = "tensorsight:"


def already_clarified(error: BaseException) -> bool:
    """True when an enclosing or earlier ``clarify`` already added its note."""
    return any(str(note).startswith(NOTE_PREFIX) for note in getattr(error, "__notes__", ()))


@dataclass(frozen=True)
class Clarification:
    """Why one tensor operation failed.

    ``cause`` completes the headline ``tensorsight: in `expression` (line n), <cause>``;
    ``operands`` get a line each; ``drawing`` holds the boxes and operators of the diagram.

    >>> c = Clarification("a + b", 3, "operands disagree", (), ())
    >>> c.headline()
    'tensorsight: in `a + b` (line 3), operands disagree'
    """

    expression: str
    line: int
    cause: str
    operands: Sequence[Operand]
    drawing: Sequence[Box | str]
    statement: str | None = None
    details: Sequence[str] = field(default_factory=tuple)
    generic: bool = False  # no rule knew the operation: the note only lists the operands

    def headline(self) -> str:
        """The note's first line: where it failed and why."""
        return f"{NOTE_PREFIX} in `{self.expression}` (line {self.line}), {self.cause}"

    def diagram(self) -> Diagram:
        """The failing operation drawn as boxes (see :mod:`tensorsight.debugger.render`)."""
        from tensorsight.debugger.render import Diagram

        return Diagram(self.drawing)

    def note(self, *, diagram: bool = True, width: int = 80) -> str:
        """The text added to the exception with ``add_note``."""
        lines = [self.headline()]
        if self.statement:
            lines.append(f"  statement: {self.statement}")
        lines += [f"  {operand.line()}" for operand in self.operands]
        lines += [f"  {detail}" for detail in self.details]
        if diagram and self.drawing:
            lines += ["", self.diagram().text(width)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.note()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        yield Text(self.note(diagram=False))
        if self.drawing:
            yield Text("")
            yield self.diagram()

    def _repr_svg_(self) -> str:
        return self.diagram().svg()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.diagram().svg(), "text/plain": self.note()}
