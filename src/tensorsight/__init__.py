"""tensorsight: make deep learning visible.

Two halves share this package:

* the tensor debugger (NumPy only at import): :func:`clarify`, :func:`explain`, :func:`astviz`;
* the network explainer (needs the ``torch`` extra): :func:`capture`, :func:`attribute`,
  :func:`show`, and the ``tensorsight serve`` command.

Importing the package imports NumPy and nothing heavier; every other part loads on first use.

>>> import numpy as np, tensorsight
>>> a, b = np.ones((2, 3)), np.ones((4, 5))
>>> with tensorsight.clarify():
...     a @ b
Traceback (most recent call last):
ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, ...
tensorsight: in `a @ b` (line 2), operand shapes 2x3 @ 4x5 disagree: dim 1 of a (3) != ...
  a: 2x3 float64
  b: 4x5 float64
...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tensorsight._lazy import lazy_attributes

__version__ = "0.1.0"

# public name -> module that defines it; resolved lazily so `import tensorsight` stays light.
_LAZY_EXPORTS = {
    "clarify": "tensorsight.debugger",
    "explain": "tensorsight.debugger",
    "astviz": "tensorsight.debugger",
    "capture": "tensorsight.capturing",
    "attribute": "tensorsight.attribution",
    "show": "tensorsight.jupyter",
}

if TYPE_CHECKING:
    from tensorsight.attribution import attribute
    from tensorsight.capturing import capture
    from tensorsight.debugger import astviz, clarify, explain
    from tensorsight.jupyter import show

__all__ = ["__version__", "astviz", "attribute", "capture", "clarify", "explain", "show"]


__getattr__ = lazy_attributes(__name__, _LAZY_EXPORTS)


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext tensorsight``: clarify the errors of every cell that follows."""
    from tensorsight.debugger.ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext tensorsight``: stop clarifying cells."""
    from tensorsight.debugger.ipython import unload_ipython_extension as unload

    unload(ipython)
