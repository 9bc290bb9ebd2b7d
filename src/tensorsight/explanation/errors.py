"""Errors the explainer raises for requests it cannot answer, each with an HTTP-style status."""

from __future__ import annotations


class ExplainerError(Exception):
    """A request the explainer cannot answer; ``str()`` is a sentence fit to show a user.

    ``status`` is the HTTP status a server should answer with.
    """

    status = 400

    def __str__(self) -> str:
        # KeyError would quote its message; every explainer error is a plain sentence.
        return str(self.args[0]) if self.args else ""


class UnknownIdError(ExplainerError, KeyError):
    """An unknown (or expired) run, node or sample id: 404."""

    status = 404


class BadParameterError(ExplainerError, ValueError):
    """A parameter outside what the node offers (channel, channel range, encoding): 400."""

    status = 400


class ModelRunError(ExplainerError):
    """The model itself failed on the input (the message names the failing layer): 500."""

    status = 500
