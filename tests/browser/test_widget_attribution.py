"""The widget's attribution panel in a real Chromium: progress, Cancel and the next method.

The page gets the built anywidget module (``widget.js``) and an anywidget ``model`` whose ``send``
reaches a real :class:`tensorsight.jupyter.ExplainerWidget` (shipped TinyVGG) through
``_handle_custom_msg``, the method Jupyter's comm calls. The widget answers on its own threads as
it does in a kernel: a long call runs on its worker, progress polls and the cancel are answered at
once. Its ``send`` queues the replies, and the page collects them every few milliseconds (a
Playwright callback may not wait for another thread). Any console error fails the test.
"""

from __future__ import annotations

import base64
import queue
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("anywidget")

from _widget_page import ORIGIN, mount_script, serve_widget  # noqa: E402

from tensorsight.explanation import Explainer, decode_pack  # noqa: E402
from tensorsight.jupyter import ExplainerWidget  # noqa: E402
from tensorsight.models import load_model  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The widget answers on its own threads; the page collects the queued replies every 20 ms.
MOUNT = mount_script(
    send="window.kernel(content, buffers.map(toBase64));",
    after="""window.collector = setInterval(async () => {
        for (const [reply, buffers] of await window.replies()) {
            for (const listener of [...listeners]) listener(reply, buffers.map(fromBase64));
        }
    }, 20);""",
)


@pytest.fixture
def widget() -> Any:
    widget = ExplainerWidget(Explainer.from_bundle(load_model("tinyvgg")))
    yield widget
    widget.close()


@pytest.fixture
def widget_page(browser_page, widget):
    outbox: queue.Queue[list[Any]] = queue.Queue()

    def send(content: Any, buffers: Any = None) -> None:  # called on the widget's threads
        outbox.put([content, [base64.b64encode(bytes(b)).decode() for b in buffers or []]])

    widget.send = send

    def kernel(content, buffers):
        widget._handle_custom_msg(content, [base64.b64decode(b) for b in buffers])

    def replies():
        ready = []
        while True:
            try:
                ready.append(outbox.get_nowait())
            except queue.Empty:
                return ready

    serve_widget(browser_page)
    browser_page.expose_function("kernel", kernel)
    browser_page.expose_function("replies", replies)
    browser_page.goto(ORIGIN + "/")
    browser_page.evaluate(MOUNT)
    browser_page.wait_for_selector("#cell .ts-app[data-state=ready]", timeout=90_000)
    yield browser_page
    browser_page.evaluate("window.unrender(); clearInterval(window.collector)")


def test_cancel_stops_a_long_run_and_the_next_method_completes(widget_page, widget):
    page = widget_page
    page.get_by_role("button", name="What it looks at").click()
    panel = page.locator(".tsa-panel")
    page.wait_for_selector('.tsa-panel[data-state="ready"]', timeout=60_000)  # saliency first
    panel.locator(".tsa-method").select_option("integrated_gradients")
    page.wait_for_selector('.tsa-panel[data-state="ready"]', timeout=60_000)  # 32 steps
    # 4096 points, 16 a batch: seconds of work on the widget's worker thread.
    panel.locator(".tsa-steps").fill("4096")
    panel.locator(".tsa-run").click()
    page.wait_for_function(
        "() => document.querySelector('.tsa-progress').value > 0", timeout=60_000
    )
    assert panel.get_attribute("data-state") == "loading"
    assert panel.locator(".tsa-cancel").is_visible()
    panel.locator(".tsa-cancel").click()
    page.wait_for_selector('.tsa-panel[data-state="cancelled"]', timeout=60_000)
    assert panel.locator(".tsa-status").inner_text() == "Cancelled."
    assert panel.locator(".tsa-progress").is_hidden() and panel.locator(".tsa-cancel").is_hidden()
    sent = page.evaluate("window.sent")
    long = [m for m in sent if m["method"] == "attribution" and m["params"].get("steps") == "4096"]
    assert len(long) == 1
    job_id = long[0]["params"]["job_id"]
    assert any(
        m["method"] == "attribution_cancel" and m["params"]["job_id"] == job_id for m in sent
    )
    assert (
        widget._handler.handle(
            {"id": "check", "method": "attribution_progress", "params": {"job_id": job_id}}, []
        )[0]["result"]["state"]
        == "cancelled"
    )

    # The next method runs to the end: integrated gradients from the blurred input, 16 points.
    panel.locator(".tsa-steps").fill("16")
    panel.locator(".tsa-baseline").select_option("blur")
    page.wait_for_selector('.tsa-panel[data-state="ready"]', timeout=60_000)
    status = panel.locator(".tsa-status").inner_text()
    assert "Integrated gradients" in status and "blurred baseline, σ 4" in status
    overlay = panel.locator(".tsa-overlay")
    assert overlay.get_attribute("data-method") == "integrated_gradients"
    run_id = page.locator("#cell .ts-app").get_attribute("data-run-id")
    params = {
        "run_id": run_id,
        "method": "integrated_gradients",
        "target": overlay.get_attribute("data-target"),
        "steps": "16",
        "baseline": "blur",
        "blur_sigma": "4",
    }
    reply, buffers = widget._handler.handle(
        {"id": "check", "method": "attribution", "params": params}, []
    )
    assert reply["ok"], reply
    meta, _ = decode_pack(bytes(buffers[0]))
    assert float(overlay.get_attribute("data-max")) == pytest.approx(meta["range"][1])
    assert meta["settings"]["baseline"] == "blur"
