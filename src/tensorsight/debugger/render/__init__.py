"""Drawing: one SVG primitive layer (:class:`Svg`) under every picture, and one layout per
picture feeding its text and its SVG: operand diagrams (:class:`Diagram`, laid out by
:class:`BoxShape`), ``explain()`` statements (:mod:`statements`), ``astviz()`` trees (:mod:`trees`).

Nothing here imports rich or IPython until a rich renderable is printed or a notebook displays.
"""

from tensorsight.debugger.render.diagram import SVG_COLOURS, Box, BoxShape, Diagram
from tensorsight.debugger.render.svg import Svg

__all__ = ["SVG_COLOURS", "Box", "BoxShape", "Diagram", "Svg"]
