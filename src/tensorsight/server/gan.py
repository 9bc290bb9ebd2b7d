"""The GAN Lab routes: the page at ``/gan`` and one WebSocket per training session.

``/api/gan/ws?preset=ring&pretrained=1&seed=0`` opens a session (at most ``max_sessions`` per
server; one more is refused with close code 1013, "try again later"). Text messages are
``{id, method, params}`` requests answered by ``{id, ok, result | error}``; binary messages
are frames (packs) pushed whenever training has a new one. Only the latest frame is sent, and
the next only once the socket has taken the last: a slow page skips frames, none queue up.
Closing the socket (a closed tab) ends the session and its thread.

The socket speaks the host protocol (:mod:`tensorsight.protocol`): the server's table extended,
for this connection, with the session's methods (:func:`tensorsight.gan.methods.gan_methods`),
so the same envelope and error policy hold as in the widget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tensorsight.gan.methods import gan_methods
from tensorsight.gan.session import GanSession
from tensorsight.gan.settings import SettingsError
from tensorsight.protocol import Protocol, answer_message, error_reply

DEFAULT_MAX_SESSIONS = 4
MAX_MESSAGE_CHARS = 1_000_000  # a long drawing is ~20,000 points
TRY_AGAIN_LATER = 1013


class SessionLimit:
    """Counts open sessions so a server never trains more than ``limit`` GANs at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


def gan_routes(
    page: Any,
    *,
    protocol: Protocol | None = None,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    session_options: dict[str, Any] | None = None,
) -> list[BaseRoute]:
    """``/gan`` (``page``: the app's index handler; the front end picks the view by path) and
    the WebSocket ``/api/gan/ws``, answering ``protocol`` (default: none but the GAN's) plus the
    session's methods. ``session_options`` go to every :class:`GanSession`.

    >>> [route.path for route in gan_routes(None)]
    ['/gan', '/api/gan/ws']
    """
    limit = SessionLimit(max_sessions)

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        if not limit.take():
            await websocket.send_text(
                json.dumps(
                    {
                        "id": None,
                        "ok": False,
                        "error": (
                            f"This server already trains {limit.limit} GANs, its limit; "
                            "close another GAN tab or try again later."
                        ),
                    }
                )
            )
            await websocket.close(TRY_AGAIN_LATER)
            return
        try:
            await _serve_session(websocket, protocol or Protocol(), dict(session_options or {}))
        finally:
            limit.give_back()

    return [
        Route("/gan", page, name="gan_page"),
        WebSocketRoute("/api/gan/ws", socket, name="gan_socket"),
    ]


async def _serve_session(websocket: WebSocket, base: Protocol, options: dict[str, Any]) -> None:
    query = websocket.query_params
    try:
        preset = query.get("preset", "ring")
        pretrained = query.get("pretrained", "1") not in ("0", "false")
        seed = int(query.get("seed", "0"))
        session = await run_in_threadpool(
            lambda: GanSession(preset=preset, pretrained=pretrained, seed=seed, **options)
        )
    except (SettingsError, ValueError) as error:
        await websocket.send_text(json.dumps({"id": None, "ok": False, "error": str(error)}))
        await websocket.close(1008)
        return
    protocol = base.extend(session, gan_methods(), expected=(SettingsError,))
    loop = asyncio.get_running_loop()
    fresh = asyncio.Event()
    session.subscribe(lambda: _call_soon(loop, fresh.set))
    fresh.set()  # the frame published before anyone listened
    sending = asyncio.Lock()  # replies and frames share one socket: one message at a time
    pusher = asyncio.create_task(_push_frames(websocket, session, fresh, sending))
    try:
        await _answer_requests(websocket, protocol, sending)
    except WebSocketDisconnect:
        pass
    finally:
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pusher
        await run_in_threadpool(session.close)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Any) -> None:
    """Run ``callback`` on the event loop; a loop already closed (server stopping) is ignored."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)


async def _push_frames(
    websocket: WebSocket, session: GanSession, fresh: asyncio.Event, sending: asyncio.Lock
) -> None:
    sent = 0
    while True:
        await fresh.wait()
        fresh.clear()
        number, data = session.latest_frame()
        if number == sent:
            continue
        async with sending:
            await websocket.send_bytes(data)
        sent = number


async def _answer_requests(websocket: WebSocket, protocol: Protocol, sending: asyncio.Lock) -> None:
    while True:
        text = await websocket.receive_text()
        reply, buffers = await run_in_threadpool(_reply, protocol, text)
        async with sending:
            await websocket.send_text(json.dumps(reply, allow_nan=False))
            for buffer in buffers:  # a binary answer (an explainer pack) follows its reply
                await websocket.send_bytes(buffer)


def _reply(protocol: Protocol, text: str) -> tuple[dict[str, Any], list[bytes]]:
    """The ``{id, ok, result | error}`` answer to one request; never raises."""
    if len(text) > MAX_MESSAGE_CHARS:
        return error_reply(None, "The message is too long.")
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return error_reply(None, "A GAN message must be JSON.")
    return answer_message(protocol, message, channel="GAN")
