"""Clarifying: ``clarify()`` and everything that turns a failing tensor operation into a note.

Rooms, from the inside out: :mod:`shapes` (pure shape arithmetic), :mod:`messages` (what a
framework's message states), :mod:`operands` and :mod:`context` (what a rule sees),
:mod:`derive` (shapes of call results from their operands), the rules (:mod:`operators`,
:mod:`functions`, :mod:`indexing`, :mod:`layers`), :mod:`dispatch` (which rule), :mod:`note`
(the product), :mod:`block` (the context manager and decorator), :mod:`strict` (bugs fail tests).
"""

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes
from tensorsight.debugger.clarifying.block import clarify, explain_error, last_clarification
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.strict import InternalError

if TYPE_CHECKING:
    from tensorsight.debugger.clarifying.dispatch import clarify_error

# The rules load when the first error arrives: a block that raises nothing never needs them.
__getattr__ = lazy_attributes(
    __name__, {"clarify_error": "tensorsight.debugger.clarifying.dispatch"}
)

__all__ = [
    "Clarification",
    "InternalError",
    "clarify",
    "clarify_error",
    "explain_error",
    "last_clarification",
]
