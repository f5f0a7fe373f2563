"""Writing one event to many websocket browsers cheaply.

python-socketio sends each packet through the connection's Engine.IO queue and writer, which on Python 3.11
costs a task and a timer per packet (``asyncio.wait_for``): ~100 µs of CPU per delivery, so one process cannot
send 20 events a second to 1,000 browsers. ``Fanout`` sits in front of the socket.io ASGI app, remembers each
websocket's ASGI ``send`` under its Engine.IO session id (read from the handshake packet the server sends
first), and gives every connection a small queue and writer of its own. A broadcast puts the already encoded
frame on each queue: a slow or stalled browser only backs up its own queue (and is dropped from the fan-out when
that passes ``MAX_BACKLOG``), never the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Coroutine, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

MAX_BACKLOG = 500


class _Peer:
    """One websocket: frames are written at once while it keeps up, queued behind a writer task when it does not."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.backlog: deque[str] = deque()
        self.writer: asyncio.Task[None] | None = None

    def push(self, text: str) -> None:
        if self.writer is not None:
            self.backlog.append(text)
            return
        # The ASGI send of a writable websocket completes without suspending: step it here rather than pay a task
        # wake-up per browser per event. If it does suspend (the transport is paused: a slow browser), a task
        # finishes it and then writes whatever piled up meanwhile.
        sending = self.send({"type": "websocket.send", "text": text})
        try:
            waiting = sending.send(None)
        except StopIteration:
            return
        except Exception:
            return
        self.writer = asyncio.create_task(self._finish(sending, waiting))

    async def _finish(self, sending: Coroutine[Any, Any, None], waiting: Any) -> None:
        try:
            await _drive(sending, waiting)
            while self.backlog:
                await self.send({"type": "websocket.send", "text": self.backlog.popleft()})
        except Exception:
            self.backlog.clear()
        finally:
            self.writer = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.cancel()


async def _drive(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Run ``coro``, which was stepped by hand and yielded ``waiting``, to its end, as a task would have."""
    try:
        while True:
            if waiting is None:  # a bare yield: give the loop one turn
                await asyncio.sleep(0)
                result = coro.send(None)
            else:
                try:
                    await waiting
                except Exception as exc:
                    result = coro.throw(exc)
                else:
                    result = coro.send(None)
            waiting = result
    except StopIteration:
        return
    finally:
        coro.close()


class Fanout:
    """The websockets of this process by Engine.IO session, and ``broadcast`` to them; ``wrap`` puts it in front of
    the socket.io ASGI app."""

    def __init__(self, *, path: str = "/socket.io/") -> None:
        self.path = path
        self.peers: dict[str, _Peer] = {}

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` with each of its socket.io websockets registered here while it is open."""

        async def fanout(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "websocket" or not scope["path"].startswith(self.path):
                await app(scope, receive, send)
                return
            sid: str | None = None

            async def watching_send(message: Message) -> None:
                nonlocal sid
                text = message.get("text")
                if sid is None and message["type"] == "websocket.send" and text and text.startswith("0{"):
                    sid = json.loads(text[1:]).get("sid")
                    if sid:
                        self.peers[sid] = _Peer(send)
                await send(message)

            try:
                await app(scope, receive, watching_send)
            finally:
                peer = self.peers.pop(sid, None) if sid else None
                if peer is not None:
                    peer.close()

        return fanout

    def broadcast(self, text: str, sids: Iterable[str]) -> int:
        """Queue the Engine.IO frame ``text`` for each session in ``sids``; returns how many got it."""
        sent = 0
        for sid in sids:
            peer = self.peers.get(sid)
            if peer is None:
                continue
            if len(peer.backlog) >= MAX_BACKLOG:
                logger.warning("dropping %s from the live feed: %d events unsent", sid, len(peer.backlog))
                peer.close()
                del self.peers[sid]
                continue
            peer.push(text)
            sent += 1
        return sent
