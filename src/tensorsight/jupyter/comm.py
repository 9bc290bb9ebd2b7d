"""Answer the widget's custom messages through the one protocol (:mod:`tensorsight.protocol`).

The front end (``frontend/src/sources/comm.js``) sends ``{id, method, params}`` (an uploaded
image travels as the first buffer) and waits for ``{id, ok: true, result}`` or
``{id, ok: false, error}``; packs and PNGs come back as the reply's first buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tensorsight.protocol import ExplainerLike, Protocol, Reply, answer_message, explainer_protocol


class CommHandler:
    """Turns one widget message into one reply; never raises for a bad message.

    A bug is logged with its traceback and reported in the reply, as the server reports it.

    >>> handler = CommHandler(explainer)                                   # doctest: +SKIP
    >>> handler.handle({"id": "ts0", "method": "model_info", "params": {}}, [])  # doctest: +SKIP
    ({'id': 'ts0', 'ok': True, 'result': {...}}, [])
    """

    def __init__(self, explainer: ExplainerLike, protocol: Protocol | None = None) -> None:
        self.explainer = explainer
        if protocol is None:
            from tensorsight.attribution import with_attribution

            protocol = with_attribution(explainer_protocol(explainer), explainer)
        self.protocol = protocol

    def handle(self, message: Any, buffers: Sequence[bytes | memoryview]) -> Reply:
        """The reply (content, buffers) to one ``{id, method, params}`` message."""
        return answer_message(self.protocol, message, buffers, channel="widget")
