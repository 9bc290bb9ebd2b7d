"""The explainer's web server: a Starlette app over an Explainer, and ``tensorsight serve``.

>>> from tensorsight.server import create_app  # doctest: +SKIP
>>> app = create_app(explainer)                # an ASGI app: run it with uvicorn  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tensorsight.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # `tensorsight --help` imports this package to register `serve`: keep Starlette and PIL lazy.
    if name == "create_app":
        from tensorsight.server.app import create_app

        return create_app
    raise AttributeError(f"module 'tensorsight.server' has no attribute {name!r}")
