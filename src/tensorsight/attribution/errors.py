"""Errors of :func:`tensorsight.attribute`."""

from __future__ import annotations


class AttributionError(ValueError):
    """A request attribution cannot answer (unknown method or option, bad target or layer).

    ``str()`` is a sentence fit to show a user; servers answer it with ``status`` (400).
    """

    status = 400


class AttributionCancelled(RuntimeError):
    """The caller's ``cancel`` event was set while a long method was running (409 to servers)."""

    status = 409
