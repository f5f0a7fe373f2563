"""The local discovery queue: a Redis stream with a consumer group.

Unacked messages stay in the group's pending list; once idle longer than the visibility timeout they are claimed
again by the next receiver, and after ``max_deliveries`` they move to a dead-letter stream. Acked messages are
deleted so the stream holds only work not yet done.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError, ResponseError

from core.errors import QueueError
from core.models import Discovery
from core.queue.base import Message, QueueStats
from core.redis import connect, open_redis
from core.settings import Settings

STREAM = "changelogs:discovered"
GROUP = "crawlers"


@contextlib.contextmanager
def _map_errors() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise QueueError(f"redis: {exc}") from exc


class RedisStreamQueue:
    """``DiscoveryQueue`` on a Redis stream."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        stream: str = STREAM,
        group: str = GROUP,
        visibility_timeout_s: float = 600,
        max_deliveries: int = 5,
        consumer: str | None = None,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.dead = f"{stream}:dead"
        self.group = group
        self.visibility_timeout_ms = int(visibility_timeout_s * 1000)
        self.max_deliveries = max_deliveries
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._group_ready = False

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RedisStreamQueue:
        # redis:// alone means "the Redis at REDIS_URL"; a full URL names another server.
        parts = urlsplit(url)
        client = connect(url.split("?")[0]) if parts.netloc or parts.path.strip("/") else open_redis(settings)
        stream = parse_qs(parts.query).get("stream", [STREAM])[0]
        return cls(
            client,
            stream=stream,
            visibility_timeout_s=settings.queue_visibility_timeout_s,
            max_deliveries=settings.queue_max_deliveries,
        )

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        with _map_errors():
            try:
                # From id 0: messages published before any consumer existed are delivered too.
                await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._group_ready = True

    async def publish(self, discoveries: list[Discovery]) -> None:
        if not discoveries:
            return
        await self._ensure_group()
        with _map_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for discovery in discoveries:
                    pipe.xadd(self.stream, {"data": discovery.model_dump_json()})
                await pipe.execute()

    async def receive(self, *, max_messages: int, wait_s: float) -> list[Message]:
        await self._ensure_group()
        with _map_errors():
            messages = await self._reclaim(max_messages)
            if len(messages) < max_messages:
                block = int(wait_s * 1000) if wait_s > 0 and not messages else None
                reply = await self.redis.xreadgroup(
                    self.group, self.consumer, {self.stream: ">"}, count=max_messages - len(messages), block=block
                )
                for _, entries in reply or []:
                    for msg_id, fields in entries:
                        message = await self._decode(msg_id, fields, deliveries=1)
                        if message:
                            messages.append(message)
        return messages

    async def _reclaim(self, limit: int) -> list[Message]:
        pending = await self.redis.xpending_range(
            self.stream, self.group, min="-", max="+", count=limit, idle=self.visibility_timeout_ms
        )
        if not pending:
            return []
        expired = [p["message_id"] for p in pending if p["times_delivered"] >= self.max_deliveries]
        for msg_id in expired:
            entries = await self.redis.xrange(self.stream, msg_id, msg_id)
            raw = entries[0][1].get(b"data", b"") if entries else b""
            await self._dead_letter(msg_id, raw, reason=f"not acked after {self.max_deliveries} deliveries")
        retry = {p["message_id"]: p["times_delivered"] for p in pending if p["message_id"] not in expired}
        if not retry:
            return []
        claimed = await self.redis.xclaim(
            self.stream, self.group, self.consumer, self.visibility_timeout_ms, list(retry)
        )
        messages = []
        for msg_id, fields in claimed:
            if fields is None:  # deleted while pending
                await self.redis.xack(self.stream, self.group, msg_id)
                continue
            message = await self._decode(msg_id, fields, deliveries=retry[msg_id] + 1)
            if message:
                messages.append(message)
        return messages

    async def _decode(self, msg_id: bytes, fields: dict[bytes, bytes], *, deliveries: int) -> Message | None:
        raw = fields.get(b"data", b"")
        try:
            discovery = Discovery.model_validate_json(raw)
        except ValidationError as exc:
            await self._dead_letter(msg_id, raw, reason=f"malformed: {exc.errors()[0]['msg']}")
            return None
        return Message(receipt=msg_id.decode(), discovery=discovery, deliveries=deliveries)

    async def _dead_letter(self, msg_id: bytes | str, raw: bytes, *, reason: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead, {"data": raw, "reason": reason, "id": msg_id})
            pipe.xack(self.stream, self.group, msg_id)
            pipe.xdel(self.stream, msg_id)
            await pipe.execute()

    async def ack(self, messages: list[Message]) -> None:
        if not messages:
            return
        ids = [m.receipt for m in messages]
        with _map_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, *ids)
                pipe.xdel(self.stream, *ids)
                await pipe.execute()

    async def stats(self) -> QueueStats:
        await self._ensure_group()
        with _map_errors():
            length = await self.redis.xlen(self.stream)
            groups: list[dict[str, Any]] = await self.redis.xinfo_groups(self.stream)
            dead = await self.redis.xlen(self.dead)
        pending = next((g["pending"] for g in groups if g["name"] in (self.group, self.group.encode())), 0)
        return QueueStats(ready=length - pending, in_flight=pending, dead=dead)

    async def dead_letters(self, *, limit: int) -> list[str]:
        with _map_errors():
            entries = await self.redis.xrevrange(self.dead, count=limit)
        return [fields.get(b"data", b"").decode("utf-8", "replace") for _, fields in entries]

    async def aclose(self) -> None:
        await self.redis.aclose()
