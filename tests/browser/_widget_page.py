"""A notebook cell in Chromium without a notebook server: the built ``widget.js`` on a blank page,
given an anywidget ``model`` whose ``send`` the test connects to the real kernel side.

A test serves the page with :func:`serve_widget`, exposes a ``kernel(content, buffers)`` function
(buffers as base64 text) and evaluates :func:`mount_script`, giving the JavaScript that hands a
sent message to the kernel and any replies to the model's ``msg:custom`` listeners.
"""

from __future__ import annotations

from typing import Any

from tensorsight.web import static_dir

ORIGIN = "http://widget.test"
PAGE = """<!doctype html><meta charset="utf-8"><body><h1>A notebook cell</h1>
<div id="cell" style="width: 1100px"></div></body>"""

_MOUNT = """async () => {
    const listeners = [];
    const toBase64 = (buffer) => {
        let text = '';
        for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
        return btoa(text);
    };
    const fromBase64 = (text) => new DataView(
        Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer);
    const model = {
        on(event, listener) { if (event === 'msg:custom') listeners.push(listener); },
        off(event, listener) {
            if (event === 'msg:custom' && listeners.includes(listener)) {
                listeners.splice(listeners.indexOf(listener), 1);
            }
        },
        get() { return null; },
        send(content, callbacks, buffers = []) {
            window.sent.push(content);
            SEND
        },
    };
    window.sent = [];
    window.modelListeners = listeners;
    AFTER
    const widget = (await import('/widget.js')).default;
    window.unrender = widget.render({ model, el: document.getElementById('cell') });
}"""


def mount_script(send: str, after: str = "") -> str:
    """The page script that renders the widget; ``send`` is the body of the model's ``send``
    (``content`` and base64 helpers ``toBase64``/``fromBase64`` in scope), ``after`` runs before
    rendering (with ``listeners`` in scope)."""
    return _MOUNT.replace("SEND", send).replace("AFTER", after)


def serve_widget(page: Any) -> None:
    """Answer every request to :data:`ORIGIN` with the page, and ``/widget.js`` with the module."""
    module = (static_dir() / "widget.js").read_bytes()

    def serve(route: Any) -> None:
        if route.request.url.removeprefix(ORIGIN) == "/widget.js":
            route.fulfill(body=module, content_type="text/javascript")
        else:
            route.fulfill(body=PAGE, content_type="text/html")

    page.route(f"{ORIGIN}/**", serve)
