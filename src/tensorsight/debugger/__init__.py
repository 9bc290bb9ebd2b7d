"""The tensor debugger: say which sub-expression failed and why, draw shapes as code runs.

Imports NumPy only; torch and JAX are consulted only if the program already imported them.

>>> import numpy as np
>>> from tensorsight.debugger import clarify
>>> with clarify():
...     np.ones((2, 3)) @ np.ones((4, 5))  # doctest: +SKIP
"""

from tensorsight.debugger.astviz import astviz
from tensorsight.debugger.clarify import clarify
from tensorsight.debugger.explain import explain

__all__ = ["astviz", "clarify", "explain"]
