"""HTTP behaviour every fake shares: JSON bodies, ETag/304, ``Link`` pagination, and the edge in front of each app
that counts requests and injects latency, stalls, errors, rate limits, malformed and truncated bodies."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from sandbox.control import Control

CONTROL_PREFIX = "/_sandbox/"


def dump(data: Any) -> bytes:
    """Compact JSON, as the registries send it."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def etag_of(body: bytes) -> str:
    """A strong, quoted ETag for ``body``."""
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def matches_etag(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for If-None-Match)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    return any(t.strip() == "*" or t.strip().removeprefix("W/") == wanted for t in header.split(","))


def conditional(
    request: Request,
    body: bytes,
    *,
    media_type: str = "application/json; charset=utf-8",
    headers: dict[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    """A 200 carrying ``body`` and its ETag, or a bodiless 304 when the client already holds that ETag."""
    tag = etag or etag_of(body)
    all_headers = {**(headers or {}), "ETag": tag}
    if matches_etag(request, tag):
        return Response(status_code=304, headers=all_headers)
    return Response(body, media_type=media_type, headers=all_headers)


def json_error(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON error answer."""
    return Response(dump(data), status_code=status, media_type="application/json; charset=utf-8", headers=headers)


def link_header(url: str, params: dict[str, Any], *, page: int, last: int) -> str | None:
    """GitHub's ``Link`` header for ``page`` of ``last`` (None on a single page), keeping the other parameters."""
    if last <= 1:
        return None

    def ref(number: int, rel: str) -> str:
        return f'<{url}?{urlencode({**params, "page": number})}>; rel="{rel}"'

    links = []
    if page > 1:
        links.append(ref(min(page - 1, last), "prev"))
    if page < last:
        links.append(ref(page + 1, "next"))
    links.append(ref(last, "last"))
    if page > 1:
        links.append(ref(1, "first"))
    return ", ".join(links)


def _default_rate_limited(scope: Scope, retry_after: int) -> Response:
    return PlainTextResponse("Too Many Requests", status_code=429, headers={"Retry-After": str(retry_after)})


def _default_error(status: int, retry_after: int) -> Response:
    headers = {"Retry-After": str(retry_after)} if status in {429, 503} else None
    return PlainTextResponse(f"{status} upstream error", status_code=status, headers=headers)


class Edge:
    """What sits in front of every fake: request counting, then the service's configured faults.

    ``rate_limited(scope, retry_after)`` builds the service's own rate-limit answer and ``error(status,
    retry_after)`` its error pages. Requests under ``/_sandbox/`` pass untouched and uncounted.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        control: Control,
        rate_limited: Callable[[Scope, int], Response] = _default_rate_limited,
        error: Callable[[int, int], Response] = _default_error,
    ) -> None:
        self.app = app
        self.service = service
        self.control = control
        self.rate_limited = rate_limited
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        stats = self.control.stats[self.service]
        stats.requests += 1

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.control.stats[self.service].statuses[str(message["status"])] += 1
            await send(message)

        faults = self.control.faults[self.service]
        rng = self.control.rng
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        roll = rng.random()
        if roll < faults.stall_rate:
            stats.faults["stall"] += 1
            await asyncio.sleep(faults.stall_s)
        elif roll < faults.stall_rate + faults.error_rate:
            stats.faults["error"] += 1
            status = rng.choice(faults.error_statuses)
            await self.error(status, faults.retry_after_s)(scope, receive, counting_send)
            return
        elif roll < faults.stall_rate + faults.error_rate + faults.rate_limit_rate:
            stats.faults["rate_limited"] += 1
            await self.rate_limited(scope, faults.retry_after_s)(scope, receive, counting_send)
            return
        roll = rng.random()
        if roll < faults.malformed_rate:
            await self._mangle(scope, receive, counting_send, stats, "malformed")
        elif roll < faults.malformed_rate + faults.truncate_rate:
            await self._mangle(scope, receive, counting_send, stats, "truncated")
        else:
            await self.app(scope, receive, counting_send)
        # Handlers that route by hand name themselves in "sandbox.route"; otherwise the matched route's name.
        route = scope.get("sandbox.route") or getattr(scope.get("route"), "name", None)
        if route is not None:
            stats.routes[route] += 1

    async def _mangle(self, scope: Scope, receive: Receive, send: Send, stats: Any, how: str) -> None:
        """Run the app, then spoil a 200's body: garbage in the middle, or a connection cut halfway."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        assert start is not None
        body = b"".join(chunks)
        if start["status"] != 200 or len(body) < 2:
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        stats.faults[how] += 1
        half = len(body) // 2
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        if how == "malformed":
            body = body[:half] + b'<!-- upstream hiccup -->}]"' + body[half:]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        # Promise the whole body, send half, and return: the server drops the connection mid-body.
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body[:half], "more_body": True})
