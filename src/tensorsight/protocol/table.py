"""The table of methods a host offers, and the one place a call is parsed, run and judged.

A :class:`Method` says how to read its parameters, what kind of result it gives and how to call
its target; a :class:`Protocol` binds methods to the objects that answer them (an Explainer, a
training session...) and runs calls under the error policy of :mod:`tensorsight.protocol.errors`.
Hosts (HTTP routes, widget messages, WebSocket frames) only translate their transport to
:meth:`Protocol.call` and its :class:`Answer` back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tensorsight.explanation import ExplainerError, encode_pack
from tensorsight.imaging import ImageError
from tensorsight.protocol.arguments import Arguments, Syntax
from tensorsight.protocol.errors import ProtocolError, report_bug

ResultKind = Literal["json", "pack", "bytes"]
PACK_MEDIA_TYPE = "application/octet-stream"
JSON_MEDIA_TYPE = "application/json"
#: Errors whose ``str()`` is a sentence for the user and whose ``status`` says which 4xx/5xx.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (ExplainerError, ImageError)


def _no_parameters(arguments: Arguments) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Method:
    """One entry of the table.

    ``parse`` turns the call's :class:`Arguments` into keyword arguments (raising
    :class:`ProtocolError` for bad ones); it runs before the target's lock is taken, so slow
    validation such as decoding an upload does not hold up other calls. ``result`` is ``"json"``
    (a JSON-able value), ``"pack"`` (``(meta, arrays)``, encoded by the protocol) or ``"bytes"``
    (sent as they are, as ``media_type``). ``call(target, **arguments)`` defaults to the target's
    method of the same name.

    >>> Method("samples").result
    'json'
    """

    name: str
    parse: Callable[[Arguments], Mapping[str, Any]] = _no_parameters
    result: ResultKind = "json"
    media_type: str | None = None
    call: Callable[..., Any] | None = None

    def invoke(self, target: Any, arguments: Mapping[str, Any]) -> Any:
        """Call the target with already parsed ``arguments``."""
        if self.call is not None:
            return self.call(target, **arguments)
        return getattr(target, self.name)(**arguments)


@dataclass(frozen=True)
class Answer:
    """A method's result, ready for a transport: a JSON value, or bytes of a media type.

    >>> Answer("json", value=[1]).is_binary
    False
    """

    kind: ResultKind
    value: Any = None
    data: bytes = b""
    media_type: str = JSON_MEDIA_TYPE

    @property
    def is_binary(self) -> bool:
        """Whether the answer travels as bytes (a pack, a PNG) rather than as JSON."""
        return self.kind != "json"


@dataclass(frozen=True)
class _Binding:
    method: Method
    target: Any
    # Sessions keep plain-dict caches and torch runs faster without contention: one call at a time.
    lock: threading.Lock


class Protocol:
    """Named methods bound to their targets; :meth:`call` answers one call.

    >>> from tensorsight.protocol import explainer_protocol            # doctest: +SKIP
    >>> protocol = explainer_protocol(explainer).extend(session, gan_methods())  # doctest: +SKIP
    >>> protocol.call("detail", {"run_id": "ab12", "node_id": "n1"}).media_type  # doctest: +SKIP
    'application/octet-stream'
    """

    def __init__(
        self,
        target: Any = None,
        methods: Iterable[Method] = (),
        *,
        expected: tuple[type[Exception], ...] = EXPECTED_ERRORS,
    ) -> None:
        self._bindings: dict[str, _Binding] = {}
        self._expected = expected
        self._add(target, methods)

    def extend(
        self, target: Any, methods: Iterable[Method], *, expected: tuple[type[Exception], ...] = ()
    ) -> Protocol:
        """A new protocol with ``methods`` (answered by ``target``) added; names must be new.

        ``expected`` adds error classes (each with ``status`` and a sentence as ``str()``) that
        are refusals rather than bugs.
        """
        extended = Protocol(expected=self._expected + expected)
        extended._bindings = dict(self._bindings)
        extended._add(target, methods)
        return extended

    @property
    def names(self) -> tuple[str, ...]:
        """The method names, sorted."""
        return tuple(sorted(self._bindings))

    def __contains__(self, name: object) -> bool:
        return name in self._bindings

    def call(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        blobs: Sequence[bytes] = (),
        *,
        syntax: Syntax = "json",
    ) -> Answer:
        """Parse, run and encode one call; raises :class:`ProtocolError` and nothing else.

        A refusal (bad parameters, an unknown id, an unusable image, a model that fails on the
        input) keeps its status and sentence; any other exception is a bug: it is logged with
        its traceback and reported as a 500 (:func:`report_bug`).
        """
        binding = self._bindings.get(name)
        if binding is None:
            raise ProtocolError(404, f"Unknown method {name!r}; known: {', '.join(self.names)}.")
        try:
            arguments = binding.method.parse(
                Arguments(params or {}, blobs, syntax=syntax, method=name)
            )
            with binding.lock:
                result = binding.method.invoke(binding.target, arguments)
            return _answer(binding.method, result)
        except ProtocolError:
            raise
        except self._expected as error:
            raise ProtocolError(getattr(error, "status", 400), str(error)) from error
        except Exception as error:
            raise report_bug(name, error) from error

    def _add(self, target: Any, methods: Iterable[Method]) -> None:
        lock = (
            next(
                (binding.lock for binding in self._bindings.values() if binding.target is target),
                None,
            )
            or threading.Lock()
        )
        for method in methods:
            if method.name in self._bindings:
                raise ValueError(f"The protocol already has a method {method.name!r}.")
            self._bindings[method.name] = _Binding(method, target, lock)


def _answer(method: Method, result: Any) -> Answer:
    """The transport-ready answer; a pack is encoded here, outside the target's lock."""
    if method.result == "pack":
        meta, arrays = result
        return Answer(
            "pack", data=encode_pack(meta, arrays), media_type=method.media_type or PACK_MEDIA_TYPE
        )
    if method.result == "bytes":
        return Answer("bytes", data=bytes(result), media_type=method.media_type or PACK_MEDIA_TYPE)
    return Answer("json", value=result)
