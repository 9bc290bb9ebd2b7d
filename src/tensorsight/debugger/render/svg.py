"""The one SVG primitive layer: every drawing the debugger makes (operand diagrams,
``explain()`` statements, ``astviz()`` trees) is built from these few elements and written by
:meth:`Svg.document`.

Coordinates are user units; numbers are written with one decimal. Text is always escaped.

>>> svg = Svg()
>>> svg.rect(0, 0, 10, 5, fill="#fff", stroke="#000")
>>> svg.text(5, 4, "a < b", fill="#000", anchor="middle")
>>> svg.document(20, 10).count("<")
5
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

MONOSPACE = "Menlo, Consolas, DejaVu Sans Mono, monospace"


def _number(value: float) -> str:
    return f"{value:.1f}"


class Svg:
    """An SVG document being drawn: add elements, then write it with :meth:`document`."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        fill: str,
        anchor: str | None = None,
        bold: bool = False,
        size: float | None = None,
        fit: float | None = None,
        preserve: bool = False,
    ) -> None:
        """A text element; ``fit`` stretches it to exactly that width (so monospace columns
        line up whatever font the viewer has), ``preserve`` keeps its spaces."""
        attributes = [f'x="{_number(x)}"', f'y="{_number(y)}"', f'fill="{fill}"']
        if anchor:
            attributes.append(f'text-anchor="{anchor}"')
        if size is not None:
            attributes.append(f'font-size="{size:g}"')
        if bold:
            attributes.append('font-weight="bold"')
        if fit is not None and text:
            attributes.append(f'textLength="{_number(fit)}" lengthAdjust="spacingAndGlyphs"')
        if preserve:
            attributes.append('xml:space="preserve"')
        self.parts.append(f"<text {' '.join(attributes)}>{escape(text)}</text>")

    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        *,
        fill: str,
        stroke: str | None = None,
        stroke_width: float | None = None,
        rx: float | None = None,
        dashed: bool = False,
    ) -> None:
        """A rectangle, optionally outlined, rounded (``rx``) or dashed."""
        attributes = [
            f'x="{_number(x)}"',
            f'y="{_number(y)}"',
            f'width="{_number(width)}"',
            f'height="{_number(height)}"',
        ]
        if rx is not None:
            attributes.append(f'rx="{rx:g}"')
        attributes.append(f'fill="{fill}"')
        if stroke is not None:
            attributes.append(f'stroke="{stroke}"')
        if stroke_width is not None:
            attributes.append(f'stroke-width="{stroke_width:g}"')
        if dashed:
            attributes.append('stroke-dasharray="4 3"')
        self.parts.append(f"<rect {' '.join(attributes)}/>")

    def line(
        self, x1: float, y1: float, x2: float, y2: float, *, stroke: str, width: float | None = None
    ) -> None:
        """A straight line."""
        thickness = f' stroke-width="{width:g}"' if width is not None else ""
        self.parts.append(
            f'<line x1="{_number(x1)}" y1="{_number(y1)}" x2="{_number(x2)}" '
            f'y2="{_number(y2)}" stroke="{stroke}"{thickness}/>'
        )

    def polyline(self, points: Sequence[tuple[float, float]], *, stroke: str, width: float) -> None:
        """An open path through ``points`` (a bracket under code)."""
        steps = " L".join(f"{_number(x)},{_number(y)}" for x, y in points)
        self.parts.append(
            f'<path d="M{steps}" fill="none" stroke="{stroke}" stroke-width="{width:g}"/>'
        )

    def document(
        self,
        width: float,
        height: float,
        *,
        left: float = 0,
        font: str = MONOSPACE,
        font_size: float = 13,
        background: str | None = None,
    ) -> str:
        """The standalone SVG (well-formed XML, no external resources); ``left`` shifts the
        view box so drawings may start at a negative x, ``background`` fills it first."""
        size = f'width="{width:.0f}" height="{height:.0f}"'
        view = f'viewBox="{left:g} 0 {width:.0f} {height:.0f}"'
        fill = (
            f'<rect x="{left:g}" y="0" width="{width:.0f}" height="{height:.0f}" '
            f'fill="{background}"/>\n'
            if background
            else ""
        )
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" {size} {view} font-family="{font}" '
            f'font-size="{font_size:g}">\n{fill}' + "\n".join(self.parts) + "\n</svg>"
        )
