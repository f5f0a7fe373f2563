"""The socket.io side of the api: greets browsers, relays crawled events, and catches reconnecting ones up.

Each api process reads the crawled stream itself (no socket.io Redis manager), so every browser on every process
gets each event exactly once, and events carry their stream id so a browser can ask for what it missed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio

from core.errors import QueueError
from core.feed import CrawlFeed
from core.models import CrawledEvent
from core.search import SearchIndex

logger = logging.getLogger(__name__)

CATCH_UP_LIMIT = 200


def create_socket_server() -> socketio.AsyncServer:
    """A socket.io server on the websocket transport only: no sticky sessions behind a load balancer."""
    return socketio.AsyncServer(async_mode="asgi", transports=["websocket"], cors_allowed_origins=[])


def _payload(event: CrawledEvent) -> dict[str, Any]:
    return event.model_dump(mode="json")


class LiveFeed:
    """Binds the socket.io server to the crawled stream."""

    def __init__(self, sio: socketio.AsyncServer, feed: CrawlFeed, search: SearchIndex) -> None:
        self.sio = sio
        self.feed = feed
        self.search = search
        sio.on("connect", self._connect)
        sio.on("catch_up", self._catch_up)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await self.sio.emit("welcome", to=sid)

    async def _catch_up(self, sid: str, data: Any) -> None:
        after = data.get("after") if isinstance(data, dict) else None
        if not isinstance(after, str) or not after or len(after) > 40:
            return
        try:
            missed = await self.feed.since(after, limit=CATCH_UP_LIMIT)
        except (QueueError, ValueError):
            logger.warning("catch-up after %r failed", after)
            return
        for event in missed:
            await self.sio.emit("crawled_repo", _payload(event), to=sid)

    async def relay(self) -> None:
        """Emit every new crawled event to every browser of this process, forever; survives Redis blips."""
        last = await self.feed.last_id()
        while True:
            try:
                async for event in self.feed.follow(last):
                    last = event.id or last
                    self.search.add_repo(event.changelog)
                    await self.sio.emit("crawled_repo", _payload(event))
            except QueueError:
                logger.exception("crawled feed unavailable; retrying")
                await asyncio.sleep(1)
