"""``serve`` with no ``--model`` lists every installed built-in model but builds only the first at
start-up; another is built by its first request. A real uvicorn server on loopback, over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from tensorsight import models
from tensorsight.models import ModelLoadError, installed_builtin_models
from tensorsight.server.processes import ServeOptions, build_app

pytestmark = pytest.mark.slow


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The specs ``load_model`` builds from now on, in order."""
    specs: list[str] = []
    real = models.load_model

    def spy(spec: str, **options: Any) -> models.ModelBundle:
        specs.append(spec)
        return real(spec, **options)

    monkeypatch.setattr(models, "load_model", spy)
    return specs


def test_start_up_builds_the_first_model_only_and_a_request_builds_another(built) -> None:
    specs = installed_builtin_models()  # mobilenet_v2 second when its weights are installed
    with serving(build_app(ServeOptions(models=specs, gan_sessions=0))) as url:
        assert built == ["tinyvgg"]
        listing = httpx.get(url + "api/models", timeout=30).json()
        assert [model["id"] for model in listing] == list(specs)
        second = url + listing[1]["url"]
        samples = httpx.get(second + "api/samples", timeout=120).json()
        assert built == ["tinyvgg", specs[1]]
        run = httpx.post(second + "api/runs", json={"sample": samples[0]["id"]}, timeout=120)
        assert run.status_code == 201, run.text
        assert httpx.get(second + "api/model", timeout=30).json()["name"] == listing[1]["name"]
        assert built == ["tinyvgg", specs[1]]  # built once
    # The picker names each model as loading it would: nothing on the page changes.
    assert [model["name"] for model in listing] == [models.load_model(s).name for s in specs]


def test_a_model_that_fails_its_first_load_answers_503_with_the_reason(monkeypatch) -> None:
    def broken(spec: str, **options: Any) -> models.ModelBundle:
        raise ModelLoadError("The weights are gone.")

    app = build_app(ServeOptions(models=("tinyvgg", "tinyvgg-deformable"), gan_sessions=0))
    monkeypatch.setattr(models, "load_model", broken)
    with serving(app) as url:
        answer = httpx.get(url + "models/tinyvgg-deformable/api/model", timeout=30)
        assert answer.status_code == 503
        assert answer.json() == {"error": "tinyvgg-deformable: The weights are gone."}
        assert httpx.get(url + "models/tinyvgg/api/model", timeout=30).status_code == 200
