"""Several models behind one server: each model's own app under ``/models/<id>/``, a list of
them at ``/api/models``, and the first model also at the top level.

Each model is a complete :func:`~tensorsight.server.app.create_app` over its own Explainer (its
samples, its runs), so nothing in the API changes: the page picks a model and talks to
``models/<id>/api/...``; a client that knows one model keeps using ``/api/...``. A model given
as ``load`` is built by its first request: ``serve`` with no ``--model`` lists every built-in
model but starts with only the first one built.

>>> model_id("tinyvgg"), model_id("nets/mynet.py:build")
('tinyvgg', 'mynet-py-build')
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tensorsight.models.loading import ModelLoadError
from tensorsight.server.app import DEFAULT_ANSWER_CACHE_BYTES, create_app

if TYPE_CHECKING:
    from tensorsight.protocol import ExplainerLike


@dataclass(frozen=True)
class ServedModel:
    """One model of a server: ``id`` is URL-safe and unique, ``name`` the model's own; its
    ``explainer``, or ``load`` to make it when the model's first request comes."""

    id: str
    name: str
    explainer: ExplainerLike | None = None
    load: Callable[[], ExplainerLike] | None = None


def model_id(spec: str) -> str:
    """A URL-safe id for a ``--model`` spec: the file or module and factory, lower case."""
    head, _, factory = spec.partition(":")
    base = PurePath(head).name if "/" in head or head.endswith(".py") else head
    text = f"{base}:{factory}" if factory else base
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-") or "model"


def unique_ids(specs: Sequence[str]) -> list[str]:
    """:func:`model_id` of each spec, ``-2``, ``-3``... added where two would be the same.

    >>> unique_ids(["tinyvgg", "tinyvgg"])
    ['tinyvgg', 'tinyvgg-2']
    """
    seen: dict[str, int] = {}
    ids = []
    for spec in specs:
        base = model_id(spec)
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


def create_multi_app(
    models: Sequence[ServedModel],
    *,
    allowed_hosts: tuple[str, ...] | None = None,
    gan_sessions: int = 0,
    answer_cache_bytes: int = DEFAULT_ANSWER_CACHE_BYTES,
) -> ASGIApp:
    """One app serving every model; the first also answers the plain ``/api/...`` routes and,
    with ``gan_sessions``, GAN Lab (``/gan``, one per server, not per model).
    ``answer_cache_bytes`` is shared out evenly between the models' answer caches."""
    if not models:
        raise ValueError("Serve at least one model.")
    listing = [
        {"id": model.id, "name": model.name, "url": f"models/{model.id}/"} for model in models
    ]
    app: ASGIApp = _ModelRouter(
        {
            model.id: _model_app(
                model, gan_sessions if index == 0 else 0, answer_cache_bytes // len(models)
            )
            for index, model in enumerate(models)
        },
        models[0].id,
        JSONResponse(listing, headers={"Cache-Control": "no-store"}),
    )
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app = TrustedHostMiddleware(app, allowed_hosts=list(allowed_hosts))
    return app


def _model_app(model: ServedModel, gan_sessions: int, answer_cache_bytes: int) -> ASGIApp:
    def app(explainer: ExplainerLike) -> ASGIApp:
        return create_app(
            explainer, gan_sessions=gan_sessions, answer_cache_bytes=answer_cache_bytes
        )

    if model.explainer is not None:
        return app(model.explainer)
    if model.load is None:
        raise ValueError(f"Model {model.id!r} has neither an explainer nor a way to load one.")
    load = model.load
    return _LoadedOnFirstRequest(lambda: app(load()))


class _LoadedOnFirstRequest:
    """An app built when its first request comes (a worker thread builds it, so the server
    keeps answering); a model that fails to load answers 503 (unavailable) with the reason,
    and the next request tries again."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self.build = build
        self.app: ASGIApp | None = None
        self.lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self.lock:  # one load, however many requests wait for it
            if self.app is None:
                try:
                    self.app = await run_in_threadpool(self.build)
                except ModelLoadError as error:
                    answer = JSONResponse({"error": str(error)}, status_code=503)
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class _ModelRouter:
    """Sends ``/models/<id>/...`` to that model's app as if it were mounted alone there (its
    own router, so its links name its own prefix), ``/api/models`` to the list, the rest to the
    first model."""

    def __init__(self, apps: dict[str, ASGIApp], first: str, listing: JSONResponse) -> None:
        self.apps = apps
        self.first = apps[first]
        self.listing = listing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.first(scope, receive, send)  # lifespan
            return
        path = scope["path"]
        if path == "/api/models":
            await self.listing(scope, receive, send)
            return
        for model, app in self.apps.items():
            prefix = f"/models/{model}"
            if path == prefix or path.startswith(prefix + "/"):
                root = scope.get("root_path", "") + prefix
                child = {key: value for key, value in scope.items() if key not in ("router", "app")}
                child.update(root_path=root, app_root_path=root)
                await app(child, receive, send)
                return
        await self.first(scope, receive, send)
