"""The anywidget that runs the built front end inline and serves it from the kernel."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from tensorsight.jupyter.comm import CommHandler
from tensorsight.protocol import ExplainerLike
from tensorsight.web import static_dir

WIDGET_MODULE = "widget.js"
# Answered at once, even while a long call runs: they only read or flag a job's state.
POLLING_METHODS = frozenset(("attribution_progress", "attribution_cancel"))


def widget_module() -> Path:
    """The built anywidget ES module (it carries its own CSS, scoped to the widget).

    >>> widget_module().name
    'widget.js'
    """
    path = static_dir() / WIDGET_MODULE
    if not path.is_file():
        raise FileNotFoundError(
            f"The built front end is missing ({path}); run `npm run build` in frontend/."
        )
    return path


class ExplainerWidget(anywidget.AnyWidget):
    """The explainer page inside a notebook cell, answering its requests with ``explainer``.

    >>> from tensorsight.explanation import Explainer                     # doctest: +SKIP
    >>> ExplainerWidget(Explainer(model, preprocessing=..., class_names=...))  # doctest: +SKIP
    """

    # A trait with a default (rather than a file path on the class) reads the module when a
    # widget is made, so importing this file works before the front end is built.
    _esm = traitlets.Unicode().tag(sync=True)
    #: A temporary folder holding the image given to ``show``; removed with the widget.
    sample_folder: Any = None

    def __init__(self, explainer: ExplainerLike, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.explainer = explainer
        self._handler = CommHandler(explainer)
        # A long call (one with a job id) runs on this thread, and every call that comes
        # after it queues behind it, so the kernel stays free to answer progress polls and
        # cancels; with nothing queued a call is answered at once, in order.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tensorsight")
        self._queued = 0
        self._guard = threading.Lock()
        self.on_msg(self._answer)

    @traitlets.default("_esm")
    def _read_module(self) -> str:
        return widget_module().read_text(encoding="utf-8")

    def _answer(self, widget: Any, content: Any, buffers: Sequence[bytes | memoryview]) -> None:
        if self._answers_now(content):
            self._reply(content, buffers)
            return
        with self._guard:
            self._queued += 1
        # The kernel may reuse its message buffers once this returns.
        self._worker.submit(self._reply_queued, content, [bytes(buffer) for buffer in buffers])

    def _answers_now(self, content: Any) -> bool:
        message = content if isinstance(content, dict) else {}
        params = message.get("params")
        if message.get("method") in POLLING_METHODS:
            return True
        long = isinstance(params, dict) and params.get("job_id") is not None
        with self._guard:
            return not long and self._queued == 0

    def _reply(self, content: Any, buffers: Sequence[bytes | memoryview]) -> None:
        reply, reply_buffers = self._handler.handle(content, buffers)
        self.send(reply, reply_buffers)

    def _reply_queued(self, content: Any, buffers: Sequence[bytes]) -> None:
        try:
            self._reply(content, buffers)
        finally:
            with self._guard:
                self._queued -= 1

    def close(self) -> None:
        """Close the widget; calls still queued are dropped, a running one finishes."""
        self._worker.shutdown(wait=False, cancel_futures=True)
        super().close()
