"""The GAN WebSocket in-process: requests and replies, pushed frames, the session limit."""

from __future__ import annotations

import json
import warnings

import pytest

pytest.importorskip("torch")
pytest.importorskip("starlette")

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse

from tensorsight.explanation import decode_pack
from tensorsight.server.gan import gan_routes


async def page(request):
    return PlainTextResponse("page")


@pytest.fixture
def client():
    app = Starlette(
        routes=gan_routes(page, max_sessions=2, session_options={"frame_interval": 0.0})
    )
    with TestClient(app) as test_client:
        yield test_client


def request(ws, method, params=None, message_id=1):
    """Send one request and return its reply, skipping the frames pushed meanwhile."""
    ws.send_text(json.dumps({"id": message_id, "method": method, "params": params or {}}))
    while True:
        message = ws.receive()
        if message.get("text") is not None:
            return json.loads(message["text"])


def next_frame(ws):
    while True:
        message = ws.receive()
        if message.get("bytes") is not None:
            return decode_pack(message["bytes"])


def test_frames_and_replies(client):
    with client.websocket_connect("/api/gan/ws?preset=line&pretrained=0&seed=2") as ws:
        meta, arrays = next_frame(ws)
        assert meta["kind"] == "gan" and meta["epoch"] == 0 and meta["distribution"] == "line"
        assert arrays["fake"].shape == (150, 2) and arrays["d_grid"].shape == (30, 30)
        reply = request(ws, "gan_step", {"which": "d"}, message_id=7)
        assert reply == {"id": 7, "ok": True, "result": reply["result"]}
        assert reply["result"]["epoch"] == 1 and reply["result"]["playing"] is False
        reply = request(ws, "gan_configure", {"g_lr": 0.01})
        assert reply["ok"] and reply["result"]["settings"]["g_lr"] == 0.01
        assert reply["result"]["restarted"] is False
        assert request(ws, "gan_play")["result"]["playing"] is True
        epochs = {next_frame(ws)[0]["epoch"] for _ in range(5)}
        assert len(epochs) > 1, "frames keep coming while playing"
        assert request(ws, "gan_pause")["result"]["playing"] is False


@pytest.mark.parametrize(
    ("method", "params", "words"),
    [
        ("gan_fly", {}, "Unknown method 'gan_fly'"),
        ("gan_configure", {"loss": "hinge"}, "loss must be one of"),
        ("gan_draw", {"points": [[3, 3]]}, "unit square"),
        ("gan_step", {"which": "x"}, "step takes"),
    ],
)
def test_bad_requests_get_a_sentence_and_the_session_goes_on(client, method, params, words):
    with client.websocket_connect("/api/gan/ws?preset=line&pretrained=0") as ws:
        reply = request(ws, method, params, message_id="a")
        assert reply["id"] == "a" and reply["ok"] is False and words in reply["error"]
        assert request(ws, "gan_state")["ok"] is True


def test_sessions_per_server_are_bounded(client):
    with (
        client.websocket_connect("/api/gan/ws?pretrained=0") as first,
        client.websocket_connect("/api/gan/ws?pretrained=0") as second,
    ):
        next_frame(first), next_frame(second)
        with client.websocket_connect("/api/gan/ws?pretrained=0") as third:
            refused = json.loads(third.receive_text())
            assert refused["ok"] is False and "limit" in refused["error"]
    with client.websocket_connect("/api/gan/ws?pretrained=0") as again:  # closed ones free slots
        assert next_frame(again)[0]["kind"] == "gan"


def test_an_unknown_preset_is_refused(client):
    with client.websocket_connect("/api/gan/ws?preset=nope") as ws:
        refused = json.loads(ws.receive_text())
        assert refused["ok"] is False and "Unknown distribution 'nope'" in refused["error"]
