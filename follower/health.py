"""``GET /healthz`` of the follower: its status document as JSON; 200 while it progresses, 503 when stalled.

A few lines of asyncio rather than uvicorn: uvicorn installs its own SIGTERM handler for its whole process, and
the follower's clean stop depends on its own. The probe needs one route, no keep-alive and no body.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

logger = logging.getLogger(__name__)

_READ_TIMEOUT_S = 5.0
_MAX_HEAD_BYTES = 16 * 1024


async def serve_health(status: Callable[[], dict[str, Any]], *, host: str = "127.0.0.1", port: int) -> asyncio.Server:
    """Serve ``status()`` on ``http://host:port/healthz`` (port 0: any free port) until the server is closed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
            method, target, *_ = head[:_MAX_HEAD_BYTES].decode("latin-1").split(" ", 2)
            if method not in {"GET", "HEAD"}:
                code, doc = HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"}
            elif target.split("?")[0] != "/healthz":
                code, doc = HTTPStatus.NOT_FOUND, {"error": "not found"}
            else:
                doc = status()
                code = HTTPStatus.OK if doc.get("state") == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
            body = json.dumps(doc, default=str).encode()
            writer.write(
                f"HTTP/1.1 {code.value} {code.phrase}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n".encode()
                + (body if method != "HEAD" else b"")
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            pass  # a probe that hung up or sent garbage gets nothing
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, limit=_MAX_HEAD_BYTES)
    logger.info("follower: /healthz on port %d", server.sockets[0].getsockname()[1])
    return server
