"""The anywidget that runs the built front end inline and serves it from the kernel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from tensorsight.jupyter.comm import CommHandler
from tensorsight.protocol import ExplainerLike
from tensorsight.web import static_dir

WIDGET_MODULE = "widget.js"


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
        self.on_msg(self._answer)

    @traitlets.default("_esm")
    def _read_module(self) -> str:
        return widget_module().read_text(encoding="utf-8")

    def _answer(self, widget: Any, content: Any, buffers: Sequence[bytes | memoryview]) -> None:
        reply, reply_buffers = self._handler.handle(content, buffers)
        self.send(reply, reply_buffers)
