"""The protocol's one error policy: a refusal is a status and a sentence; anything else is a bug."""

from __future__ import annotations

import logging

_log = logging.getLogger("tensorsight.protocol")


class ProtocolError(Exception):
    """A call that cannot be answered: ``status`` (HTTP-style) and ``sentence`` for the user.

    >>> str(ProtocolError(404, "There is no run 'x'."))
    "There is no run 'x'."
    """

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence

    def __str__(self) -> str:
        return self.sentence


def report_bug(where: str, error: BaseException) -> ProtocolError:
    """Log ``error`` with its traceback and return the 500 every host answers for a bug.

    Call it inside the ``except`` block, so the log carries the traceback.

    >>> try:
    ...     {}["x"]
    ... except KeyError as error:
    ...     report_bug("detail", error).status
    500
    """
    _log.error("tensorsight: %s failed", where, exc_info=error)
    return ProtocolError(
        500,
        f"tensorsight failed on {where}: {type(error).__name__}: {error} "
        "(a bug; the traceback is in the log).",
    )
