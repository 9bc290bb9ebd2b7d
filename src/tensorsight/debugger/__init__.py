"""The tensor debugger: say which sub-expression failed and why, draw shapes as code runs.

Imports NumPy only; torch and JAX are consulted only if the program already imported them.
The rooms (see ``docs/architecture.md``):

* :mod:`~tensorsight.debugger.frames`: user versus library code, source spans, the source
  cache, reading live values;
* :mod:`~tensorsight.debugger.clarifying`: ``clarify()``, its shape arithmetic and rules;
* :mod:`~tensorsight.debugger.tracing`: the instrumenting rewrite behind ``explain()`` and
  ``astviz()``, with per-thread records and bounded caches;
* :mod:`~tensorsight.debugger.render`: one SVG primitive layer, the diagram, statement and tree
  layouts feeding text and SVG.

>>> import numpy as np
>>> from tensorsight.debugger import clarify
>>> with clarify():
...     np.ones((2, 3)) @ np.ones((4, 5))  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes
from tensorsight.debugger.clarifying import clarify

if TYPE_CHECKING:
    from tensorsight.debugger.tracing import astviz, explain

__all__ = ["astviz", "clarify", "explain"]

# explain() and astviz() load the tracing room on first use: `clarify` alone stays light.
__getattr__ = lazy_attributes(
    __name__, {"astviz": "tensorsight.debugger.tracing", "explain": "tensorsight.debugger.tracing"}
)
