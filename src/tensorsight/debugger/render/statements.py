"""Draw what ``explain()`` saw: labels under sub-expressions as text, rich text and SVG.

One layout feeds every output. Each labelled sub-expression gets a bracket under its source text
(``└───┘``, ``^`` for one character) followed by its shape; brackets are packed into rows, inner
sub-expressions above the ones that contain them, so a statement stays readable at 80 columns::

    h = torch.relu(x @ W1 + b1)
                   ^ 32x784
                       └┘ 784x64
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import IO, TYPE_CHECKING, Any

from tensorsight.debugger.render.svg import Svg

if TYPE_CHECKING:
    from tensorsight.debugger.tracing.explanation import Explanation, StatementShapes

# Style names on the text grid; rich styles and SVG colours are looked up from them.
CODE, BRACKET, LABEL, RESULT, NOTE = "code", "bracket", "label", "result", "note"
RICH_STYLES = {CODE: "", BRACKET: "cyan", LABEL: "bold cyan", RESULT: "bold green", NOTE: "dim"}
SVG_COLOURS = {
    CODE: "#1a202c",
    BRACKET: "#2b6cb0",
    LABEL: "#2b6cb0",
    RESULT: "#2f855a",
    NOTE: "#718096",
}
CHAR_WIDTH, LINE_HEIGHT, FONT_SIZE = 8.4, 18, 14


@dataclass(frozen=True)
class Mark:
    """One bracket and its label on a row: columns ``start..end`` (end exclusive) of the code."""

    start: int
    end: int
    label: str
    result: bool
    label_left: bool = False

    def extent(self) -> tuple[int, int]:
        """Columns taken by bracket and label together."""
        if self.label_left:
            return self.start - len(self.label) - 1, self.end
        return self.start, self.end + 1 + len(self.label)


@dataclass(frozen=True)
class Block:
    """A code line and the rows of marks drawn under it."""

    code: str
    rows: tuple[tuple[Mark, ...], ...]


def layout(shapes: StatementShapes, width: int = 80) -> list[Block]:
    """The code lines of ``shapes`` with their marks packed into rows (inner spans first)."""
    statement = shapes.statement
    lines = statement.lines
    per_line: list[list[Mark]] = [[] for _ in lines]
    roots = set(shapes.roots)
    for position, operand in enumerate(shapes.operands):
        span = operand.span
        index = span.end_line - statement.span.line
        if not 0 <= index < len(lines):
            continue
        line = lines[index]
        if span.line == span.end_line:
            start = span.col - statement.indent
        else:
            start = len(line) - len(line.lstrip())
        end = max(start + 1, span.end_col - statement.indent)
        label = operand.label()
        left = end + 1 + len(label) > width and start - len(label) - 1 >= 0
        per_line[index].append(Mark(start, end, label, position in roots, left))
    return [Block(code, _pack(marks)) for code, marks in zip(lines, per_line, strict=True)]


def _pack(marks: list[Mark]) -> tuple[tuple[Mark, ...], ...]:
    """Rows of marks that do not touch; a mark sits below every mark inside its span."""
    rows: list[list[Mark]] = []
    placed: list[tuple[Mark, int]] = []
    for mark in sorted(marks, key=lambda m: (m.end - m.start, m.start)):
        lowest = 1 + max(
            (row for other, row in placed if mark.start <= other.start and other.end <= mark.end),
            default=-1,
        )
        first, last = mark.extent()
        row = lowest
        while row < len(rows) and any(
            not (last + 1 <= other.extent()[0] or other.extent()[1] + 1 <= first)
            for other in rows[row]
        ):
            row += 1
        if row == len(rows):
            rows.append([])
        rows[row].append(mark)
        placed.append((mark, row))
    return tuple(tuple(sorted(row, key=lambda m: m.start)) for row in rows)


# ---------------------------------------------------------------------------------------------
# Text


Styled = list[tuple[str, str]]
"""A line as (text, style name) pieces."""


def _mark_pieces(row: Sequence[Mark]) -> Styled:
    pieces: Styled = []
    column = 0
    for mark in row:
        first, _ = mark.extent()
        pieces.append((" " * (first - column), CODE))
        width = mark.end - mark.start
        bracket = "^" if width == 1 else "└" + "─" * (width - 2) + "┘"
        label_style = RESULT if mark.result else LABEL
        if mark.label_left:
            pieces += [(mark.label, label_style), (" ", CODE), (bracket, BRACKET)]
        else:
            pieces += [(bracket, BRACKET), (" ", CODE), (mark.label, label_style)]
        column = mark.extent()[1]
    return pieces


def _header(shapes: StatementShapes) -> str:
    statement = shapes.statement
    result = shapes.operands[shapes.roots[-1]] if shapes.roots else shapes.operands[-1]
    where = f"{statement.location} in {statement.function}"
    return f"{where}  [{result.framework} {result.dtype}]"


def statement_lines(shapes: StatementShapes, width: int = 80) -> list[Styled]:
    """The header, each code line and its mark rows, as styled pieces."""
    lines: list[Styled] = [[(_header(shapes), NOTE)]]
    for block in layout(shapes, width):
        lines.append([(block.code, CODE)])
        lines.extend(_mark_pieces(row) for row in block.rows)
    return lines


def _plain(lines: Iterable[Styled]) -> str:
    return "\n".join("".join(text for text, _ in line).rstrip() for line in lines)


def statement_text(shapes: StatementShapes, width: int = 80) -> str:
    """``shapes`` as plain text: header, code, a labelled bracket under each sub-expression."""
    return _plain(statement_lines(shapes, width))


def statement_rich(shapes: StatementShapes, width: int = 80) -> Any:
    """``shapes`` as a rich ``Text`` (colours: brackets cyan, results green)."""
    from rich.text import Text

    text = Text(no_wrap=True, overflow="ignore")
    for number, line in enumerate(statement_lines(shapes, width)):
        if number:
            text.append("\n")
        for piece, style in line:
            text.append(piece, RICH_STYLES[style] or None)
    return text


def _shape_words(shapes: StatementShapes) -> list[str]:
    """``x 32x784,`` ``W 784x64`` ``→ 32x64``: the leaves, then the results they produce."""
    leaves = list(
        dict.fromkeys(
            f"{shapes.operands[i].source} {shapes.operands[i].label()}" for i in shapes.leaves
        )
    )
    words = [f"{word}," for word in leaves[:-1]] + leaves[-1:]
    results = [shapes.operands[i].label() for i in shapes.roots if i not in shapes.leaves]
    if results:
        words.append(f"→ {', '.join(results)}")
    if shapes.count > 1:
        words.append(f"(x{shapes.count})")
    return words


def summary_text(statements: Sequence[StatementShapes], width: int = 80) -> str:
    """Each statement once, in the order they started, with its shape signatures below it:
    the leaf operands' shapes → the result's, and how many runs had that signature."""
    grouped: dict[int, list[StatementShapes]] = {}
    for shapes in sorted(statements, key=lambda shapes: shapes.started):
        grouped.setdefault(id(shapes.statement), []).append(shapes)
    out = [
        f"explain summary: {_count(len(grouped), 'statement')}, "
        f"{_count(len(statements), 'shape signature')}"
    ]
    for signatures in grouped.values():
        statement = signatures[0].statement
        where = f"  {statement.location}  "
        source = statement.lines[0] + (" …" if len(statement.lines) > 1 else "")
        room = max(10, width - len(where))
        if len(source) > room:
            source = source[: room - 1] + "…"
        out.append(f"{where}{source}")
        for shapes in signatures:
            out.extend(_wrap(_shape_words(shapes), "      ", width))
    return "\n".join(out)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _wrap(words: Sequence[str], indent: str, width: int) -> list[str]:
    lines: list[str] = []
    current = indent
    for word in words:
        candidate = word if current == indent else f" {word}"
        if current != indent and len(current) + len(candidate) > width:
            lines.append(current)
            current = indent + word
        else:
            current += candidate
    lines.append(current)
    return lines


# ---------------------------------------------------------------------------------------------
# SVG


def statement_svg(shapes: StatementShapes) -> str:
    """``shapes`` as a standalone SVG: the code in monospace, brackets and shape labels below."""
    svg = Svg()
    y = LINE_HEIGHT
    header = _header(shapes)
    widest = len(header)
    _svg_text(svg, 0, y, header, NOTE, size=FONT_SIZE - 2)
    for block in layout(shapes, width=10_000):
        y += LINE_HEIGHT + 4
        _svg_text(svg, 0, y, block.code, CODE, fit=True)
        widest = max(widest, len(block.code))
        for row in block.rows:
            y += LINE_HEIGHT
            for mark in row:
                _svg_mark(svg, mark, y)
                widest = max(widest, mark.extent()[1])
    width = round((widest + 2) * CHAR_WIDTH + 16)
    return svg.document(
        width, y + LINE_HEIGHT // 2, left=-8, font_size=FONT_SIZE, background="white"
    )


def _svg_text(
    svg: Svg,
    column: float,
    y: float,
    text: str,
    style: str,
    *,
    size: int = FONT_SIZE,
    bold: bool = False,
    fit: bool = False,
) -> None:
    """A text element at a character column; ``fit`` stretches it to exactly one column per
    character so brackets line up whatever monospace font the viewer has."""
    svg.text(
        column * CHAR_WIDTH,
        y,
        text,
        fill=SVG_COLOURS[style],
        size=size,
        bold=bold,
        fit=len(text) * CHAR_WIDTH if fit else None,
        preserve=True,
    )


def _svg_mark(svg: Svg, mark: Mark, y: float) -> None:
    left, right = mark.start * CHAR_WIDTH + 1, mark.end * CHAR_WIDTH - 1
    top, bottom = y - LINE_HEIGHT + 6, y - 6
    svg.polyline(
        [(left, top), (left, bottom), (right, bottom), (right, top)],
        stroke=SVG_COLOURS[BRACKET],
        width=1.5,
    )
    column = mark.extent()[0] if mark.label_left else mark.end + 1
    _svg_text(svg, column, y - 2, mark.label, RESULT if mark.result else LABEL, bold=True)


def explanation_html(explanation: Explanation) -> str:
    """Every statement's SVG and the summary, for Jupyter's rich display."""
    figures = "".join(f"<div>{shapes.svg()}</div>" for shapes in explanation.statements)
    return f"{figures}<pre>{escape(explanation.summary())}</pre>"


# ---------------------------------------------------------------------------------------------
# Where output goes


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel attached)."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return False
    shell = ipython_module.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Output:
    """Where an explanation goes: a terminal gets rich colours, any other stream plain text (the
    same characters, no escape codes), and a notebook with no ``file`` an SVG per statement."""

    def __init__(self, file: IO[str] | None) -> None:
        self.notebook = file is None and in_notebook()
        self.stream = file if file is not None else sys.stdout
        self.console: Any = None
        self.width = 100 if self.notebook else 80
        if not self.notebook and getattr(self.stream, "isatty", lambda: False)():
            from rich.console import Console

            self.width = shutil.get_terminal_size().columns
            self.console = Console(file=self.stream, width=self.width, highlight=False)

    def statement(self, shapes: StatementShapes) -> None:
        if self.notebook:
            from tensorsight.debugger.render.notebook import display_svg

            display_svg(shapes.svg())
        elif self.console is not None:
            self.console.print(statement_rich(shapes, self.width), soft_wrap=True)
            self.console.print()
        else:
            self.stream.write(statement_text(shapes, self.width) + "\n\n")

    def note(self, text: str) -> None:
        if self.notebook:
            print(text)
        elif self.console is not None:
            self.console.print(text, soft_wrap=True, style=RICH_STYLES[NOTE], markup=False)
        else:
            self.stream.write(text + "\n")

    def summary(self, statements: Sequence[StatementShapes]) -> None:
        self.note(summary_text(statements, self.width))
