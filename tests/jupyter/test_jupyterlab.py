"""``tensorsight.show("tinyvgg")`` inside a real JupyterLab, driven by headless Chromium.

JupyterLab runs on loopback with a token, in a folder holding one notebook; the browser runs the
cell and checks that the explainer is drawn in the notebook's output (maps painted, a detail view
opens) with no console errors from our code. TS_SCREENSHOTS=DIR keeps the screenshot.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytest.importorskip("jupyterlab")
nbformat = pytest.importorskip("nbformat")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120
DRAWN_MS = 120_000
NOTEBOOK = "explain.ipynb"
CELL = 'import tensorsight\ntensorsight.show("tinyvgg")'
# Console errors that JupyterLab itself prints in a bare headless browser, not ours.
_THEIRS = ("favicon", "Failed to load resource", "lsp", "jupyterlab-lsp", "translations")


@dataclass
class Lab:
    url: str
    token: str
    process: subprocess.Popen[str]
    lines: list[str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_notebook(folder: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(CELL))
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, folder / NOTEBOOK)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("lab")
    write_notebook(folder)
    token = secrets.token_hex(16)
    port = free_port()
    # The kernel inherits this environment: it imports tensorsight from this checkout.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])
        ),
        "JUPYTER_CONFIG_DIR": str(folder / ".config"),
        "JUPYTER_RUNTIME_DIR": str(folder / ".runtime"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=",
    ]
    if os.geteuid() == 0:  # CI and containers run as root; Jupyter refuses that by default
        command.append("--allow-root")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=folder
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "api/status", params={"token": token}, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("JupyterLab did not start:\n" + "".join(lines), pytrace=False)
    yield Lab(url, token, process, lines)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def accept_kernel_dialog(page, wait_ms: int = 3000) -> None:
    """JupyterLab may ask which kernel to start: accept the notebook's own (Python 3)."""
    dialog = page.locator(".jp-Dialog button.jp-mod-accept")
    try:
        dialog.wait_for(timeout=wait_ms)
    except Exception:  # no dialog this time
        return
    dialog.click()


def test_lab_refuses_requests_without_the_token(lab: Lab) -> None:
    assert httpx.get(lab.url + "api/contents", timeout=10).status_code == 403


def test_show_draws_the_explainer_inside_the_notebook(lab: Lab, _browser, tmp_path) -> None:
    context = _browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(f"{message.text} @ {message.location.get('url', '')}")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    try:
        page.goto(f"{lab.url}lab/tree/{NOTEBOOK}?token={lab.token}")
        cell = page.locator(".jp-Notebook .jp-Cell.jp-CodeCell").first
        cell.wait_for(timeout=DRAWN_MS)
        # The kernel is up when the status says Idle; then run the cell as a user would.
        page.locator(".jp-Notebook").wait_for()
        page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]").first.wait_for(
            state="attached", timeout=DRAWN_MS
        )
        accept_kernel_dialog(page)
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        accept_kernel_dialog(page)
        app = page.locator(".jp-OutputArea .ts-app")
        try:
            app.wait_for(timeout=DRAWN_MS)
        except Exception:
            page.screenshot(path=str(tmp_path / "no_widget.png"))
            output = page.locator(".jp-OutputArea").first.inner_text()
            pytest.fail(
                f"no explainer in the output; it shows {output!r}; console: {errors}; "
                f"lab: {''.join(lab.lines[-20:])}; screenshot {tmp_path}"
            )
        page.wait_for_selector(".jp-OutputArea .ts-app[data-state=ready]", timeout=DRAWN_MS)
        painted = page.locator(".jp-OutputArea canvas.ts-map.ts-painted")
        assert painted.count() > 20
        assert page.locator(".jp-OutputArea .ts-prob-top").count() == 1
        dismiss = page.locator(".jp-toast-button", has_text="No")  # the news question
        if dismiss.count():
            dismiss.first.click()
        shots = Path(os.environ.get("TS_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "jupyterlab.png"))
        # A detail view opens inside the notebook's output.
        painted.nth(3).click()
        detail = page.locator(".jp-OutputArea .tsd-detail[data-ready]")
        detail.wait_for(timeout=60_000)
        assert detail.locator(".tsd-error").count() == 0
        page.screenshot(path=str(shots / "jupyterlab_detail.png"))
        ours = [error for error in errors if not any(word in error for word in _THEIRS)]
        assert not ours, ours
    finally:
        context.close()
