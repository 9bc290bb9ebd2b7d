"""Showing a drawing in a Jupyter notebook (IPython is imported only when one is shown)."""

from __future__ import annotations

import importlib
from typing import Any


def display(item: Any) -> None:
    """``IPython.display.display(item)``."""
    module: Any = importlib.import_module("IPython.display")
    module.display(item)


def display_svg(svg: str) -> None:
    """Display an SVG document."""
    module: Any = importlib.import_module("IPython.display")
    module.display(module.SVG(svg))
