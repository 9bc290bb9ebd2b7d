"""Clarifying: ``clarify()`` and everything that turns a failing tensor operation into a note.

Rooms, from the inside out: :mod:`shapes` (pure shape arithmetic), :mod:`messages` (what a
framework's message states), :mod:`operands` and :mod:`context` (what a rule sees),
:mod:`derive` (shapes of call results from their operands), the rules (:mod:`operators`,
:mod:`functions`, :mod:`indexing`, :mod:`layers`), :mod:`dispatch` (which rule), :mod:`note`
(the product), :mod:`block` (the context manager and decorator), :mod:`strict` (bugs fail tests).
"""

from tensorsight.debugger.clarifying.block import clarify, explain_error, last_clarification
from tensorsight.debugger.clarifying.dispatch import clarify_error
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.strict import InternalError

__all__ = [
    "Clarification", "InternalError", "clarify", "clarify_error", "explain_error",
    "last_clarification",
]
