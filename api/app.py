"""The FastAPI application: pages, the JSON API and search. ``api.asgi`` wraps it with socket.io."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import socketio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.crawl_requests import CrawlRequests
from api.fanout import Fanout
from api.indexing import IndexKeeper
from api.live import LiveFeed
from api.routes import health, pages, repos, search
from api.services import Services
from core.errors import NotFound, QueueError, RateLimited, StoreError
from core.feed import CrawlFeed
from core.pages import render_template
from core.queue import open_queue
from core.settings import Settings
from core.store import open_artifacts, open_records

logger = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parents[1] / "web"
SOCKET_IO_DIST = WEB / "node_modules" / "socket.io-client" / "dist"

_CACHE_STATIC = "public, max-age=300"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Adds the CSP and its companions to every HTTP response (plain ASGI: no per-request task or body copy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
                if static:
                    headers.setdefault("Cache-Control", _CACHE_STATIC)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings, sio: socketio.AsyncServer, fanout: Fanout) -> FastAPI:
    """The api for ``settings``; ``sio`` is the socket.io server that ``api.asgi`` puts in front of it, ``fanout``
    what the live feed broadcasts through."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        records = open_records(settings)
        artifacts = open_artifacts(settings)
        feed = CrawlFeed.open(settings)
        keeper = IndexKeeper(records, artifacts, feed)
        queue = open_queue(settings)
        services = Services(settings, records, artifacts, feed, queue, keeper, CrawlRequests(queue))
        live = LiveFeed(sio, fanout, feed, keeper)
        await live.start()  # before the index loads, so no crawl falls between the two
        await keeper.load()
        app.state.services = services
        tasks = [
            asyncio.create_task(live.relay(), name="crawled-relay"),
            asyncio.create_task(keeper.watch(), name="search-snapshots"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await services.aclose()

    app = FastAPI(
        title="changelogs",
        description="Release notes of npm, PyPI and RubyGems packages, crawled from GitHub.",
        version="0.1.0",
        lifespan=lifespan,
        # Swagger UI and ReDoc load scripts from a CDN, which the CSP forbids; the schema stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(repos.router)
    app.include_router(pages.router)
    # The socket.io browser client comes from the npm registry (`npm ci` in web/), never from a CDN.
    app.mount("/static/vendor", StaticFiles(directory=SOCKET_IO_DIST, check_dir=False), name="vendor")
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, "not found")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # The details name the parameter and the rule; the rejected input is not echoed back.
        details = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse({"detail": details}, status_code=422)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        return JSONResponse({"detail": "rate limited"}, status_code=503, headers={"Retry-After": "60"})

    @app.exception_handler(StoreError)
    @app.exception_handler(QueueError)
    async def unavailable(request: Request, exc: Exception) -> Response:
        logger.error("backend unavailable: %s", exc)
        return JSONResponse({"detail": "temporarily unavailable"}, status_code=503, headers={"Retry-After": "5"})

    return app


def _error(request: Request, status: int, detail: str, *, headers: dict[str, str] | None = None) -> Response:
    """JSON for the API, a page for a person."""
    path = request.url.path
    if path.startswith(("/api/", "/search", "/healthz", "/static/")) or "text/html" not in request.headers.get(
        "accept", ""
    ):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    html = render_template("error.html", site_url="", status=status, detail=detail)
    return Response(html, status_code=status, media_type="text/html; charset=utf-8", headers=headers)
