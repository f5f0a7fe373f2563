"""The socket.io side of the api: greets browsers, relays crawled events, and catches reconnecting ones up.

Each api process reads the crawled stream itself (no socket.io Redis manager), so every browser on every process
gets each event once, and events carry their stream id so a browser that reconnects (after a network blip or an
api restart) asks for what came after the last one it showed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from api.fanout import Fanout
from api.indexing import IndexKeeper
from core.errors import QueueError
from core.feed import CrawlFeed
from core.models import CrawledEvent

logger = logging.getLogger(__name__)

CATCH_UP_LIMIT = 50
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def create_socket_server() -> socketio.AsyncServer:
    """A socket.io server on the websocket transport only: no sticky sessions behind a load balancer."""
    return socketio.AsyncServer(async_mode="asgi", transports=["websocket"], cors_allowed_origins=[])


def payload(event: CrawledEvent) -> dict[str, Any]:
    """The ``crawled_repo`` event as browsers get it: the seed's fields plus ``id``."""
    return event.model_dump(mode="json")


class LiveFeed:
    """Binds the socket.io server to the crawled stream."""

    def __init__(self, sio: socketio.AsyncServer, fanout: Fanout, feed: CrawlFeed, keeper: IndexKeeper) -> None:
        self.sio = sio
        self.fanout = fanout
        self.feed = feed
        self.keeper = keeper
        self.last_id = "0-0"  # the newest event relayed
        sio.on("connect", self._connect)
        sio.on("catch_up", self._catch_up)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await self.sio.emit("welcome", {"last_id": self.last_id}, to=sid)

    async def _catch_up(self, sid: str, data: Any) -> None:
        after = data.get("after") if isinstance(data, dict) else None
        if not isinstance(after, str) or not _STREAM_ID.match(after):
            return
        try:
            # A page shows the newest crawls: after a long absence, the newest of what it missed.
            missed = await self.feed.since(after, limit=CATCH_UP_LIMIT, newest=True)
        except QueueError:
            logger.warning("catch-up after %s failed", after)
            return
        for event in missed:
            await self.sio.emit("crawled_repo", payload(event), to=sid)

    def broadcast(self, name: str, data: dict[str, Any]) -> int:
        """Send one event to every browser of this process (through ``Fanout``: encoded once, queued per
        connection); returns how many connections it was queued for."""
        encoded = sio_packet.Packet(sio_packet.EVENT, namespace="/", data=[name, data]).encode()
        frame = eio_packet.Packet(eio_packet.MESSAGE, encoded).encode()
        return self.fanout.broadcast(frame, (eio_sid for _, eio_sid in self.sio.manager.get_participants("/", None)))

    async def start(self) -> None:
        """Take the stream's current position: the relay sends what comes after it."""
        self.last_id = await self.feed.last_id()

    async def relay(self) -> None:
        """Index and emit every new crawled event to every browser of this process, forever; survives Redis blips."""
        while True:
            try:
                async for event in self.feed.follow(self.last_id):
                    self.last_id = event.id or self.last_id
                    self.broadcast("crawled_repo", payload(event))
                    await self.keeper.apply(event)
            except QueueError:
                logger.exception("crawled feed unavailable; retrying")
                await asyncio.sleep(1)
