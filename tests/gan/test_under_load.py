"""A real server training GANs in two sessions still answers the explainer; a closed socket
frees its session slot."""

from __future__ import annotations

import json
import time

import httpx
import pytest

pytest.importorskip("torch")
sync_client = pytest.importorskip("websockets.sync.client")

pytestmark = pytest.mark.slow


def ws_url(server, query: str) -> str:
    return server.url.replace("http://", "ws://") + "api/gan/ws?" + query


def call(ws, method: str) -> dict:
    ws.send(json.dumps({"id": method, "method": method, "params": {}}))
    while True:
        message = ws.recv(timeout=30)
        if isinstance(message, str):
            return json.loads(message)


def test_explainer_answers_while_two_gans_train(server_factory):
    server = server_factory(["--gan-sessions", "2"])
    first = httpx.get(server.url + "api/samples", timeout=30).json()[0]["id"]
    with (
        sync_client.connect(ws_url(server, "preset=ring&pretrained=0"), max_size=None) as a,
        sync_client.connect(ws_url(server, "preset=line&pretrained=0"), max_size=None) as b,
    ):
        assert call(a, "gan_play")["result"]["playing"] is True
        assert call(b, "gan_play")["result"]["playing"] is True
        time.sleep(1.0)
        start = time.monotonic()
        run = httpx.post(server.url + "api/runs", json={"sample": first}, timeout=60)
        elapsed = time.monotonic() - start
        assert run.status_code == 201 and run.json()["run_id"]
        assert elapsed < 20, f"the explainer took {elapsed:.1f} s under GAN load"
        assert call(a, "gan_pause")["result"]["epoch"] > 0
        with sync_client.connect(ws_url(server, "pretrained=0")) as third:
            refused = json.loads(third.recv(timeout=30))
            assert refused["ok"] is False and "limit" in refused["error"]
    # Both tabs closed: their sessions ended and the slots are free again.
    deadline = time.monotonic() + 10
    while True:
        with sync_client.connect(ws_url(server, "pretrained=0"), max_size=None) as again:
            answer = call(again, "gan_state")
            if answer["ok"] or time.monotonic() > deadline:
                break
        time.sleep(0.2)
    assert answer["ok"] is True
