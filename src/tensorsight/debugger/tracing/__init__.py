"""Tracing: run the user's code once, rewritten so every sub-expression reports its value.

:mod:`rewrite` wraps sub-expressions in ``__ts_record__(slot, e)``; :mod:`records` hands each
value to the observer active in the running thread; :mod:`twins` and :mod:`blocks` compile the
rewritten functions and ``with`` bodies once, in bounded caches; :mod:`explanation` is
``explain()``, :mod:`expression` is ``astviz()``.
"""

from tensorsight.debugger.tracing.explanation import Explanation, StatementShapes, explain
from tensorsight.debugger.tracing.expression import ExpressionTree, TreeNode, astviz
from tensorsight.debugger.tracing.records import Observer, activate, active

__all__ = [
    "Explanation",
    "ExpressionTree",
    "Observer",
    "StatementShapes",
    "TreeNode",
    "activate",
    "active",
    "astviz",
    "explain",
]
