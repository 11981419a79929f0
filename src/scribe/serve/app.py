"""The ASGI app of ``scribe serve``: the page, its assets, and the JSON API it (or any client) calls.

Routes (described for clients in :mod:`scribe.serve.openapi`, served at
``/api/openapi.json``): ``POST /api/write`` streams a writing as lines of JSON;
``GET /api/documents/{id}/{download}`` gives the finished document as a file;
``GET /api/previews/{model}/{style}.svg`` a style's preview; ``GET /api/info`` what
the server offers. No client input ever names a file: assets come from a fixed
table, models from the registry, documents from ids the server made.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from scribe.errors import ScribeError
from scribe.writing.document import Document, Scribe
from scribe.writing.formats import FORMATS
from scribe.writing.layout import PageSetup
from scribe.writing.sampling import DEFAULT_BIAS, DEFAULT_CANDIDATES

from .jobs import Busy, WritingService
from .openapi import openapi_document
from .requests import PAGE_CHOICES, Limits, parse_json, write_request, writer_names

#: The page's files: name -> media type. Nothing outside this table is served.
ASSETS = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
#: Downloads: name -> (output format, render options, media type, file name).
DOWNLOADS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "svg": ("svg", {}, "image/svg+xml", "handwriting.svg"),
    "png": ("png", {}, "image/png", "handwriting.png"),
    "pdf": ("pdf", {}, "application/pdf", "handwriting.pdf"),
    "gcode": ("gcode", {}, "text/plain; charset=utf-8", "handwriting.gcode"),
    "animated-svg": ("svg", {"animate": True}, "image/svg+xml", "handwriting-animated.svg"),
    "gif": ("gif", {}, "image/gif", "handwriting.gif"),
}
PREVIEW_TEXT = "Handwriting 123"
#: The page runs only its own script and style sheet; pictures may be the ones it makes (blob: and data: URLs).
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                    "base-uri 'none'; frame-ancestors 'none'", "X-Content-Type-Options": "nosniff"}


class HTTPProblem(Exception):
    """A request the server refuses: its status and a one-line reason for the client."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers or {}


#: The names a browser may call this server by when it listens on the loopback: anything else in a request's
#: Host is refused, so that a web page elsewhere cannot reach it by pointing its own domain here (DNS rebinding).
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def create_app(service: WritingService | None = None, hosts: list[str] | None = None) -> Starlette:
    """The app, its models loaded; ``hosts``: the Host names it answers (default: :data:`LOOPBACK_HOSTS`; ``["*"]``: any)."""
    service = service or WritingService()
    styles = {name: len(service.scribe(name).styles) for name in writer_names()}  # loaded before the first request
    routes = [
        Route("/", lambda request: _asset("index.html")),
        Route("/assets/{name}", lambda request: _asset(request.path_params["name"])),
        Route("/api/info", _info),
        Route("/api/openapi.json", lambda request: JSONResponse(openapi_document(list(DOWNLOADS)))),
        Route("/api/write", _write, methods=["POST"]),
        Route("/api/documents/{document_id}/{download}", _download),
        Route("/api/previews/{model}/{style:int}.svg", _preview),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPProblem: _problem, ScribeError: _refused, Busy: _busy},
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts or LOOPBACK_HOSTS)])
    app.state.service = service
    app.state.styles = styles
    app.state.previews = {}
    return app


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=exc.headers)


async def _refused(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _busy(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"the server is busy: {exc}"}, status_code=503, headers={"Retry-After": "2"})


def _asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPProblem(404, f"no such file: {name[:60]!r}")
    content = (resources.files("scribe.serve") / "page" / name).read_bytes()
    return Response(content, media_type=ASSETS[name], headers=SECURITY_HEADERS)


def _service(request: Request) -> WritingService:
    service: WritingService = request.app.state.service
    return service


async def _info(request: Request) -> Response:
    limits = _service(request).limits
    return JSONResponse({
        "models": [{"name": name, "styles": count} for name, count in request.app.state.styles.items()],
        "pages": list(PAGE_CHOICES),
        "downloads": list(DOWNLOADS),
        "defaults": {"bias": DEFAULT_BIAS, "candidates": DEFAULT_CANDIDATES, "line_spacing": PageSetup.line_spacing,
                     "ink": PageSetup.ink},
        "limits": {"text_chars": limits.text_chars, "pages": limits.pages, "sample_points": limits.sample_points,
                   "body_bytes": limits.body_bytes, "candidates": limits.candidates},
    })


async def read_body(request: Request, limits: Limits) -> bytes:
    """The request's body, refused (413) as soon as it passes ``limits.body_bytes``, or (408) when it comes too slowly."""
    declared = request.headers.get("content-length", "")
    too_big = HTTPProblem(413, f"the request is over {limits.body_bytes:,} bytes")
    if declared.isdigit() and int(declared) > limits.body_bytes:
        raise too_big

    async def chunks() -> bytes:
        parts, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.body_bytes:
                raise too_big
            parts.append(chunk)
        return b"".join(parts)

    try:
        return await asyncio.wait_for(chunks(), limits.body_seconds)
    except asyncio.TimeoutError:
        raise HTTPProblem(408, f"the request's body took over {limits.body_seconds:g} s to arrive") from None


async def _write(request: Request) -> Response:
    service = _service(request)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        # A form or text/plain POST, which any web page may send here without asking, is not a writing.
        raise HTTPProblem(415, "send the request as JSON, with Content-Type: application/json")
    writing = write_request(parse_json(await read_body(request, service.limits)), service.limits)
    service.admit()
    return StreamingResponse(service.events(writing), media_type="application/x-ndjson",
                             headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


async def _download(request: Request) -> Response:
    service = _service(request)
    kept = service.kept(request.path_params["document_id"])
    if kept is None:
        raise HTTPProblem(404, f"no such document; the server keeps the last {service.limits.documents} it wrote: write it again")
    name = request.path_params["download"]
    if name not in DOWNLOADS:
        raise HTTPProblem(404, f"no download {name[:40]!r}; choose one of {', '.join(DOWNLOADS)}")
    fmt, options, media_type, filename = DOWNLOADS[name]
    page = _page_number(request.query_params.get("page", "1"), kept.document)
    fit = kept.page == "auto" and FORMATS[fmt].fit_by_default and len(kept.document.pages) == 1
    service.admit()
    files = await service.run(lambda: kept.document.render(fmt, fit=fit, **options))
    content = files[page - 1] if len(files) > 1 else files[0]
    if len(files) > 1:
        filename = filename.replace(".", f"-{page}.", 1)
    return Response(content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _page_number(value: str, document: Document) -> int:
    if not value.isdigit() or not 1 <= int(value) <= len(document.pages):
        raise HTTPProblem(400, f"page {value[:12]!r} does not exist; the document has pages 1 to {len(document.pages)}")
    return int(value)


async def _preview(request: Request) -> Response:
    model, style = request.path_params["model"], request.path_params["style"]
    if model not in writer_names():
        raise HTTPProblem(404, f"unknown model {model[:40]!r}; choose one of {', '.join(writer_names())}")
    previews: dict[tuple[str, int], bytes] = request.app.state.previews
    if (model, style) not in previews:
        service = _service(request)
        service.admit()
        previews[model, style] = await service.run(lambda: _preview_svg(service.scribe(model), style))
    return Response(previews[model, style], media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


def _preview_svg(scribe: Scribe, style: int) -> bytes:
    """``style`` writing :data:`PREVIEW_TEXT`, cropped to its ink."""
    setup = PageSetup(size=(120.0, 30.0), margin=3.0, line_spacing=10.0)
    document = scribe.write(PREVIEW_TEXT, style=style, setup=setup, seed=1)  # verified, as the style will write
    return document.render("svg", fit=True)[0]
