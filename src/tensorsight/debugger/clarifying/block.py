"""``clarify()``: explain tensor errors raised inside a block or a decorated function.

Nothing happens while the code runs: ``__exit__`` only works when an exception arrives. It then
finds the failing sub-expression from the traceback's recorded source positions, reads the
operands from the live frames (never calling anything again), and adds one note to the exception
with ``add_note``. The exception's type, args, message and traceback stay as they were.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tensorsight.debugger.clarifying.note import Clarification, already_clarified
from tensorsight.debugger.clarifying.strict import internal_error

if TYPE_CHECKING:
    from tensorsight.debugger.clarifying.context import Recorded

_last = threading.local()
P = ParamSpec("P")
R = TypeVar("R")


class clarify(contextlib.ContextDecorator):
    """Add a note naming the failing sub-expression, its operands' shapes and what disagrees.

    Works as a context manager and as a decorator. ``diagram`` adds a text drawing of the failing
    operation to the note, ``width`` its width in columns. ``record_torch`` (opt-in, costs a little
    on every torch call) records the last torch call's arguments so operands that are results of
    calls, e.g. ``torch.cat([f(x), y])``, get their shapes too.

    >>> import numpy as np
    >>> h, w = np.ones((32, 128)), np.ones((64, 10))
    >>> try:
    ...     with clarify(diagram=False):
    ...         h @ w
    ... except ValueError as error:
    ...     note = error.__notes__[0]
    >>> print(note.splitlines()[0].partition("), ")[2])
    operand shapes 32x128 @ 64x10 disagree: dim 1 of h (128) != dim 0 of w (64)
    >>> for line in note.splitlines()[1:]:
    ...     print(line)
      h: 32x128 float64
      w: 64x10 float64
    """

    __slots__ = ("_recorder", "clarification", "diagram", "record_torch", "width")

    def __init__(
        self, *, diagram: bool = True, width: int = 80, record_torch: bool = False
    ) -> None:
        self.diagram = diagram
        self.width = width
        self.record_torch = record_torch
        self.clarification: Clarification | None = None
        self._recorder: Any = None

    def _recreate_cm(self) -> clarify:
        # A decorated function may run in several threads or recursively: one context per call.
        return clarify(diagram=self.diagram, width=self.width, record_torch=self.record_torch)

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:  # type: ignore[override]
        """Decorate ``function``; without the torch recorder this costs one call frame."""
        if self.record_torch:
            return super().__call__(function)
        diagram, width = self.diagram, self.width

        @functools.wraps(function)
        def clarified(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return function(*args, **kwargs)
            except Exception as error:
                explain_error(error, None, diagram, width)
                raise

        return clarified

    def __enter__(self) -> clarify:
        if self.record_torch:
            from tensorsight.debugger.clarifying.torch_record import LastCallRecorder

            self._recorder = LastCallRecorder()
            self._recorder.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        recorded = None
        if self._recorder is not None:
            recorded = self._recorder.last
            self._recorder.__exit__(None, None, None)
            self._recorder = None
        if isinstance(error, Exception):
            self.clarification = explain_error(error, recorded, self.diagram, self.width)


def explain_error(
    error: BaseException, recorded: Recorded | None = None, diagram: bool = True, width: int = 80
) -> Clarification | None:
    """Add the tensorsight note to ``error`` if it is an unexplained tensor error.

    Returns the :class:`Clarification` (also kept for :func:`last_clarification`), or None.
    The debugger must never replace the user's error with its own, so a failure inside it lets
    the error pass through unexplained; tests turn that failure into an error of their own
    (:mod:`tensorsight.debugger.clarifying.strict`).
    """
    if already_clarified(error):
        return None
    try:
        # The rules load with the first error to explain, not when clarify() is imported.
        from tensorsight.debugger.clarifying.dispatch import clarify_error

        clarification = clarify_error(error, recorded)
        if clarification is None:
            return None
        error.add_note(clarification.note(diagram=diagram, width=width))
    except Exception as bug:
        internal_error(bug, error)
        return None
    _last.clarification = clarification
    return clarification


def last_clarification() -> Clarification | None:
    """The last :class:`Clarification` made in this thread (for drawing it in a notebook)."""
    return getattr(_last, "clarification", None)
