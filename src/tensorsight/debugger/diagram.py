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
from html import escape
from itertools import groupby
from typing import Any

Dim = int | str | None
"""A dimension: its size, a symbolic name such as ``"N"``, or None when unknown."""

# Style names used on the text canvas; rich colours and SVG colours are looked up from them.
EDGE, BAD, LABEL, OPERATOR, NOTE = "edge", "bad", "label", "operator", "note"
RICH_STYLES = {EDGE: "cyan", BAD: "bold red", LABEL: "bold", OPERATOR: "bold yellow", NOTE: "dim"}
SVG_COLOURS = {
    EDGE: "#2b6cb0", BAD: "#d62728", LABEL: "#1a202c", OPERATOR: "#b7791f", NOTE: "#718096"
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
        shape = "?" if self.dims is None else dims_text(self.dims)
        text = " ".join(part for part in (f"{self.label}: {shape}", self.caption) if part)
        return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"

    def dim_label(self, index: int, marked: bool = True) -> str:
        """The label of one dimension, wrapped in ``*`` when highlighted (and ``marked``)."""
        assert self.dims is not None
        size = self.dims[index]
        text = "?" if size is None else str(size)
        return f"*{text}*" if marked and index in self.highlight else text


def dims_text(dims: Sequence[Dim]) -> str:
    """``32x128`` style; ``scalar`` for no dimensions, ``?`` for unknown sizes.

    >>> dims_text((32, None, "N")), dims_text(())
    ('32x?xN', 'scalar')
    """
    if not dims:
        return "scalar"
    return "x".join("?" if size is None else str(size) for size in dims)


def _cells(size: Dim, lowest: int, highest: int, per_doubling: float) -> int:
    """How many character cells (or SVG units) a dimension of ``size`` spans: logarithmic."""
    if not isinstance(size, int):
        return (lowest + highest) // 2
    return max(lowest, min(highest, round(per_doubling * math.log2(size + 1))))


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


def _rectangle(canvas: _Canvas, top: int, left: int, inner_w: int, inner_h: int,
               heavy: Collection[str] = ()) -> None:
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


def _box_block(box: Box) -> _Block:
    title = box.title()
    if box.dims is None or len(box.dims) == 0:
        canvas = _Canvas(3, 1)
        canvas.put(0, 0, "[?]" if box.dims is None else "[•]", EDGE)
        return _Block(canvas, 0, title)
    dims, ndim = box.dims, len(box.dims)
    col_index = ndim - 1
    row_index = ndim - 2 if ndim >= 2 else None
    inner_w = _cells(dims[col_index], 3, 18, 2.0)
    inner_h = 0 if row_index is None else _cells(dims[row_index], 1, 4, 0.5)
    row_label = "" if row_index is None else box.dim_label(row_index)
    depth_label = "x".join(box.dim_label(i) for i in range(ndim - 2)) if ndim > 2 else ""
    shift = 2 if ndim > 2 else 0  # rows (and 2 x columns) the back layers stick out
    margin = len(row_label) + 1 if row_label else 0
    drawing_w = margin + inner_w + 2 + 2 * shift + (len(depth_label) + 1 if depth_label else 0)
    col_label = box.dim_label(col_index)
    top = shift
    canvas = _Canvas(max(drawing_w, margin + len(col_label)), top + inner_h + 3)
    heavy_bottom = col_index in box.highlight
    heavy_left = row_index is not None and row_index in box.highlight
    heavy_back = any(i in box.highlight for i in range(ndim - 2))
    for layer in range(shift, 0, -1):
        _rectangle(canvas, top - layer, margin + 2 * layer, inner_w, inner_h,
                   {"top"} if heavy_back else ())
    front = {name for name, on in (("bottom", heavy_bottom), ("left", heavy_left)) if on}
    _rectangle(canvas, top, margin, inner_w, inner_h, front)
    if depth_label:
        canvas.put(0, margin + 2 * shift + inner_w + 3, depth_label, BAD if heavy_back else LABEL)
    middle = top + (inner_h + 1) // 2
    if row_label:
        canvas.put(middle, 0, row_label, BAD if heavy_left else LABEL)
    centre = margin + (inner_w + 2 - len(col_label)) // 2
    canvas.put(top + inner_h + 2, centre, col_label, BAD if heavy_bottom else LABEL)
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
        blocks = [_operator_block(item) if isinstance(item, str) else _box_block(item)
                  for item in self.items]
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
        return _Svg(self.items, legend).document()

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg(), "text/plain": self.text()}


class _Svg:
    """SVG drawing of a diagram; sizes follow the same logarithmic scale as the text.

    Highlighted dimensions are red (labels and the matching edge) instead of ``*``-marked.
    """

    unit, font, title_y, mid = 9, 13, 22.0, 88.0

    def __init__(self, items: Sequence[Box | str], legend: str) -> None:
        self.items, self.legend = items, legend
        self.parts: list[str] = []

    def _text(self, x: float, y: float, text: str, style: str, anchor: str = "middle") -> None:
        weight = ' font-weight="bold"' if style in (BAD, OPERATOR, LABEL) else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" fill="{SVG_COLOURS[style]}" text-anchor="{anchor}"'
            f"{weight}>{escape(text)}</text>"
        )

    def _rect(self, x: float, y: float, w: float, h: float, colour: str,
              dashed: bool = False) -> None:
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#ebf4ff" '
            f'stroke="{colour}" stroke-width="1.2"{dash}/>'
        )

    def _edge(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{SVG_COLOURS[BAD]}" stroke-width="4"/>'
        )

    def _width(self, text: str) -> float:
        return len(text) * self.font * 0.62

    def _box(self, box: Box, x: float) -> float:
        """Draw one box with its left edge at ``x``; returns its width."""
        title = box.title()
        self._text(x, self.title_y, title, LABEL, "start")
        if box.dims is None or len(box.dims) == 0:
            side = 3 * self.unit
            self._rect(x, self.mid - side / 2, side, side, SVG_COLOURS[EDGE],
                       dashed=box.dims is None)
            return max(side, self._width(title))
        dims, ndim = box.dims, len(box.dims)
        w = _cells(dims[-1], 3, 18, 2.0) * self.unit
        h = (_cells(dims[-2], 1, 4, 0.5) * 2 + 1) * self.unit if ndim >= 2 else self.unit
        margin = self._width(box.dim_label(ndim - 2, False)) + 8 if ndim >= 2 else 0
        layers, step = (2 if ndim > 2 else 0), 6
        left, top = x + margin, self.mid - h / 2
        heavy_back = any(i in box.highlight for i in range(ndim - 2))
        for layer in range(layers, 0, -1):
            self._rect(left + layer * step, top - layer * step, w, h,
                       SVG_COLOURS[BAD if heavy_back else EDGE])
        self._rect(left, top, w, h, SVG_COLOURS[EDGE])
        col, row = ndim - 1, ndim - 2
        if col in box.highlight:
            self._edge(left, top + h, left + w, top + h)
        self._text(left + w / 2, top + h + 16, box.dim_label(col, False),
                   BAD if col in box.highlight else LABEL)
        if ndim >= 2:
            if row in box.highlight:
                self._edge(left, top, left, top + h)
            self._text(left - 6, self.mid + 4, box.dim_label(row, False),
                       BAD if row in box.highlight else LABEL, "end")
        right = left + w + layers * step
        if ndim > 2:
            depth = "x".join(box.dim_label(i, False) for i in range(ndim - 2))
            self._text(right + 4, top - layers * step + 4, depth, BAD if heavy_back else LABEL,
                       "start")
            right += self._width(depth) + 6
        return max(right - x, self._width(title))

    def document(self) -> str:
        x, gap = 12.0, 14
        for item in self.items:
            if isinstance(item, str):
                self._text(x + self._width(item) / 2, self.mid + 5, item, OPERATOR)
                x += self._width(item) + gap
            else:
                x += self._box(item, x) + gap
        height = 176
        if self.legend:
            self._text(12, height - 10, self.legend, NOTE, "start")
            x = max(x, 12 + self._width(self.legend))
        body = "".join(self.parts)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{x + 12:.0f}" height="{height}" '
            f'viewBox="0 0 {x + 12:.0f} {height}" font-family="monospace" font-size="{self.font}">'
            f"{body}</svg>"
        )
