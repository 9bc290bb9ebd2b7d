"""Fixtures shared by every test folder: a real ``tensorsight serve`` on loopback and a browser.

``live_server`` starts ``python -m tensorsight serve -p 0`` once per session (the default model;
override the session fixture ``live_server_args`` in a folder's conftest for other options) and
yields a :class:`LiveServer`; ``browser_page`` is a fresh Playwright page (1280x800) in the
Debian Chromium, in its own browser context::

    @pytest.mark.browser
    def test_page_loads(live_server, browser_page):
        browser_page.goto(live_server.url)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT_S = 90
_SERVING_LINE = re.compile(r"tensorsight: serving .* at (http://\S+/)")


@dataclass
class LiveServer:
    """A ``tensorsight serve`` subprocess: ``url`` ends in ``/``; ``output`` is what it printed."""

    url: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)


def start_server(
    args: list[str], env: dict[str, str] | None = None, timeout_s: float = SERVER_START_TIMEOUT_S
) -> LiveServer:
    """Start ``tensorsight serve -p 0 *args``, wait until its API answers, or fail with its output.

    ``env`` adds environment variables; its ``PYTHONPATH`` goes in front of the current one, so
    a checkout's ``src`` on it stays importable. The caller stops it with :func:`stop_server`.
    """
    command = [sys.executable, "-m", "tensorsight", "serve", "-p", "0", *args]
    extra = dict(env or {})
    if "PYTHONPATH" in extra:
        paths = [extra["PYTHONPATH"], os.environ.get("PYTHONPATH")]
        extra["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines: list[str] = []
    # Drain the pipe in a thread: the server must never block on a full pipe.
    threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True).start()
    deadline = time.monotonic() + timeout_s
    url = None
    while time.monotonic() < deadline and process.poll() is None:
        url = url or next((m[1] for m in map(_SERVING_LINE.search, list(lines)) if m), None)
        if url and _answers(url + "api/model"):
            return LiveServer(url, process, lines)
        time.sleep(0.1)
    server = LiveServer(url or "", process, lines)
    stop_server(server)
    pytest.fail(
        f"`{' '.join(command)}` did not start serving (exit code {process.returncode});"
        f" it printed:\n{server.output}",
        pytrace=False,
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def stop_server(server: LiveServer) -> None:
    """Terminate the server process (kill it if it ignores SIGTERM for 10 s)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="session")
def live_server_args() -> list[str]:
    """Extra ``tensorsight serve`` options for ``live_server``: override to serve another model."""
    return []


@pytest.fixture(scope="session")
def live_server(live_server_args: list[str]) -> Iterator[LiveServer]:
    """One real ``tensorsight serve -p 0`` on 127.0.0.1, shared by the whole session."""
    server = start_server(live_server_args)
    yield server
    stop_server(server)


@pytest.fixture(autouse=True)
def _report_a_dead_live_server(request: pytest.FixtureRequest) -> Iterator[None]:
    # A server that dies mid-session would only show as refused connections: show its output.
    yield
    if "live_server" not in request.fixturenames:
        return
    server: LiveServer = request.getfixturevalue("live_server")
    if server.process.poll() is not None:
        pytest.fail(
            f"tensorsight serve has exited (code {server.process.returncode}); "
            f"it printed:\n{server.output}",
            pytrace=False,
        )


@pytest.fixture
def server_factory() -> Iterator[Callable[..., LiveServer]]:
    """``server_factory(args, env=None)`` starts a ``tensorsight serve`` stopped after the test."""
    servers: list[LiveServer] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> LiveServer:
        servers.append(start_server(args, env))
        return servers[-1]

    yield start
    for server in servers:
        stop_server(server)


@pytest.fixture(scope="session")
def _browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(_browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A Playwright page in a fresh browser context, viewport 1280x800.

    The test fails when the page logs a console error or throws: a test that provokes one on
    purpose (a refused upload answers 4xx, which Chromium logs) says so with
    ``@pytest.mark.allow_console_error(r"regex")``, matched against the message.
    """
    context = _browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    allowed = [
        re.compile(pattern)
        for marker in request.node.iter_markers("allow_console_error")
        for pattern in marker.args
    ]

    def note_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in allowed):
            problems.append(f"console error: {message.text} ({message.location.get('url', '')})")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", note_console)
    yield page
    context.close()
    if problems:
        pytest.fail("the page reported errors:\n" + "\n".join(problems), pytrace=False)
