"""Bugs in the debugger must not hide: a switch that turns an internal error into a failure.

``clarify()`` never lets its own failure replace the user's error, so in normal use an internal
error only means the note is missing. Set ``TENSORSIGHT_STRICT=1`` (the debugger's tests do, for
every test) and the internal error is raised instead, as :class:`InternalError` chained to the
bug, so a test sees it.

>>> import os
>>> os.environ["TENSORSIGHT_STRICT"] = "1"
>>> try:
...     internal_error(ZeroDivisionError("modulo by zero"), ValueError("the user's"))
... except InternalError as raised:
...     print(raised)
clarify() failed inside itself on ValueError("the user's"): ZeroDivisionError: modulo by zero
>>> del os.environ["TENSORSIGHT_STRICT"]
"""

from __future__ import annotations

import os

STRICT = "TENSORSIGHT_STRICT"


class InternalError(Exception):
    """An error inside the debugger itself (a bug), raised only in strict mode."""


def is_strict() -> bool:
    """Whether internal errors are raised (``TENSORSIGHT_STRICT`` set to anything but 0/empty)."""
    return os.environ.get(STRICT, "") not in ("", "0")


def internal_error(bug: Exception, error: BaseException) -> None:
    """Report ``bug``, met while explaining ``error``: raise it in strict mode, else ignore it."""
    if is_strict():
        raise InternalError(
            f"clarify() failed inside itself on {error!r}: {type(bug).__name__}: {bug}"
        ) from bug
