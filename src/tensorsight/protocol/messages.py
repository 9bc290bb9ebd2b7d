"""``{id, method, params}`` messages in, ``{id, ok, result | error}`` replies out.

The envelope of every message transport (the Jupyter widget's custom messages, a WebSocket):
blobs arrive and binary answers leave as the message's buffers, the first one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tensorsight.protocol.errors import ProtocolError
from tensorsight.protocol.table import Protocol

Reply = tuple[dict[str, Any], list[bytes]]


def answer_message(
    protocol: Protocol,
    message: Any,
    buffers: Sequence[bytes | memoryview] = (),
    *,
    channel: str = "widget",
) -> Reply:
    """The reply (content, buffers) to one message; never raises.

    ``channel`` names the transport in the sentences about a malformed message.

    >>> answer_message(Protocol(), ["model_info"])
    ({'id': None, 'ok': False, 'error': 'A widget message must be an object.'}, [])
    """
    if not isinstance(message, Mapping):
        return error_reply(None, f"A {channel} message must be an object.")
    message_id = message.get("id")
    params = message.get("params") or {}
    if not isinstance(params, Mapping):
        return error_reply(message_id, f"A {channel} message's params must be an object.")
    try:
        answer = protocol.call(
            str(message.get("method")), params, [bytes(buffer) for buffer in buffers]
        )
    except ProtocolError as error:
        return error_reply(message_id, error.sentence, error.status)
    if answer.is_binary:
        return {"id": message_id, "ok": True, "result": None}, [answer.data]
    return {"id": message_id, "ok": True, "result": answer.value}, []


def error_reply(message_id: Any, sentence: str, status: int | None = None) -> Reply:
    """The ``{id, ok: false, error}`` reply, with the HTTP-style ``status`` when there is one
    (a page tells a cancelled call, 409, from a failed one by it).

    >>> error_reply("ts1", "There is no run 'x'.", 404)[0]
    {'id': 'ts1', 'ok': False, 'error': "There is no run 'x'.", 'status': 404}
    """
    reply: dict[str, Any] = {"id": message_id, "ok": False, "error": sentence}
    if status is not None:
        reply["status"] = status
    return reply, []
