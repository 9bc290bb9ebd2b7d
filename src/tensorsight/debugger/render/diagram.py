"""Draw arrays as labelled boxes, as plain text, as a rich renderable and as SVG.

The public surface is small so other renderers can reuse it:

* :class:`Box`: one array (label, dimensions, which dimensions to highlight, a caption);
* :class:`Diagram`: boxes with operator strings between them, drawn by
  :meth:`Diagram.text` (plain text at a fixed width), :meth:`Diagram.svg`, and
  ``__rich_console__`` / ``_repr_svg_`` / ``_repr_mimebundle_`` for rich and Jupyter.

A 1-D array is a bar, a 2-D array a rectangle (rows labelled on the left, columns below), 3-D and
4-D arrays a stack of rectangles whose leading sizes are written at the top right. Highlighted
dimensions get ``*size*`` labels and a heavy edge (red in colour). No system binary is needed.

>>> diagram = Diagram([Box("h", (32, 128), {1}), "@", Box("W", (64, 10), {0})])
>>> "*128*" in diagram.text(width=80) and diagram.svg().startswith("<svg")
True
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from tensorsight.debugger.arrays import Dim, dims_text
from tensorsight.debugger.render.svg import Svg

# Style names used on the text canvas; rich colours and SVG colours are looked up from them.
EDGE, BAD, LABEL, OPERATOR, NOTE = "edge", "bad", "label", "operator", "note"
RICH_STYLES = {EDGE: "cyan", BAD: "bold red", LABEL: "bold", OPERATOR: "bold yellow", NOTE: "dim"}
SVG_COLOURS = {
    EDGE: "#2b6cb0",
    BAD: "#d62728",
    LABEL: "#1a202c",
    OPERATOR: "#b7791f",
    NOTE: "#718096",
}
MAX_TITLE = 32
SVG_LEGEND = "red marks the dimensions that disagree"
TEXT_LEGEND = "*n* marks the dimensions that disagree"


@dataclass(frozen=True)
class Box:
    """One array to draw: ``dims`` is its shape (None when unknown), ``highlight`` the indices of
    the dimensions that disagree, ``caption`` extra words such as the dtype.

    >>> Box("x", (3, 4), {1}, "float32").title()
    'x: 3x4 float32'
    """

    label: str
    dims: tuple[Dim, ...] | None
    highlight: Collection[int] = field(default_factory=frozenset)
    caption: str = ""

    def title(self) -> str:
        """``label: shape caption``, shortened to fit above a box."""
        text = " ".join(
            part for part in (f"{self.label}: {dims_text(self.dims)}", self.caption) if part
        )
        return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def _cells(size: Dim, lowest: int, highest: int, per_doubling: float) -> int:
    """How many character cells (or SVG units) a dimension of ``size`` spans: logarithmic."""
    if not isinstance(size, int):
        return (lowest + highest) // 2
    return max(lowest, min(highest, round(per_doubling * math.log2(size + 1))))


@dataclass(frozen=True)
class DimLabel:
    """A dimension's label and whether it disagrees."""

    text: str
    bad: bool


@dataclass(frozen=True)
class BoxShape:
    """The one layout of a box, in grid cells, that both the text and the SVG drawing follow.

    The last dim is the width (``columns``, labelled below), the one before it the height
    (``rows``, labelled on the left), leading dims a stack of ``layers`` back faces labelled
    ``depth``. An unknown shape or a scalar is a ``marker`` instead.

    >>> shape = BoxShape.of(Box("x", (2, 8, 16, 64), {1}))
    >>> shape.columns, shape.rows, shape.layers, shape.back_bad
    (12, 2, 2, True)
    """

    marker: str | None = None
    columns: int = 0
    rows: int = 0
    layers: int = 0
    column: DimLabel = DimLabel("", False)
    row: DimLabel | None = None
    depth: tuple[DimLabel, ...] = ()

    @property
    def back_bad(self) -> bool:
        """Whether a leading (stacked) dim disagrees."""
        return any(dim.bad for dim in self.depth)

    @classmethod
    def of(cls, box: Box) -> BoxShape:
        """Lay out ``box``."""
        if box.dims is None or len(box.dims) == 0:
            return cls(marker="[?]" if box.dims is None else "[•]")
        dims, ndim = box.dims, len(box.dims)

        def label(index: int) -> DimLabel:
            size = dims[index]
            return DimLabel("?" if size is None else str(size), index in box.highlight)

        return cls(
            columns=_cells(dims[-1], 3, 18, 2.0),
            rows=0 if ndim < 2 else _cells(dims[-2], 1, 4, 0.5),
            layers=2 if ndim > 2 else 0,
            column=label(ndim - 1),
            row=label(ndim - 2) if ndim >= 2 else None,
            depth=tuple(label(index) for index in range(ndim - 2)),
        )


class _Canvas:
    """A grid of characters, each with an optional style name."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.cells: list[list[tuple[str, str | None]]] = [
            [(" ", None)] * width for _ in range(height)
        ]

    def put(self, row: int, col: int, text: str, style: str | None = None) -> None:
        for offset, char in enumerate(text):
            if 0 <= row < self.height and 0 <= col + offset < self.width:
                self.cells[row][col + offset] = (char, style)

    def paste(self, other: _Canvas, row: int, col: int) -> None:
        for r, line in enumerate(other.cells):
            for c, cell in enumerate(line):
                if cell[0] != " ":
                    self.cells[row + r][col + c] = cell

    def rows(self) -> Iterator[list[tuple[str, str | None]]]:
        yield from self.cells

    def plain(self) -> list[str]:
        return ["".join(char for char, _ in line).rstrip() for line in self.cells]


@dataclass
class _Block:
    canvas: _Canvas  # the drawing without its title
    middle: int  # row to align the operators with
    title: str = ""


def _rectangle(
    canvas: _Canvas, top: int, left: int, inner_w: int, inner_h: int, heavy: Collection[str] = ()
) -> None:
    """A box whose ``heavy`` edges ("top", "left", "bottom") are drawn thick; clears its inside."""
    top_h, left_h, bottom_h = ("top" in heavy), ("left" in heavy), ("bottom" in heavy)
    top_left = {(False, False): "┌", (True, False): "┍", (False, True): "┎", (True, True): "┏"}
    bottom_left = {(False, False): "└", (True, False): "┕", (False, True): "┖", (True, True): "┗"}

    def style(is_heavy: bool) -> str:
        return BAD if is_heavy else EDGE

    canvas.put(top, left, top_left[(top_h, left_h)], style(top_h or left_h))
    canvas.put(top, left + 1, ("━" if top_h else "─") * inner_w, style(top_h))
    canvas.put(top, left + inner_w + 1, "┑" if top_h else "┐", style(top_h))
    for row in range(top + 1, top + inner_h + 1):
        canvas.put(row, left, "┃" if left_h else "│", style(left_h))
        canvas.put(row, left + 1, " " * inner_w)
        canvas.put(row, left + inner_w + 1, "│", EDGE)
    bottom = top + inner_h + 1
    canvas.put(bottom, left, bottom_left[(bottom_h, left_h)], style(bottom_h or left_h))
    canvas.put(bottom, left + 1, ("━" if bottom_h else "─") * inner_w, style(bottom_h))
    canvas.put(bottom, left + inner_w + 1, "┙" if bottom_h else "┘", style(bottom_h))


def _marked(text: str, bad: bool) -> str:
    return f"*{text}*" if bad else text


def _box_block(box: Box) -> _Block:
    title = box.title()
    shape = BoxShape.of(box)
    if shape.marker is not None:
        canvas = _Canvas(3, 1)
        canvas.put(0, 0, shape.marker, EDGE)
        return _Block(canvas, 0, title)
    inner_w, inner_h = shape.columns, shape.rows
    row_label = "" if shape.row is None else _marked(shape.row.text, shape.row.bad)
    depth_label = (
        dims_text([_marked(dim.text, dim.bad) for dim in shape.depth]) if shape.depth else ""
    )
    shift = shape.layers  # rows (and 2 x columns) the back layers stick out
    margin = len(row_label) + 1 if row_label else 0
    drawing_w = margin + inner_w + 2 + 2 * shift + (len(depth_label) + 1 if depth_label else 0)
    col_label = _marked(shape.column.text, shape.column.bad)
    top = shift
    canvas = _Canvas(max(drawing_w, margin + len(col_label)), top + inner_h + 3)
    heavy_left = shape.row is not None and shape.row.bad
    for layer in range(shift, 0, -1):
        _rectangle(
            canvas,
            top - layer,
            margin + 2 * layer,
            inner_w,
            inner_h,
            {"top"} if shape.back_bad else (),
        )
    front = {name for name, on in (("bottom", shape.column.bad), ("left", heavy_left)) if on}
    _rectangle(canvas, top, margin, inner_w, inner_h, front)
    if depth_label:
        canvas.put(
            0, margin + 2 * shift + inner_w + 3, depth_label, BAD if shape.back_bad else LABEL
        )
    middle = top + (inner_h + 1) // 2
    if row_label:
        canvas.put(middle, 0, row_label, BAD if heavy_left else LABEL)
    centre = margin + (inner_w + 2 - len(col_label)) // 2
    canvas.put(top + inner_h + 2, centre, col_label, BAD if shape.column.bad else LABEL)
    return _Block(canvas, middle, title)


def _operator_block(text: str) -> _Block:
    canvas = _Canvas(len(text) + 2, 1)
    canvas.put(0, 1, text, OPERATOR)
    return _Block(canvas, 0)


def _join(blocks: Sequence[_Block]) -> _Canvas:
    """Blocks side by side: titles on the first row, drawings aligned on their middle rows."""
    above = max(block.middle for block in blocks)
    below = max(block.canvas.height - block.middle for block in blocks)
    widths = [max(block.canvas.width, len(block.title)) for block in blocks]
    canvas = _Canvas(sum(widths) + len(blocks) - 1, 1 + above + below)
    col = 0
    for block, width in zip(blocks, widths, strict=True):
        canvas.put(0, col, block.title, LABEL)
        canvas.paste(block.canvas, 1 + above - block.middle, col)
        col += width + 1
    return canvas


@dataclass(frozen=True)
class Diagram:
    """Boxes and operators laid out left to right, wrapped to the width asked for.

    >>> print(Diagram([Box("a", (3,)), "+", Box("b", (4,), {0})]).text(40))
    a: 3       b: 4
    ┌────┐  +  ┌─────┐
    └────┘     ┕━━━━━┙
      3          *4*
    *n* marks the dimensions that disagree
    """

    items: tuple[Box | str, ...]
    legend: str = TEXT_LEGEND

    def __init__(self, items: Iterable[Box | str]) -> None:
        object.__setattr__(self, "items", tuple(items))

    def _has_highlight(self) -> bool:
        return any(isinstance(item, Box) and item.highlight for item in self.items)

    def _canvases(self, width: int = 80) -> list[_Canvas]:
        """The diagram as rows of canvases no wider than ``width`` (unless one box is wider)."""
        blocks = [
            _operator_block(item) if isinstance(item, str) else _box_block(item)
            for item in self.items
        ]
        rows: list[list[_Block]] = [[]]
        used = 0
        for block in blocks:
            block_width = max(block.canvas.width, len(block.title))
            if rows[-1] and used + 1 + block_width > width:
                rows.append([])
                used = 0
            rows[-1].append(block)
            used += block_width + (1 if used else 0)
        canvases = [_join(row) for row in rows if row]
        if self._has_highlight():
            legend = _Canvas(len(self.legend), 1)
            legend.put(0, 0, self.legend, NOTE)
            canvases.append(legend)
        return canvases

    def text(self, width: int = 80) -> str:
        """Plain text (box-drawing characters, no colour), at most ``width`` columns wide."""
        return "\n".join(line for canvas in self._canvases(width) for line in canvas.plain())

    def __str__(self) -> str:
        return self.text()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        for canvas in self._canvases(options.max_width):
            for cells in canvas.rows():
                line = Text(no_wrap=True, overflow="crop")
                for style, run in groupby(cells, key=lambda cell: cell[1]):
                    line.append("".join(char for char, _ in run), RICH_STYLES.get(style or "", ""))
                line.rstrip()
                yield line

    def svg(self) -> str:
        """A standalone SVG document of the diagram (well-formed XML, no external resources)."""
        legend = SVG_LEGEND if self._has_highlight() else ""
        return _SvgDiagram().document(self.items, legend)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg(), "text/plain": self.text()}


class _SvgDiagram:
    """The diagram drawn on the SVG primitives, box by box from :class:`BoxShape`; sizes follow
    the text's cells (one cell is ``unit`` wide, half a unit tall per row).

    Highlighted dimensions are red (labels and the matching edge) instead of ``*``-marked.
    """

    unit, font, title_y, mid, height = 9, 13, 22.0, 88.0, 176

    def __init__(self) -> None:
        self.svg = Svg()

    def _text(self, x: float, y: float, text: str, style: str, anchor: str = "middle") -> None:
        self.svg.text(
            x, y, text, fill=SVG_COLOURS[style], anchor=anchor, bold=style in (BAD, OPERATOR, LABEL)
        )

    def _rect(
        self, x: float, y: float, w: float, h: float, style: str, dashed: bool = False
    ) -> None:
        self.svg.rect(
            x, y, w, h, fill="#ebf4ff", stroke=SVG_COLOURS[style], stroke_width=1.2, dashed=dashed
        )

    def _edge(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self.svg.line(x1, y1, x2, y2, stroke=SVG_COLOURS[BAD], width=4)

    def _width(self, text: str) -> float:
        return len(text) * self.font * 0.62

    def box(self, box: Box, x: float) -> float:
        """Draw one box with its left edge at ``x``; returns its width."""
        title = box.title()
        self._text(x, self.title_y, title, LABEL, "start")
        shape = BoxShape.of(box)
        if shape.marker is not None:
            side = 3 * self.unit
            self._rect(x, self.mid - side / 2, side, side, EDGE, dashed=box.dims is None)
            return max(side, self._width(title))
        w = shape.columns * self.unit
        h = (shape.rows * 2 + 1) * self.unit if shape.row is not None else self.unit
        margin = self._width(shape.row.text) + 8 if shape.row is not None else 0
        step = 6
        left, top = x + margin, self.mid - h / 2
        for layer in range(shape.layers, 0, -1):
            self._rect(
                left + layer * step, top - layer * step, w, h, BAD if shape.back_bad else EDGE
            )
        self._rect(left, top, w, h, EDGE)
        if shape.column.bad:
            self._edge(left, top + h, left + w, top + h)
        self._text(
            left + w / 2, top + h + 16, shape.column.text, BAD if shape.column.bad else LABEL
        )
        if shape.row is not None:
            if shape.row.bad:
                self._edge(left, top, left, top + h)
            self._text(
                left - 6, self.mid + 4, shape.row.text, BAD if shape.row.bad else LABEL, "end"
            )
        right = left + w + shape.layers * step
        if shape.depth:
            depth = dims_text([dim.text for dim in shape.depth])
            self._text(
                right + 4,
                top - shape.layers * step + 4,
                depth,
                BAD if shape.back_bad else LABEL,
                "start",
            )
            right += self._width(depth) + 6
        return max(right - x, self._width(title))

    def document(self, items: Sequence[Box | str], legend: str) -> str:
        x, gap = 12.0, 14
        for item in items:
            if isinstance(item, str):
                self._text(x + self._width(item) / 2, self.mid + 5, item, OPERATOR)
                x += self._width(item) + gap
            else:
                x += self.box(item, x) + gap
        if legend:
            self._text(12, self.height - 10, legend, NOTE, "start")
            x = max(x, 12 + self._width(legend))
        return self.svg.document(x + 12, self.height, font="monospace", font_size=self.font)
