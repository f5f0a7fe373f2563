"""The FastAPI application: pages, the JSON API and search. ``api.asgi`` wraps it with socket.io."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import socketio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from api.live import LiveFeed
from api.routes import health, pages, repos, search
from api.services import Services
from core.errors import NotFound, QueueError, RateLimited, StoreError
from core.feed import CrawlFeed
from core.queue import open_queue
from core.search import build_index
from core.settings import Settings
from core.store import open_artifacts, open_records

logger = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parents[1] / "web"
SOCKET_IO_DIST = WEB / "node_modules" / "socket.io-client" / "dist"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def create_app(settings: Settings, sio: socketio.AsyncServer) -> FastAPI:
    """The api for ``settings``; ``sio`` is the socket.io server that ``api.asgi`` puts in front of it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        records = open_records(settings)
        services = Services(
            settings=settings,
            records=records,
            artifacts=open_artifacts(settings),
            feed=CrawlFeed.open(settings),
            queue=open_queue(settings),
            search=await build_index(records),
        )
        app.state.services = services
        live = LiveFeed(sio, services.feed, services.search)
        relay = asyncio.create_task(live.relay(), name="crawled-relay")
        try:
            yield
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            await services.aclose()

    app = FastAPI(
        title="changelogs",
        description="Release notes of npm, PyPI and RubyGems packages, crawled from GitHub.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(repos.router)
    app.include_router(pages.router)
    # The socket.io browser client comes from the npm registry (`npm ci` in web/), never from a CDN.
    app.mount("/static/vendor", StaticFiles(directory=SOCKET_IO_DIST, check_dir=False), name="vendor")
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return JSONResponse({"detail": str(exc.args[0] if exc.args else "not found")}, status_code=404)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        return JSONResponse({"detail": "rate limited"}, status_code=503, headers={"Retry-After": "60"})

    @app.exception_handler(StoreError)
    @app.exception_handler(QueueError)
    async def unavailable(request: Request, exc: Exception) -> Response:
        logger.error("backend unavailable: %s", exc)
        return JSONResponse({"detail": "temporarily unavailable"}, status_code=503, headers={"Retry-After": "5"})

    return app
