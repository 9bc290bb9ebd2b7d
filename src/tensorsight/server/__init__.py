"""The explainer's web server: a Starlette app over an Explainer, and ``tensorsight serve``.

>>> from tensorsight.server import create_app  # doctest: +SKIP
>>> app = create_app(explainer)                # an ASGI app: run it with uvicorn  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes

if TYPE_CHECKING:
    from tensorsight.server.app import create_app

__all__ = ["create_app"]


# `tensorsight --help` imports this package to register `serve`: keep Starlette and PIL lazy.
__getattr__ = lazy_attributes(__name__, {"create_app": "tensorsight.server.app"})
