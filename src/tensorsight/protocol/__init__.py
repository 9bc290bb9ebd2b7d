"""One protocol for every host: a table of methods, their parameters, result kinds and errors.

The HTTP server, the Jupyter widget (and any further transport) adapt :class:`Protocol` instead
of each dispatching over the Explainer (docs/architecture.md, "Protocol").

>>> from tensorsight.protocol import Method, Protocol
>>> class Echo:
...     def echo(self, word: str) -> str:
...         return word
>>> protocol = Protocol(Echo(), [Method("echo", lambda args: {"word": args.text("word")})])
>>> protocol.call("echo", {"word": "hi"}).value
'hi'
>>> protocol.call("echo", {}).status
Traceback (most recent call last):
...
tensorsight.protocol.errors.ProtocolError: The request lacks the parameter 'word'.
"""

from tensorsight.protocol.arguments import Arguments, Syntax
from tensorsight.protocol.errors import ProtocolError, report_bug
from tensorsight.protocol.explainer import ExplainerLike, explainer_methods, explainer_protocol
from tensorsight.protocol.messages import Reply, answer_message, error_reply
from tensorsight.protocol.table import (
    EXPECTED_ERRORS,
    JSON_MEDIA_TYPE,
    PACK_MEDIA_TYPE,
    Answer,
    Method,
    Protocol,
    ResultKind,
)

__all__ = [
    "EXPECTED_ERRORS",
    "JSON_MEDIA_TYPE",
    "PACK_MEDIA_TYPE",
    "Answer",
    "Arguments",
    "ExplainerLike",
    "Method",
    "Protocol",
    "ProtocolError",
    "Reply",
    "ResultKind",
    "Syntax",
    "answer_message",
    "error_reply",
    "explainer_methods",
    "explainer_protocol",
    "report_bug",
]
