"""Fanout: frames reach each websocket in order, at once while it keeps up, queued while it is paused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from api.fanout import MAX_BACKLOG, Fanout


class _Socket:
    """The ASGI side of one websocket: records what is sent; while ``paused``, a send waits (a full transport)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.closed = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        await self.writable.wait()
        self.sent.append(message["text"])


async def _connect(fanout: Fanout, sid: str, socket: _Socket) -> asyncio.Task[None]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.send", "text": "0" + json.dumps({"sid": sid, "pingInterval": 25000})})
        await socket.closed.wait()

    task = asyncio.create_task(fanout.wrap(app)({"type": "websocket", "path": "/socket.io/"}, None, socket.send))
    await asyncio.sleep(0)  # the handshake packet goes out on the task's first step
    assert sid in fanout.peers
    return task


async def test_frames_are_written_at_once_to_every_connection() -> None:
    fanout = Fanout()
    one, two = _Socket(), _Socket()
    tasks = [await _connect(fanout, "one", one), await _connect(fanout, "two", two)]
    assert fanout.broadcast('42["crawled_repo",{}]', ["one", "two", "gone"]) == 2
    assert one.sent[-1] == two.sent[-1] == '42["crawled_repo",{}]'  # no await in between: written synchronously
    one.closed.set()
    two.closed.set()
    await asyncio.gather(*tasks)
    assert fanout.peers == {}


async def test_a_paused_connection_gets_its_frames_in_order_later_and_holds_up_no_other() -> None:
    fanout = Fanout()
    slow, fast = _Socket(), _Socket()
    tasks = [await _connect(fanout, "slow", slow), await _connect(fanout, "fast", fast)]
    slow.writable.clear()
    for i in range(3):
        fanout.broadcast(f"42[{i}]", ["slow", "fast"])
    assert fast.sent[1:] == ["42[0]", "42[1]", "42[2]"]
    assert slow.sent[1:] == []
    slow.writable.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert slow.sent[1:] == ["42[0]", "42[1]", "42[2]"]
    fanout.broadcast("42[3]", ["slow"])
    assert slow.sent[-1] == "42[3]"
    for socket in (slow, fast):
        socket.closed.set()
    await asyncio.gather(*tasks)


async def test_a_connection_that_stops_reading_is_dropped_from_the_fan_out() -> None:
    fanout = Fanout()
    stuck = _Socket()
    task = await _connect(fanout, "stuck", stuck)
    stuck.writable.clear()
    for i in range(MAX_BACKLOG + 2):
        fanout.broadcast(f"42[{i}]", ["stuck"])
    assert "stuck" not in fanout.peers
    stuck.closed.set()
    await task
