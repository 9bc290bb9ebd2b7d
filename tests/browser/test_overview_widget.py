"""The anywidget module (``widget.js``) in a real Chromium, talking to the real kernel side.

No notebook server is needed to check the widget end to end: the page gets the built module and
a ``model`` object whose ``send`` goes straight to :class:`tensorsight.jupyter.CommHandler` over
an exposed Playwright function, and whose ``msg:custom`` listeners get the handler's replies
(buffers included), which is what Jupyter's comm does between the two.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("anywidget")
from _widget_page import ORIGIN, mount_script, serve_widget  # noqa: E402
from PIL import Image  # noqa: E402

from tensorsight.explanation import Explainer, decode_pack  # noqa: E402
from tensorsight.imaging import Preprocessing  # noqa: E402
from tensorsight.jupyter import CommHandler  # noqa: E402
from tensorsight.models import Sample  # noqa: E402
from tensorsight.models.tinyvgg import TinyVGG  # noqa: E402

pytestmark = pytest.mark.browser

CLASSES = tuple(f"kind {index}" for index in range(4))

# The kernel side answers each message at once, and the reply goes straight to the listeners.
MOUNT = mount_script(
    send="""window.kernel(content, buffers.map(toBase64)).then(([reply, replyBuffers]) => {
                for (const listener of listeners) listener(reply, replyBuffers.map(fromBase64));
            });"""
)

# What the widget's code still has listening: event listeners on window and document, scroll
# listeners anywhere, ResizeObservers observing. Installed before any page script runs; only
# listeners added from widget.js count (Playwright adds its own while it clicks).
TRACK_LISTENERS = """(() => {
    const live = [];
    const ours = () => (new Error().stack || '').includes('/widget.js');
    const capture = (options) => typeof options === 'boolean' ? options : Boolean(options?.capture);
    const find = (target, type, listener, options) => live.findIndex((entry) =>
        entry.target === target && entry.type === type && entry.listener === listener
        && entry.capture === capture(options));
    const add = EventTarget.prototype.addEventListener;
    const remove = EventTarget.prototype.removeEventListener;
    EventTarget.prototype.addEventListener = function (type, listener, options) {
        if (ours() && find(this, type, listener, options) < 0) {
            live.push({ target: this, type, listener, capture: capture(options) });
        }
        return add.call(this, type, listener, options);
    };
    EventTarget.prototype.removeEventListener = function (type, listener, options) {
        const at = find(this, type, listener, options);
        if (at >= 0) live.splice(at, 1);
        return remove.call(this, type, listener, options);
    };
    let observing = 0;
    const Observer = window.ResizeObserver;
    window.ResizeObserver = class extends Observer {
        observe(...args) {
            if (!this.counted && ours()) { this.counted = true; observing++; }
            super.observe(...args);
        }
        disconnect() {
            if (this.counted) { this.counted = false; observing--; }
            super.disconnect();
        }
    };
    window.stillListening = () => ({
        global: live.filter((e) => e.target === window || e.target === document).length,
        scroll: live.filter((e) => e.type === 'scroll').length,
        observers: observing,
    });
})()"""


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 40), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def handler(tmp_path) -> CommHandler:
    torch.manual_seed(0)
    model = TinyVGG(in_channels=1, input_size=32, num_classes=len(CLASSES)).eval()
    samples = []
    for seed in range(2):
        path = tmp_path / f"kind-{seed}.png"
        path.write_bytes(png(seed))
        samples.append(Sample(id=f"kind-{seed}", label=CLASSES[seed], path=path))
    return CommHandler(
        Explainer(
            model,
            preprocessing=Preprocessing(size=(32, 32), channels=1),
            class_names=CLASSES,
            name="tiny widget",
            samples=samples,
        )
    )


@pytest.fixture
def widget_page(browser_page, handler):
    def kernel(content, buffers):
        reply, reply_buffers = handler.handle(content, [base64.b64decode(b) for b in buffers])
        return [reply, [base64.b64encode(bytes(b)).decode() for b in reply_buffers]]

    serve_widget(browser_page)
    browser_page.expose_function("kernel", kernel)
    browser_page.add_init_script(TRACK_LISTENERS)
    browser_page.goto(ORIGIN + "/")
    browser_page.evaluate("window.before = window.stillListening()")
    browser_page.evaluate(MOUNT)
    browser_page.wait_for_selector("#cell .ts-app[data-state=ready]", timeout=60_000)
    return browser_page


def test_widget_draws_the_overview_over_the_comm(widget_page, handler):
    app = widget_page.locator("#cell .ts-app")
    run = app.get_attribute("data-run-id")
    methods = {message["method"] for message in widget_page.evaluate("window.sent")}
    assert {"model_info", "samples", "sample_png", "run_sample", "activations"} <= methods
    # The page around the widget is left alone: the state lives on the widget, styles are scoped.
    assert widget_page.evaluate("document.body.dataset.state") is None
    assert widget_page.evaluate(
        "getComputedStyle(document.querySelector('h1')).fontFamily"
    ) == widget_page.evaluate("getComputedStyle(document.body).fontFamily")
    assert widget_page.locator("#cell style").count() == 1
    assert app.locator(".ts-output .ts-prob").count() == len(CLASSES)

    conv = next(n for n in handler.explainer.model_info()["nodes"] if n["kind"] == "conv2d")
    canvas = app.locator(f"canvas.ts-map[data-node='{conv['id']}'][data-channel='1']")
    canvas.hover(position={"x": 2, "y": 2})
    readout = app.locator(".ts-readout[data-state=value]")
    readout.wait_for()
    row, col = int(readout.get_attribute("data-row")), int(readout.get_attribute("data-col"))
    _, arrays = decode_pack(
        handler.handle(
            {
                "id": "check",
                "method": "activations",
                "params": {
                    "run_id": run,
                    "node_ids": [conv["id"]],
                    "channels": [1, 2],
                    "encoding": "f32",
                },
            },
            [],
        )[1][0]
    )
    assert float(readout.get_attribute("data-value")) == float(arrays[conv["id"]][0, row, col])


def test_widget_upload_goes_as_a_buffer_and_errors_show_in_the_widget(widget_page):
    app = widget_page.locator("#cell .ts-app")
    run = app.get_attribute("data-run-id")
    widget_page.set_input_files(
        "#cell .ts-file-input",
        files=[{"name": "mine.png", "mimeType": "image/png", "buffer": png(7)}],
    )
    widget_page.wait_for_function(
        "(run) => { const app = document.querySelector('#cell .ts-app');"
        " return app.dataset.state === 'ready' && app.dataset.runId !== run; }",
        arg=run,
    )
    assert widget_page.evaluate("window.sent.filter((m) => m.method === 'run_image').length") == 1

    widget_page.set_input_files(
        "#cell .ts-file-input",
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture at all"}],
    )
    widget_page.wait_for_selector("#cell .ts-app[data-state=error]")
    alert = app.locator(".ts-alert")
    assert alert.is_visible() and "image" in alert.text_content().lower()


def test_closing_views_and_the_widget_releases_every_listener_and_observer(widget_page, handler):
    before = widget_page.evaluate("window.before")
    live = widget_page.evaluate("window.stillListening()")
    assert live["observers"] == 1 and live["scroll"] == 1  # the overview's, while it is shown
    assert widget_page.evaluate("window.modelListeners.length") == 1

    # A detail view listens on the document while open (Escape, clicks outside) and stops on close.
    conv = next(n for n in handler.explainer.model_info()["nodes"] if n["kind"] == "conv2d")
    widget_page.locator(f"#cell canvas.ts-map[data-node='{conv['id']}'][data-channel='0']").click()
    widget_page.locator(".tsd-detail[data-ready]").wait_for()
    assert widget_page.evaluate("window.stillListening().global") > live["global"]
    widget_page.get_by_role("tab", name="Formula for one window").click()
    widget_page.locator('[data-role="conv-formula"]').wait_for()  # terms came over the comm
    widget_page.keyboard.press("Escape")
    widget_page.locator(".tsd-detail").wait_for(state="detached")
    assert widget_page.evaluate("window.stillListening()") == live

    widget_page.evaluate("window.unrender()")
    assert widget_page.evaluate("window.stillListening()") == before
    assert widget_page.evaluate("window.modelListeners.length") == 0
    assert widget_page.locator("#cell *").count() == 0
