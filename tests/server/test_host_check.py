"""The Host-header check survives ``--host 0.0.0.0``: this machine's names pass, others get 400,
and the server says at start-up which names it answers to."""

from __future__ import annotations

import socket

import pytest
from starlette.testclient import TestClient

from tensorsight.server import create_app
from tensorsight.server.hosts import host_check_note, trusted_hosts


def app_for(allowed, explainer):
    return TestClient(create_app(explainer, allowed_hosts=allowed))


def test_loopback_server_answers_its_own_names_only(explainer) -> None:
    allowed = trusted_hosts("127.0.0.1")
    assert allowed is not None and set(allowed) == {"localhost", "127.0.0.1"}
    client = app_for(allowed, explainer)
    assert client.get("/api/model", headers={"host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/api/model", headers={"host": "attacker.example"}).status_code == 400
    assert host_check_note("127.0.0.1", allowed) is None  # nothing new to say


def test_network_server_keeps_the_check_with_this_machines_names(explainer) -> None:
    allowed = trusted_hosts("0.0.0.0", ["proxy.example"])
    assert allowed is not None
    hostname = socket.gethostname().lower()
    assert {"localhost", "127.0.0.1", hostname, "proxy.example"} <= set(allowed)
    assert "0.0.0.0" not in allowed
    client = app_for(allowed, explainer)
    for name in ("localhost", hostname, "proxy.example"):
        assert client.get("/api/model", headers={"host": f"{name}:8000"}).status_code == 200
    # A page whose own name was rebound to this machine still sends its own name: refused.
    refused = client.get("/api/model", headers={"host": "rebound.attacker.example:8000"})
    assert refused.status_code == 400
    note = host_check_note("0.0.0.0", allowed)
    assert note is not None and hostname in note and "--allow-host" in note


@pytest.mark.parametrize(
    ("host", "extra", "reason"),
    [
        ("0.0.0.0", ["*"], "--allow-host '*'"),
        ("::", [], "IPv6 address"),
    ],
)
def test_turning_the_check_off_is_said_aloud(host, extra, reason) -> None:
    assert trusted_hosts(host, extra) is None
    note = host_check_note(host, None)
    assert note is not None and "warning" in note and reason in note
    assert "DNS rebinding" in note
