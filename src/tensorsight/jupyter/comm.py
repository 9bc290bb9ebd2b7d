"""Answer the widget's custom messages with the Explainer, as the HTTP server answers requests.

The front end (``frontend/src/sources/comm.js``) sends ``{id, method, params}`` (an uploaded
image travels as the first buffer) and waits for ``{id, ok: true, result}`` or
``{id, ok: false, error}``; packs and PNGs come back as the reply's first buffer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from tensorsight.explanation import ExplainerError, encode_pack
from tensorsight.imaging import decode_image

Reply = tuple[dict[str, Any], list[bytes]]
# Errors that answer a bad request (ImageError is a ValueError); anything else is a bug.
_EXPECTED_ERRORS = (ExplainerError, KeyError, ValueError, IndexError, TypeError)
_log = logging.getLogger(__name__)


class ExplainerLike(Protocol):
    """The Explainer methods the widget calls (docs/architecture.md, "Explanation")."""

    def model_info(self) -> dict[str, Any]: ...
    def samples(self) -> list[dict[str, Any]]: ...
    def sample_png(self, sample_id: str) -> bytes: ...
    def run_image(self, image: Any) -> dict[str, Any]: ...
    def run_sample(self, sample_id: str) -> dict[str, Any]: ...
    def activations(self, run_id: str, node_ids: list[str], *, channels: tuple[int, int] | None,
                    encoding: str) -> tuple[dict[str, Any], Mapping[str, Any]]: ...
    def detail(self, run_id: str, node_id: str,
               channel: int) -> tuple[dict[str, Any], Mapping[str, Any]]: ...


class CommHandler:
    """Turns one widget message into one reply; never raises for a bad message.

    >>> handler = CommHandler(explainer)                                   # doctest: +SKIP
    >>> handler.handle({"id": "ts0", "method": "model_info", "params": {}}, [])  # doctest: +SKIP
    ({'id': 'ts0', 'ok': True, 'result': {...}}, [])
    """

    def __init__(self, explainer: ExplainerLike) -> None:
        self.explainer = explainer
        self._methods: dict[str, Callable[[Mapping[str, Any], Sequence[bytes]], Any]] = {
            "model_info": lambda params, buffers: explainer.model_info(),
            "samples": lambda params, buffers: explainer.samples(),
            "sample_png": lambda params, buffers: _Buffer(
                explainer.sample_png(_param(params, "sample_id", str))),
            "run_sample": lambda params, buffers: explainer.run_sample(
                _param(params, "sample_id", str)),
            "run_image": self._run_image,
            "activations": self._activations,
            "detail": self._detail,
        }

    def handle(self, message: Any, buffers: Sequence[bytes | memoryview]) -> Reply:
        """The reply (content, buffers) to one ``{id, method, params}`` message."""
        if not isinstance(message, Mapping):
            return {"id": None, "ok": False, "error": "A widget message must be an object."}, []
        message_id = message.get("id")
        method = self._methods.get(str(message.get("method")))
        if method is None:
            known = ", ".join(sorted(self._methods))
            return _error(message_id, f"Unknown method {message.get('method')!r}; known: {known}.")
        params = message.get("params") or {}
        if not isinstance(params, Mapping):
            return _error(message_id, "A widget message's params must be an object.")
        try:
            answer = method(params, [bytes(buffer) for buffer in buffers])
        except _EXPECTED_ERRORS as error:
            return _error(message_id, _sentence(error))
        except Exception as error:  # a bug: keep serving the widget, as the server does, and log
            _log.exception("tensorsight widget: %s failed", message.get("method"))
            return _error(message_id, f"{type(error).__name__}: {error}")
        if isinstance(answer, _Buffer):
            return {"id": message_id, "ok": True, "result": None}, [answer.data]
        return {"id": message_id, "ok": True, "result": answer}, []

    def _run_image(self, params: Mapping[str, Any], buffers: Sequence[bytes]) -> dict[str, Any]:
        if not buffers:
            raise ValueError("run_image needs the image bytes as the message's first buffer.")
        return self.explainer.run_image(decode_image(buffers[0]))

    def _activations(self, params: Mapping[str, Any], buffers: Sequence[bytes]) -> _Buffer:
        channels = params.get("channels")
        return _Buffer(encode_pack(*self.explainer.activations(
            _param(params, "run_id", str),
            [str(node_id) for node_id in _param(params, "node_ids", list)],
            channels=(int(channels[0]), int(channels[1])) if channels else None,
            encoding=str(params.get("encoding", "u8")),
        )))

    def _detail(self, params: Mapping[str, Any], buffers: Sequence[bytes]) -> _Buffer:
        return _Buffer(encode_pack(*self.explainer.detail(
            _param(params, "run_id", str),
            _param(params, "node_id", str),
            int(params.get("channel", 0)),
        )))


class _Buffer:
    """An answer that travels as the reply's first buffer rather than as JSON."""

    def __init__(self, data: bytes) -> None:
        self.data = data


def _param(params: Mapping[str, Any], name: str, kind: type) -> Any:
    if name not in params:
        raise ValueError(f"The message lacks the parameter {name!r}.")
    value = params[name]
    if kind is list:
        if not isinstance(value, list):
            raise ValueError(f"The parameter {name!r} must be a list.")
        return value
    return kind(value)


def _error(message_id: Any, sentence: str) -> Reply:
    return {"id": message_id, "ok": False, "error": sentence}, []


def _sentence(error: Exception) -> str:
    """What the person at the notebook reads: the explainer's own sentence where it has one."""
    if isinstance(error, KeyError) and not isinstance(error, ExplainerError):
        # str(KeyError("x")) is "'x'": a bare key is not a sentence, so say what was not found.
        detail = error.args[0] if error.args else ""
        if isinstance(detail, str) and " " in detail:
            return detail
        return f"Not found: {detail!r} (the run may have expired; run the image again)."
    return str(error)
