"""The Starlette app: the HTTP face of an :class:`~tensorsight.explanation.Explainer`.

HTTP only, no maths: every answer comes from one Explainer method (docs/architecture.md, "HTTP
API"). Uploads are untrusted, so their size is checked here before anything is decoded: the
declared Content-Length first, then the bytes actually received (Starlette's multipart parser
has no cap on file parts), then :func:`tensorsight.imaging.decode_image` checks the pixel count.
Model work runs in a worker thread so the event loop keeps answering while a model runs.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Scope

from tensorsight.explanation import ExplainerError, encode_pack
from tensorsight.imaging import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, ImageError, decode_image
from tensorsight.web import static_dir as default_static_dir

# Room for the multipart boundaries and part headers around an image of the largest allowed size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# A JSON run request is `{"sample": "<id>"}`; anything much larger is not one.
MAX_JSON_BYTES = 64 * 1024
PACK_MEDIA_TYPE = "application/octet-stream"
_MB = 1024 * 1024
# Bundlers put a content hash in asset names ("app-5FJ2K3QX.js"): such a file never changes.
_HASHED_ASSET = re.compile(r"[.-][A-Za-z0-9_]{8,}\.(?:js|css|woff2?|png|svg|wasm|map)$")
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
# Runs expire from the explainer's cache, so browsers should not keep API answers either.
_NO_STORE = {"Cache-Control": "no-store"}

Result = TypeVar("Result")


class ExplainerLike(Protocol):
    """The Explainer methods the server calls (docs/architecture.md, "Explanation")."""

    def model_info(self) -> dict[str, Any]: ...
    def samples(self) -> list[dict[str, Any]]: ...
    def sample_png(self, sample_id: str) -> bytes: ...
    def run_image(self, image: Image.Image) -> dict[str, Any]: ...
    def run_sample(self, sample_id: str) -> dict[str, Any]: ...
    def activations(self, run_id: str, node_ids: list[str], *, channels: tuple[int, int] | None,
                    encoding: str) -> tuple[dict[str, Any], Mapping[str, Any]]: ...
    def detail(self, run_id: str, node_id: str,
               channel: int) -> tuple[dict[str, Any], Mapping[str, Any]]: ...


class ApiError(HTTPException):
    """An error answered as JSON ``{"error": sentence}`` with an HTTP status."""


def create_app(
    explainer: ExplainerLike,
    *,
    static_dir: Path | None = None,
    max_upload_bytes: int = MAX_IMAGE_BYTES,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
    allowed_hosts: tuple[str, ...] | None = None,
    gan_sessions: int = 4,
) -> Starlette:
    """The explainer's web app: the page, its assets and the JSON/pack API over ``explainer``.

    ``allowed_hosts`` (``Host`` header names, without port) guards a loopback server against DNS
    rebinding; ``None`` accepts any host. ``gan_sessions`` bounds the GAN Lab sessions training
    at once (``/gan`` and its WebSocket, :mod:`tensorsight.server.gan`); 0 leaves GAN Lab out.

    >>> from starlette.testclient import TestClient            # doctest: +SKIP
    >>> client = TestClient(create_app(Explainer(model, ...)))  # doctest: +SKIP
    >>> client.get("/api/model").json()["name"]                 # doctest: +SKIP
    'TinyVGG (Fashion-MNIST)'
    """
    api = _Api(explainer, max_upload_bytes=max_upload_bytes, max_image_pixels=max_image_pixels)
    assets = Path(static_dir) if static_dir is not None else default_static_dir()
    routes = [
        Route("/", _page(assets), name="page"),
        Route("/api/model", api.model, name="model"),
        Route("/api/samples", api.samples, name="samples"),
        Route("/api/samples/{sample_id}.png", api.sample_png, name="sample_png"),
        Route("/api/runs", api.create_run, methods=["POST"], name="runs"),
        Route("/api/runs/{run_id}/activations", api.activations, name="activations"),
        Route("/api/runs/{run_id}/nodes/{node_id}/detail", api.detail, name="detail"),
        *_gan_routes(_page(assets), gan_sessions),
        Mount("/static", _CachedStaticFiles(directory=assets, check_dir=False), name="static"),
    ]
    # Level 3: nearly all of level 9's saving on packs and JSON for a fraction of the time.
    middleware = [Middleware(GZipMiddleware, minimum_size=1024, compresslevel=3)]
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )


def _gan_routes(page: Callable[[Request], Any], sessions: int) -> list[Any]:
    if sessions <= 0:
        return []
    from tensorsight.server.gan import gan_routes

    return gan_routes(page, max_sessions=sessions)


class _Api:
    """Route handlers over one explainer; explainer calls are serialised in a worker thread."""

    def __init__(self, explainer: ExplainerLike, *, max_upload_bytes: int,
                 max_image_pixels: int) -> None:
        self.explainer = explainer
        self.max_upload_bytes = max_upload_bytes
        self.max_image_pixels = max_image_pixels
        # The explainer caches runs in plain dicts and torch runs faster without contention.
        self._lock = threading.Lock()

    async def _call(self, method: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        def locked() -> Result:
            with self._lock:
                return method(*args, **kwargs)

        try:
            return await run_in_threadpool(locked)
        except (ExplainerError, ImageError) as error:
            raise ApiError(error.status, str(error)) from None

    async def _json(self, method: Callable[..., Any], *args: Any,
                    status_code: int = 200) -> Response:
        """Call an explainer method and answer with its result as JSON, encoded off the loop.

        A large network's overview is a megabyte of JSON: too long to encode on the event loop.
        """
        body = await self._call(lambda: _json_bytes(method(*args)))
        return Response(body, status_code=status_code, media_type="application/json",
                        headers=_NO_STORE)

    async def model(self, request: Request) -> Response:
        return await self._json(self.explainer.model_info)

    async def samples(self, request: Request) -> Response:
        samples = await self._call(self.explainer.samples)
        return JSONResponse(
            [{**sample, "url": request.url_for("sample_png", sample_id=sample["id"]).path}
             for sample in samples], headers=_NO_STORE)

    async def sample_png(self, request: Request) -> Response:
        png = await self._call(self.explainer.sample_png, request.path_params["sample_id"])
        return Response(png, media_type="image/png", headers={"Cache-Control": _REVALIDATE})

    async def create_run(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            sample_id = _sample_id(await _read_body(request, MAX_JSON_BYTES))
            return await self._json(self.explainer.run_sample, sample_id, status_code=201)
        if content_type == "multipart/form-data":
            limit = self.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
            data = await _multipart_image(request, await _read_body(request, limit))
        else:
            data = await _read_body(request, self.max_upload_bytes)
        image = await run_in_threadpool(self._decode, data)
        return await self._json(self.explainer.run_image, image, status_code=201)

    def _decode(self, data: bytes) -> Image.Image:
        try:
            return decode_image(data, max_bytes=self.max_upload_bytes,
                                max_pixels=self.max_image_pixels)
        except ImageError as error:
            raise ApiError(error.status, str(error)) from None

    async def activations(self, request: Request) -> Response:
        query = request.query_params
        node_ids = [node for node in query.get("nodes", "").split(",") if node]
        if not node_ids:
            raise ApiError(400, "Say which nodes to send: ?nodes=n1,n2.")
        channels = _channel_range(query.get("channels"))
        encoding = query.get("encoding", "u8")
        if encoding not in ("u8", "f32"):
            raise ApiError(400, f"encoding must be u8 or f32, not {encoding!r}.")
        return await self._pack(self.explainer.activations, request.path_params["run_id"],
                                node_ids, channels=channels, encoding=encoding)

    async def detail(self, request: Request) -> Response:
        channel = _integer(request.query_params.get("channel", "0"), "channel")
        return await self._pack(self.explainer.detail, request.path_params["run_id"],
                                request.path_params["node_id"], channel)

    async def _pack(self, method: Callable[..., tuple[dict[str, Any], Mapping[str, Any]]],
                    *args: Any, **kwargs: Any) -> Response:
        """Call an explainer method that returns ``(meta, arrays)`` and answer with its pack."""
        pack = await self._call(lambda: encode_pack(*method(*args, **kwargs)))
        return Response(pack, media_type=PACK_MEDIA_TYPE, headers=_NO_STORE)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, _too_large(int(declared), limit))
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise ApiError(413, _too_large(received, limit, at_least=True))
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "The upload was interrupted before it finished.") from None
    return b"".join(chunks)


def _too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    more = "more than " if at_least else ""
    return f"The upload is {more}{size / _MB:.1f} MiB; the limit is {limit / _MB:.1f} MiB."


async def _multipart_image(request: Request, body: bytes) -> bytes:
    """The bytes of the ``image`` file field of an already size-checked multipart ``body``."""

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    buffered = Request(request.scope, receive=replay)
    async with buffered.form(max_files=1, max_fields=8) as form:
        field = form.get("image")
        if not isinstance(field, UploadFile):
            raise ApiError(400, "Send the picture in a multipart file field named 'image'.")
        return await field.read()


def _sample_id(body: bytes) -> str:
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        request = None
    if not isinstance(request, dict) or not isinstance(request.get("sample"), str):
        raise ApiError(400, 'A JSON run request looks like {"sample": "<sample id>"}.')
    return request["sample"]


def _channel_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    start, colon, stop = text.partition(":")
    if not colon:
        raise ApiError(400, f"channels must look like start:stop (0:16), not {text!r}.")
    first, last = _integer(start, "channels start"), _integer(stop, "channels stop")
    if not 0 <= first < last:
        raise ApiError(400, f"channels {text!r} is empty: start must be below stop.")
    return first, last


def _integer(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, not {text!r}.") from None


def _json_bytes(content: Any) -> bytes:
    """JSON as Starlette's JSONResponse writes it (compact, UTF-8, no NaN)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")


def _page(assets: Path) -> Callable[[Request], Any]:
    async def page(request: Request) -> Response:
        index = assets / "index.html"
        if not index.is_file():
            return PlainTextResponse(
                "The front end is not built: run `npm run build` in frontend/.", status_code=503)
        return FileResponse(index, headers={"Cache-Control": _REVALIDATE})

    return page


class _CachedStaticFiles(StaticFiles):
    """Static files with caching headers: content-hashed names forever, the rest revalidated."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            hashed = _HASHED_ASSET.search(path) is not None
            response.headers["Cache-Control"] = _IMMUTABLE if hashed else _REVALIDATE
        return response


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if not request.url.path.startswith("/api/") and not isinstance(error, ApiError):
        return PlainTextResponse(error.detail, status_code=error.status_code,
                                 headers=error.headers)
    detail = error.detail
    if not isinstance(error, ApiError) and error.status_code in (404, 405):  # no such route
        detail = f"{detail}: {request.method} {request.url.path} is not part of the API."
    return JSONResponse({"error": detail}, status_code=error.status_code, headers=error.headers)


async def _server_error(request: Request, error: Exception) -> Response:
    return JSONResponse({"error": f"The server failed: {type(error).__name__}: {error}"},
                        status_code=500)

