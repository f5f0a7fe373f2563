"""The live feed of crawls: a capped Redis stream plus the ``changelogs:crawled`` channel.

The crawler appends each ``crawled_repo`` event to the stream (its id is the event id) and publishes it on the
channel, which other consumers may subscribe to. API nodes read the stream, not the channel: a stream read
resumes from the last id seen, so neither an api restart nor a browser's reconnect leaves a gap.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError

from core.errors import QueueError
from core.models import CrawledEvent
from core.redis import open_redis
from core.settings import Settings

CHANNEL = "changelogs:crawled"
STREAM = "changelogs:feed"
MAXLEN = 10_000


@contextlib.contextmanager
def _map_errors() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise QueueError(f"redis: {exc}") from exc


_Entry = tuple[Any, Any]  # (id, fields) as redis-py returns them: bytes here (decode_responses is off)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(entries: Iterable[_Entry] | None) -> list[CrawledEvent]:
    """The events of stream entries; an entry that does not validate is skipped, never fatal."""
    events = []
    for entry_id, fields in entries or []:
        try:
            event = CrawledEvent.model_validate_json((fields or {}).get(b"data", b""))
        except ValidationError:
            continue
        events.append(event.model_copy(update={"id": _text(entry_id)}))
    return events


class CrawlFeed:
    """Publish and read ``crawled_repo`` events."""

    def __init__(self, redis: aioredis.Redis, *, stream: str = STREAM, channel: str = CHANNEL) -> None:
        self.redis = redis
        self.stream = stream
        self.channel = channel

    @classmethod
    def open(cls, settings: Settings) -> CrawlFeed:
        """The feed on the Redis at ``REDIS_URL``."""
        return cls(open_redis(settings))

    async def aclose(self) -> None:
        await self.redis.aclose()

    async def publish(self, event: CrawledEvent) -> CrawledEvent:
        """Append the event and announce it; returns it with its id."""
        with _map_errors():
            entry_id = await self.redis.xadd(
                self.stream, {"data": event.model_dump_json(exclude={"id"})}, maxlen=MAXLEN, approximate=True
            )
            stamped = event.model_copy(update={"id": _text(entry_id)})
            await self.redis.publish(self.channel, stamped.model_dump_json())
        return stamped

    async def recent(self, *, limit: int) -> list[CrawledEvent]:
        """The newest events, newest first."""
        with _map_errors():
            entries = await self.redis.xrevrange(self.stream, count=limit)
        return _decode(entries)

    async def since(self, after_id: str, *, limit: int = 1000, newest: bool = False) -> list[CrawledEvent]:
        """Events after ``after_id`` (exclusive), oldest first: what a reconnecting client missed. When more than
        ``limit`` came after it, the first ``limit`` of them, or with ``newest`` the last ``limit``."""
        with _map_errors():
            if newest:
                entries = await self.redis.xrevrange(self.stream, min=f"({after_id}", count=limit)
                return _decode(reversed(entries or []))
            entries = await self.redis.xrange(self.stream, min=f"({after_id}", count=limit)
        return _decode(entries)

    async def last_id(self) -> str:
        """The id of the newest event, or ``0-0`` when there is none."""
        with _map_errors():
            entries = await self.redis.xrevrange(self.stream, count=1)
        return _text(entries[0][0]) if entries else "0-0"

    async def follow(self, after_id: str, *, block_ms: int = 5000) -> AsyncIterator[CrawledEvent]:
        """Every event after ``after_id``, as it arrives, forever."""
        last = after_id
        while True:
            with _map_errors():
                reply = await self.redis.xread({self.stream: last}, block=block_ms, count=500)
            for stream_entries in reply or []:
                entries: list[_Entry] = list(stream_entries[1])  # type: ignore[arg-type]
                if entries:
                    last = _text(entries[-1][0])
                for event in _decode(entries):
                    yield event
