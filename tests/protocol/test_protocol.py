"""The one protocol: parameter syntaxes, result kinds, the error policy, and extending the table."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tensorsight.explanation import UnknownIdError, decode_pack
from tensorsight.protocol import (
    Arguments,
    Method,
    Protocol,
    ProtocolError,
    answer_message,
)


class Counter:
    """A small session with one method of each result kind, and one that has a bug."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, step: int) -> dict[str, int]:
        self.count += step
        return {"count": self.count}

    def grid(self, rows: int) -> tuple[dict[str, int], dict[str, np.ndarray]]:
        return {"rows": rows}, {"grid": np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)}

    def word(self, name: str) -> bytes:
        if name != "hello":
            raise UnknownIdError(f"There is no word {name!r}.")
        return b"hello"

    def broken(self) -> None:
        return {}["missing"]


COUNTER_METHODS = (
    Method("add", lambda args: {"step": args.integer("step", default=1)}),
    Method("grid", lambda args: {"rows": args.integer("rows")}, result="pack"),
    Method(
        "word", lambda args: {"name": args.text("name")}, result="bytes", media_type="text/plain"
    ),
    Method("broken"),
)


@pytest.fixture
def protocol() -> Protocol:
    return Protocol(Counter(), COUNTER_METHODS)


def test_each_result_kind(protocol: Protocol) -> None:
    assert protocol.call("add", {"step": 2}).value == {"count": 2}
    pack = protocol.call("grid", {"rows": "3"}, syntax="text")
    assert pack.media_type == "application/octet-stream" and pack.is_binary
    meta, arrays = decode_pack(pack.data)
    assert meta == {"rows": 3} and arrays["grid"].shape == (3, 2)
    word = protocol.call("word", {"name": "hello"})
    assert (word.kind, word.data, word.media_type) == ("bytes", b"hello", "text/plain")


@pytest.mark.parametrize(
    ("name", "params", "syntax", "status", "sentence"),
    [
        ("fly", {}, "json", 404, "Unknown method 'fly'; known: add, broken, grid, word."),
        ("grid", {}, "json", 400, "The request lacks the parameter 'rows'."),
        ("grid", {"rows": True}, "json", 400, "rows must be a whole number, not True."),
        ("grid", {"rows": "1" * 5000}, "text", 400, "rows must be a whole number, not '1111"),
        ("word", {"name": 3}, "json", 400, "The parameter 'name' must be a string, not 3."),
        ("word", {"name": "bye"}, "json", 404, "There is no word 'bye'."),
    ],
)
def test_refusals_keep_their_status_and_sentence(protocol, name, params, syntax, status, sentence):
    with pytest.raises(ProtocolError) as refused:
        protocol.call(name, params, syntax=syntax)
    assert refused.value.status == status
    assert refused.value.sentence.startswith(sentence)
    assert len(refused.value.sentence) < 200  # a huge parameter is not echoed in full


def test_a_bug_is_logged_with_its_traceback_and_reported_as_500(protocol, caplog):
    with (
        caplog.at_level(logging.ERROR, logger="tensorsight.protocol"),
        pytest.raises(ProtocolError) as failed,
    ):
        protocol.call("broken")
    assert failed.value.status == 500
    assert failed.value.sentence == (
        "tensorsight failed on broken: KeyError: 'missing' (a bug; the traceback is in the log)."
    )
    [record] = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is KeyError


@pytest.mark.parametrize(
    ("params", "syntax", "expected"),
    [
        ({"channels": "0:16"}, "text", (0, 16)),
        ({"channels": [2, 5]}, "json", (2, 5)),
        ({"channels": None}, "json", None),
        ({}, "text", None),
    ],
)
def test_spans_in_both_syntaxes(params, syntax, expected):
    assert Arguments(params, syntax=syntax).span("channels") == expected


@pytest.mark.parametrize(
    ("params", "syntax", "fragment"),
    [
        ({"channels": "3"}, "text", "start:stop"),
        ({"channels": "5:2"}, "text", "start must be below stop"),
        ({"channels": [5, 2]}, "json", "start must be below stop"),
        ({"channels": [-1, 2]}, "json", "0 or more"),
        ({"channels": [1]}, "json", "[start, stop]"),
        ({"channels": "a:b"}, "text", "whole number"),
    ],
)
def test_bad_spans(params, syntax, fragment):
    with pytest.raises(ProtocolError, match="channels") as refused:
        Arguments(params, syntax=syntax).span("channels")
    assert fragment in refused.value.sentence and refused.value.status == 400


def test_lists_are_comma_separated_in_text_and_lists_in_json():
    assert Arguments({"nodes": "n1,n2"}, syntax="text").texts("ids", query="nodes") == ["n1", "n2"]
    assert Arguments({"ids": ["n1"]}).texts("ids", query="nodes") == ["n1"]
    with pytest.raises(ProtocolError, match="nodes=n1,n2"):
        Arguments({"nodes": ","}, syntax="text").texts("ids", query="nodes")
    with pytest.raises(ProtocolError, match="'ids' must be a non-empty list"):
        Arguments({"ids": "n1"}).texts("ids", query="nodes")


def test_extend_adds_methods_on_another_target_and_refuses_a_taken_name(protocol):
    class Other:
        def hello(self) -> str:
            return "hi"

    extended = protocol.extend(Other(), [Method("hello")])
    assert extended.call("hello").value == "hi"
    assert extended.call("add").value == {"count": 1}
    assert "hello" not in protocol and "hello" in extended
    with pytest.raises(ValueError, match="already has a method 'add'"):
        protocol.extend(Other(), [Method("add")])


def test_extend_can_name_further_refusals(protocol):
    class Busy(Exception):
        status = 409

    class Trainer:
        def step(self) -> None:
            raise Busy("Training is already running.")

    extended = protocol.extend(Trainer(), [Method("step")], expected=(Busy,))
    with pytest.raises(ProtocolError) as refused:
        extended.call("step")
    assert (refused.value.status, refused.value.sentence) == (409, "Training is already running.")


def test_the_message_envelope(protocol):
    reply, buffers = answer_message(protocol, {"id": 7, "method": "add", "params": {"step": 5}})
    assert reply == {"id": 7, "ok": True, "result": {"count": 5}} and buffers == []
    reply, buffers = answer_message(protocol, {"id": 8, "method": "grid", "params": {"rows": 1}})
    assert reply == {"id": 8, "ok": True, "result": None}
    assert decode_pack(buffers[0])[0] == {"rows": 1}
    reply, _ = answer_message(
        protocol, {"id": 9, "method": "word", "params": {"name": "x"}}, channel="socket"
    )
    assert reply == {"id": 9, "ok": False, "error": "There is no word 'x'.", "status": 404}
    assert answer_message(protocol, 3, channel="socket")[0]["error"] == (
        "A socket message must be an object."
    )
