"""The Starlette app: the HTTP face of an :class:`~tensorsight.explanation.Explainer`.

HTTP only, no maths: every answer comes from one Explainer method (docs/architecture.md, "HTTP
API"). Uploads are untrusted, so their size is checked here before anything is decoded: the
declared Content-Length first, then the bytes actually received (Starlette's multipart parser
has no cap on file parts), then :func:`tensorsight.imaging.decode_image` checks the pixel count.
Model work runs in a worker thread so the event loop keeps answering while a model runs; the
answer is encoded and gzipped there too. A run's data never changes for its id (the id names the
model and the input), so those answers are kept, gzipped, in a small byte-bounded cache: the
students who open the same sample get the bytes already sent to the first one.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

from tensorsight.explanation.runs import ByteLru
from tensorsight.imaging import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from tensorsight.protocol import (
    Answer,
    ExplainerLike,
    Protocol,
    ProtocolError,
    Syntax,
    explainer_protocol,
    report_bug,
)
from tensorsight.web import static_dir as default_static_dir

# Room for the multipart boundaries and part headers around an image of the largest allowed size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# A JSON run request is `{"sample": "<id>"}`; anything much larger is not one.
MAX_JSON_BYTES = 64 * 1024
_MB = 1024 * 1024
# Bundlers put a content hash in asset names ("app-5FJ2K3QX.js"): such a file never changes.
_HASHED_ASSET = re.compile(r"[.-][A-Za-z0-9_]{8,}\.(?:js|css|woff2?|png|svg|wasm|map)$")
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
# Runs expire from the explainer's cache, so browsers should not keep API answers either.
_NO_STORE = {"Cache-Control": "no-store"}
# Level 3: nearly all of level 9's saving on packs and JSON for a fraction of the time.
_GZIP_LEVEL = 3
_GZIP_MIN_BYTES = 1024
# The methods whose answer depends on their parameters alone (a run id names model and input).
_LASTING_METHODS = frozenset(("overview", "activations", "detail", "terms"))
DEFAULT_ANSWER_CACHE_BYTES = 32 * _MB


class ApiError(HTTPException):
    """An error answered as JSON ``{"error": sentence}`` with an HTTP status."""


def create_app(
    explainer: ExplainerLike,
    *,
    static_dir: Path | None = None,
    max_upload_bytes: int = MAX_IMAGE_BYTES,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
    allowed_hosts: tuple[str, ...] | None = None,
    protocol: Protocol | None = None,
    gan_sessions: int = 4,
    answer_cache_bytes: int = DEFAULT_ANSWER_CACHE_BYTES,
) -> Starlette:
    """The explainer's web app: the page, its assets and the JSON/pack API over ``explainer``.

    ``allowed_hosts`` (``Host`` header names, without port) guards a loopback server against DNS
    rebinding; ``None`` accepts any host. ``protocol`` (default: the Explainer methods over
    ``explainer``, decoding uploads within the limits) lets a host answer further methods.
    ``gan_sessions`` bounds the GAN Lab sessions training at once (``/gan`` and its WebSocket,
    :mod:`tensorsight.server.gan`, which extends ``protocol`` per session); 0 leaves GAN Lab out.
    ``answer_cache_bytes`` bounds the gzipped run answers kept for the next asker (the latest
    is always kept).

    >>> from starlette.testclient import TestClient            # doctest: +SKIP
    >>> client = TestClient(create_app(Explainer(model, ...)))  # doctest: +SKIP
    >>> client.get("/api/model").json()["name"]                 # doctest: +SKIP
    'TinyVGG (Fashion-MNIST)'
    """
    if protocol is None:
        from tensorsight.attribution import with_attribution  # torch: only when serving

        protocol = with_attribution(
            explainer_protocol(
                explainer, max_image_bytes=max_upload_bytes, max_image_pixels=max_image_pixels
            ),
            explainer,
        )
    api = _Api(protocol, max_upload_bytes=max_upload_bytes, answer_cache_bytes=answer_cache_bytes)
    assets = Path(static_dir) if static_dir is not None else default_static_dir()
    routes = [
        Route("/", _page(assets), name="page"),
        Route("/api/model", api.route("model_info"), name="model"),
        Route("/api/samples", api.samples, name="samples"),
        Route(
            "/api/samples/{sample_id}.png",
            api.route("sample_png", headers={"Cache-Control": _REVALIDATE}),
            name="sample_png",
        ),
        Route("/api/runs", api.create_run, methods=["POST"], name="runs"),
        Route("/api/latent-runs", api.create_latent_run, methods=["POST"], name="latent_runs"),
        Route("/api/verdicts", api.create_verdict, methods=["POST"], name="verdicts"),
        Route("/api/runs/{run_id}", api.route("overview"), name="run"),
        Route("/api/runs/{run_id}/activations", api.route("activations"), name="activations"),
        Route("/api/runs/{run_id}/nodes/{node_id}/detail", api.route("detail"), name="detail"),
        Route("/api/runs/{run_id}/nodes/{node_id}/terms", api.route("terms"), name="terms"),
        *_attribution_routes(api),
        *_gan_routes(_page(assets), protocol, gan_sessions),
        Mount("/static", _CachedStaticFiles(directory=assets, check_dir=False), name="static"),
    ]
    # The API gzips its own answers off the event loop; this is for the page and its assets.
    middleware = [
        Middleware(GZipMiddleware, minimum_size=_GZIP_MIN_BYTES, compresslevel=_GZIP_LEVEL)
    ]
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )


def _gan_routes(page: Callable[[Request], Any], protocol: Protocol, sessions: int) -> list[Any]:
    if sessions <= 0:
        return []
    from tensorsight.server.gan import gan_routes

    return gan_routes(page, protocol=protocol, max_sessions=sessions)


def _attribution_routes(api: _Api) -> list[Route]:
    """Attribution, Grad-CAM stages, receptive fields and long-job polling (attribution.session)."""
    run, node = "/api/runs/{run_id}", "/api/runs/{run_id}/nodes/{node_id}"
    return [
        Route(f"{run}/attribution", api.route("attribution")),
        Route(f"{run}/gradcam_stages", api.route("gradcam_stages")),
        Route(f"{node}/receptive_field", api.route("receptive_field")),
        Route(f"{node}/effective_receptive_field", api.route("effective_receptive_field")),
        Route(f"{node}/exemplars", api.route("channel_exemplars")),
        Route("/api/exemplars", api.route("exemplar_layers")),
        Route("/api/attribution/jobs/{job_id}", api.route("attribution_progress")),
        Route(
            "/api/attribution/jobs/{job_id}/cancel",
            api.route("attribution_cancel"),
            methods=["POST"],
        ),
    ]


class _Api:
    """Route handlers: each turns its request into one protocol call, run in a worker thread."""

    def __init__(
        self, protocol: Protocol, *, max_upload_bytes: int, answer_cache_bytes: int
    ) -> None:
        self.protocol = protocol
        self.max_upload_bytes = max_upload_bytes
        self.lasting: ByteLru[_Body] = ByteLru(answer_cache_bytes, lambda body: len(body.data))

    def route(
        self, method: str, *, headers: Mapping[str, str] = _NO_STORE
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint calling ``method`` with the path and query parameters (text syntax)."""

        async def endpoint(request: Request) -> Response:
            params = {**request.query_params, **request.path_params}
            return await self._answer(request, method, params, syntax="text", headers=headers)

        return endpoint

    async def _call(
        self,
        method: str,
        params: Mapping[str, Any],
        blobs: Sequence[bytes] = (),
        *,
        syntax: Syntax,
        gzipped: bool = False,
    ) -> tuple[Answer | None, _Body]:
        """The answer (None when it came from the cache) and its body, gzipped when asked and
        worth it, all off the event loop: a large network's overview is a megabyte of JSON."""
        key = _lasting_key(method, params, gzipped) if not blobs else None
        kept = self.lasting.get(key) if key is not None else None
        if kept is not None:
            return None, kept

        def answer() -> tuple[Answer, _Body]:
            result = self.protocol.call(method, params, blobs, syntax=syntax)
            data = result.data if result.is_binary else _json_bytes(result.value)
            return result, _Body.of(data, result.media_type, gzipped=gzipped)

        try:
            result, body = await run_in_threadpool(answer)
        except ProtocolError as error:
            raise ApiError(error.status, error.sentence) from None
        if key is not None:
            self.lasting.put(key, body)
        return result, body

    async def _answer(
        self,
        request: Request,
        method: str,
        params: Mapping[str, Any],
        blobs: Sequence[bytes] = (),
        *,
        syntax: Syntax,
        status_code: int = 200,
        headers: Mapping[str, str] = _NO_STORE,
    ) -> Response:
        gzipped = "gzip" in request.headers.get("accept-encoding", "")
        _, body = await self._call(method, params, blobs, syntax=syntax, gzipped=gzipped)
        return Response(
            body.data,
            status_code=status_code,
            media_type=body.media_type,
            headers={**headers, **body.headers},
        )

    async def samples(self, request: Request) -> Response:
        answer, _ = await self._call("samples", {}, syntax="text")
        assert answer is not None  # a listing is never kept
        return JSONResponse(
            [
                {**sample, "url": request.url_for("sample_png", sample_id=sample["id"]).path}
                for sample in answer.value
            ],
            headers=_NO_STORE,
        )

    async def create_run(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            sample_id = _sample_id(await _read_body(request, MAX_JSON_BYTES))
            return await self._answer(
                request, "run_sample", {"sample_id": sample_id}, syntax="json", status_code=201
            )
        return await self._answer(
            request,
            "run_image",
            {},
            [await self._image_body(request)],
            syntax="json",
            status_code=201,
        )

    async def _image_body(self, request: Request) -> bytes:
        """An uploaded image's bytes: a multipart ``image`` field or the raw body."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            limit = self.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
            return await _multipart_image(request, await _read_body(request, limit))
        return await _read_body(request, self.max_upload_bytes)

    async def create_latent_run(self, request: Request) -> Response:
        """``POST /api/latent-runs`` with JSON ``{"z": [...]}`` or ``{"seed": n}`` (or ``{}``)."""
        body = await _read_body(request, MAX_JSON_BYTES)
        try:
            params = json.loads(body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            params = None
        if not isinstance(params, dict):
            raise ApiError(400, 'A latent run request looks like {"z": [0.1, ...]} or {"seed": 7}.')
        return await self._answer(request, "run_latent", params, syntax="json", status_code=201)

    async def create_verdict(self, request: Request) -> Response:
        """``POST /api/verdicts`` with an image: the discriminator's verdict on it."""
        return await self._answer(
            request, "judge_image", {}, [await self._image_body(request)], syntax="json"
        )


@dataclass(frozen=True)
class _Body:
    """An answer's bytes as sent: media type and, when gzipped, its Content-Encoding."""

    data: bytes
    media_type: str | None
    headers: Mapping[str, str]

    @classmethod
    def of(cls, data: bytes, media_type: str | None, *, gzipped: bool) -> _Body:
        if len(data) < _GZIP_MIN_BYTES:
            return cls(data, media_type, {})
        vary = {"Vary": "Accept-Encoding"}
        if not gzipped:
            return cls(data, media_type, vary)
        # mtime 0: the same answer is the same bytes on every worker and host
        packed = gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
        return cls(packed, media_type, {**vary, "Content-Encoding": "gzip"})


def _lasting_key(method: str, params: Mapping[str, Any], gzipped: bool) -> str | None:
    """The cache key of an answer that never changes for its parameters, else None."""
    if method not in _LASTING_METHODS:
        return None
    return json.dumps([method, sorted(params.items()), gzipped])


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
    except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep, a 5,000-digit number
        request = None
    if not isinstance(request, dict) or not isinstance(request.get("sample"), str):
        raise ApiError(400, 'A JSON run request looks like {"sample": "<sample id>"}.')
    sample: str = request["sample"]
    return sample


def _json_bytes(content: Any) -> bytes:
    """JSON as Starlette's JSONResponse writes it (compact, UTF-8, no NaN)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
        "utf-8"
    )


def _page(assets: Path) -> Callable[[Request], Any]:
    async def page(request: Request) -> Response:
        index = assets / "index.html"
        if not index.is_file():
            return PlainTextResponse(
                "The front end is not built: run `npm run build` in frontend/.", status_code=503
            )
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
        return PlainTextResponse(error.detail, status_code=error.status_code, headers=error.headers)
    detail = error.detail
    if not isinstance(error, ApiError) and error.status_code in (404, 405):  # no such route
        detail = f"{detail}: {request.method} {request.url.path} is not part of the API."
    return JSONResponse({"error": detail}, status_code=error.status_code, headers=error.headers)


async def _server_error(request: Request, error: Exception) -> Response:
    bug = report_bug(f"{request.method} {request.url.path}", error)
    return JSONResponse({"error": bug.sentence}, status_code=bug.status)
