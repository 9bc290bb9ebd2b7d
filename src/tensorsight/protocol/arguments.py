"""Reading a method's parameters, whichever transport brought them.

Two syntaxes reach the same method: ``"json"`` (the widget's and the WebSocket's messages carry
JSON values: lists, numbers, ``null``) and ``"text"`` (an HTTP route's path and query: every
value is a string, lists are comma-separated, ranges are ``start:stop``). Each getter accepts
both and refuses anything else with a :class:`ProtocolError` (400) that names the parameter as
the caller spelled it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tensorsight.protocol.errors import ProtocolError

Syntax = Literal["json", "text"]
# An error quotes what it refuses, but not a 5,000-digit number in full.
_SHOWN_CHARS = 40
_REQUIRED: Any = object()


@dataclass(frozen=True)
class Arguments:
    """The raw parameters and binary blobs of one call, with getters that validate them.

    >>> Arguments({"channel": "3"}, syntax="text").integer("channel")
    3
    >>> Arguments({"channels": [0, 16]}).span("channels")
    (0, 16)
    """

    params: Mapping[str, Any]
    blobs: Sequence[bytes] = ()
    syntax: Syntax = "json"
    method: str = field(default="this method")

    def text(self, name: str, *, default: Any = _REQUIRED) -> str:
        """A string parameter (an id)."""
        key, value = self._get(name, None, default)
        if value is default and default is not _REQUIRED:
            return value  # type: ignore[no-any-return]
        if not isinstance(value, str):
            raise ProtocolError(
                400, f"The parameter {key!r} must be a string, not {_shown(value)}."
            )
        return value

    def integer(self, name: str, *, default: Any = _REQUIRED) -> int:
        """A whole number; in JSON a number or a string of digits."""
        key, value = self._get(name, None, default)
        if value is default and default is not _REQUIRED:
            return value  # type: ignore[no-any-return]
        return _whole_number(value, key)

    def texts(self, name: str, *, query: str | None = None) -> list[str]:
        """A non-empty list of strings: a JSON list, or comma-separated text (``n1,n2``)."""
        key, value = self._get(name, query, _REQUIRED)
        if isinstance(value, str) and self.syntax == "text":
            value = [item for item in value.split(",") if item]
            if not value:
                raise ProtocolError(400, f"Say which to send: {key}=n1,n2 (comma-separated).")
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(item, str) for item in value)
        ):
            raise ProtocolError(400, f"The parameter {key!r} must be a non-empty list of strings.")
        return value

    def choice(self, name: str, options: Sequence[str], *, default: str) -> str:
        """One of ``options``."""
        key, value = self._get(name, None, default)
        if value not in options:
            raise ProtocolError(400, f"{key} must be {' or '.join(options)}, not {_shown(value)}.")
        return str(value)

    def span(self, name: str) -> tuple[int, int] | None:
        """A ``(start, stop)`` range with ``0 <= start < stop``, or ``None`` when not given.

        JSON ``[start, stop]`` or ``null``; text ``start:stop``.
        """
        key, value = self._get(name, None, None)
        if value is None:
            return None
        if isinstance(value, str) and self.syntax == "text":
            start, colon, stop = value.partition(":")
            if not colon:
                raise ProtocolError(
                    400, f"{key} must look like start:stop (0:16), not {_shown(value)}."
                )
            value = [start, stop]
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ProtocolError(400, f"{key} must be [start, stop], not {_shown(value)}.")
        first = _whole_number(value[0], f"{key} start")
        last = _whole_number(value[1], f"{key} stop")
        if first < 0:
            raise ProtocolError(400, f"{key} start must be 0 or more, not {first}.")
        if first >= last:
            raise ProtocolError(400, f"{key} {first}:{last} is empty: start must be below stop.")
        return first, last

    def blob(self, what: str) -> bytes:
        """The call's first binary blob (a widget message's first buffer, an HTTP body)."""
        if not self.blobs:
            raise ProtocolError(400, f"{self.method} needs {what} as the message's first buffer.")
        return bytes(self.blobs[0])

    def _get(self, name: str, query: str | None, default: Any) -> tuple[str, Any]:
        """The parameter's name as the caller spells it, and its value (or ``default``)."""
        key = query if query is not None and self.syntax == "text" else name
        if key in self.params:
            return key, self.params[key]
        if default is _REQUIRED:
            raise ProtocolError(400, f"The request lacks the parameter {key!r}.")
        return key, default


def _whole_number(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:  # also a number past Python's 4,300-digit conversion limit
            pass
    raise ProtocolError(400, f"{name} must be a whole number, not {_shown(value)}.")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}..."
