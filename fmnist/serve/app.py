"""The HTTP service: one shared `Classifier` behind POST /predict, a web page, /healthz, /metrics, and
the Open Inference Protocol's routes (`fmnist.serve.inference_protocol`).

Every answer is JSON except the page and /metrics. A bad request gets a 4xx and
``{"error": ...}``, never a traceback; in a multipart request the good images are answered
and each bad one carries its own error. Bodies over `max_bytes` are refused from their
Content-Length, or as soon as a body sent without one grows past it; headers over
`MAX_HEADER_BYTES` get 431. A large photo or several are decoded and classified in a worker
thread, so a slow client or a large photo never blocks the event loop; one small photo, decoded
in well under a millisecond, is answered on the loop itself (the hop to a thread and back costs
more than that).
"""

from __future__ import annotations

import hmac
import io
import json
import os
import time
from importlib import resources
from typing import Any

import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fmnist.errors import InputError
from fmnist.runtime import inputs
from fmnist.runtime.classifier import Classifier
from fmnist.serve import inference_protocol
from fmnist.serve.bodies import Refused, read_body
from fmnist.serve.metrics import Metrics

SETTINGS = "FMNIST_SERVE_SETTINGS"  # what each worker process of `fmnist serve --workers N` serves, as JSON
MAX_BYTES = 10 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_FILES = 64
INLINE_BYTES = 64 * 1024  # one small photo is decoded on the event loop (~0.5 ms), all else in a worker thread
INLINE_PIXELS = 256 * 256  # as it decodes (a JPEG at its reduced scale)
IMAGE_TYPES = ("image/", "application/octet-stream")


class Counted:
    """ASGI middleware: every HTTP answer counted by path (other paths as one) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, paths: set[str]):
        self.app, self.metrics, self.paths = app, metrics, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"] if scope["path"] in self.paths else "other"

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.requests.labels(path, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counted)


class HeaderLimit:
    """ASGI middleware: 431 for a request whose headers add up to over `limit` bytes, whatever parsed them."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and sum(len(name) + len(value) + 4 for name, value in scope["headers"]) > self.limit:
            refusal = JSONResponse({"error": f"the headers are over the {self.limit:,}-byte limit"}, status_code=431)
            return await refusal(scope, receive, send)
        await self.app(scope, receive, send)


def _top_k(request: Request) -> int:
    value = request.query_params.get("top_k", "3")
    if not value.isdigit() or not 1 <= int(value) <= 10:
        raise Refused(400, f"top_k must be a whole number from 1 to 10, not {value!r}")
    return int(value)


async def _uploads(request: Request, limit: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each image in the request: the raw body, or each `file` part."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind.startswith(IMAGE_TYPES):
        body = await read_body(request, limit)
        if not body:
            raise Refused(400, "the body is empty: send an image, or multipart/form-data with `file` parts")
        return [("body", body)]
    if kind != "multipart/form-data":
        raise Refused(
            415,
            f"unsupported Content-Type {kind or 'none'!r}: "
            "send image/*, application/octet-stream or multipart/form-data",
        )
    body = await read_body(request, limit)  # the size limit holds before the parser sees the parts

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=MAX_FILES, max_fields=MAX_FILES, max_part_size=limit)
    except HTTPException as exc:
        raise Refused(400, f"a malformed multipart body: {exc.detail}") from None
    files = [part for part in form.getlist("file") if isinstance(part, UploadFile)]
    if not files:
        raise Refused(400, "the multipart body has no part named `file`")
    return [(part.filename or f"file{i + 1}", await part.read()) for i, part in enumerate(files)]


def _small(uploads: list[tuple[str, bytes]]) -> bool:
    """Whether a request is one photo small enough to decode on the event loop without holding it up."""
    if len(uploads) != 1 or len(uploads[0][1]) > INLINE_BYTES:
        return False
    size = inputs.decoded_pixels(uploads[0][1])
    return size is not None and size <= INLINE_PIXELS


def _classify(classifier: Classifier, uploads: list[tuple[str, bytes]], k: int, pixels: bool) -> list[dict]:
    """One result per upload, in order: its classes, or the error that kept it from being read."""
    decoded: list[np.ndarray] = []
    results: list[dict[str, Any]] = []
    for name, data in uploads:
        try:
            decoded.append(inputs.decode(io.BytesIO(data), name))
            results.append({"file": name})
        except InputError as exc:
            results.append({"file": name, "error": str(exc).removeprefix(f"{name}: ")})
    good = [r for r in results if "error" not in r]
    if good:
        batch = np.stack(decoded)
        for result, image, answer in zip(good, batch, classifier.answers(batch, k), strict=True):
            result |= answer
            if pixels:
                result["pixels"] = image.reshape(-1).tolist()
    return results


def create_app(
    classifier: Classifier,
    *,
    api_key: str | None = None,
    cors_origin: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_batch: int = inference_protocol.MAX_BATCH,
) -> Starlette:
    """The service around one loaded classifier: `/predict` for photos, the Open Inference Protocol for tensors."""
    metrics, started = Metrics(), time.monotonic()
    about: dict[str, object] = {
        "model": classifier.path.name,
        "runtime": classifier.runtime,
        "precision": classifier.precision,
    }
    page = resources.files("fmnist.serve").joinpath("page.html").read_text()

    def authorised(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            raise Refused(401, "an API key is needed: send the header Authorization: Bearer KEY")

    protocol = inference_protocol.InferenceProtocol(classifier, authorised, metrics, max_bytes, max_batch)

    async def predict(request: Request) -> Response:
        begun = time.perf_counter()
        authorised(request)
        k = _top_k(request)
        uploads = await _uploads(request, max_bytes)
        pixels = request.query_params.get("pixels") == "1"
        if _small(uploads):  # faster where it is, than a hop to a worker thread and back
            results = _classify(classifier, uploads, k, pixels)
        else:
            results = await run_in_threadpool(_classify, classifier, uploads, k, pixels)
        if (
            len(uploads) == 1
            and "error" in results[0]
            and request.headers.get("content-type", "").startswith(IMAGE_TYPES)
        ):
            raise Refused(400, results[0]["error"])
        metrics.images.inc(sum("error" not in r for r in results))
        metrics.latency.observe(time.perf_counter() - begun)
        return JSONResponse({**about, "results": results})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", **about, "uptime_s": round(time.monotonic() - started, 1)})

    async def exposition(request: Request) -> Response:
        authorised(request)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def index(request: Request) -> Response:
        return HTMLResponse(page.replace("{{API_KEY_NEEDED}}", "true" if api_key else "false"))

    async def refused(request: Request, exc: Exception) -> Response:
        if isinstance(exc, Refused):
            status, message = exc.status, exc.message
        else:
            assert isinstance(exc, HTTPException)
            status, message = (
                exc.status_code,
                {404: "no such path", 405: "method not allowed"}.get(exc.status_code, exc.detail),
            )
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    routes = [
        Route("/predict", predict, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", exposition, methods=["GET"]),
        Route("/", index, methods=["GET"]),
        *protocol.routes(),
    ]
    middleware = [
        Middleware(Counted, metrics=metrics, paths={r.path for r in routes if "{" not in r.path} | protocol.paths),
        Middleware(HeaderLimit, limit=MAX_HEADER_BYTES),
    ]
    if cors_origin:
        middleware.append(
            Middleware(
                CORSMiddleware, allow_origins=[cors_origin], allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )  # fmt: skip
    return Starlette(
        routes=routes, middleware=middleware, exception_handlers={Refused: refused, HTTPException: refused}
    )


def from_environment() -> Starlette:
    """The app of one worker process of `fmnist serve --workers N`: the model file and options its parent
    chose, read from `SETTINGS` in the environment."""
    settings = json.loads(os.environ[SETTINGS])
    classifier = Classifier(settings.pop("model"), settings.pop("threads"))
    return create_app(classifier, **settings)
