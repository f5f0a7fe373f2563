"""The contract every discovery queue keeps: at-least-once, redelivery, dead letters, malformed messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from core.models import Discovery
from core.queue import DiscoveryQueue
from core.queue.redis_stream import RedisStreamQueue


def _discovery(package: str, repo: str = "owner/repo") -> Discovery:
    return Discovery(registry="npm", package=package, version="1.0.0", repo=repo)


@pytest.fixture(params=[pytest.param("redis-stream", id="redis-stream")])
async def queue_factory(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[object]:
    opened: list[RedisStreamQueue] = []

    def make(*, visibility_timeout_s: float = 60, max_deliveries: int = 5, consumer: str = "c1") -> DiscoveryQueue:
        q = RedisStreamQueue(
            aioredis.Redis.from_url(redis_url),
            visibility_timeout_s=visibility_timeout_s,
            max_deliveries=max_deliveries,
            consumer=consumer,
        )
        opened.append(q)
        return q

    yield make
    for q in opened:
        await q.aclose()


class TestDiscoveryQueueContract:
    async def test_published_messages_are_received_in_order(self, queue_factory) -> None:
        queue = queue_factory()
        await queue.publish([_discovery("a"), _discovery("b"), _discovery("c")])
        got = await queue.receive(max_messages=10, wait_s=0.1)
        assert [m.discovery.package for m in got] == ["a", "b", "c"]
        assert all(m.deliveries == 1 for m in got)

    async def test_messages_published_before_any_consumer_are_delivered(self, queue_factory) -> None:
        await queue_factory(consumer="publisher").publish([_discovery("early")])
        got = await queue_factory(consumer="late").receive(max_messages=10, wait_s=0.1)
        assert [m.discovery.package for m in got] == ["early"]

    async def test_received_messages_are_invisible_to_other_consumers(self, queue_factory) -> None:
        first, second = queue_factory(consumer="a"), queue_factory(consumer="b")
        await first.publish([_discovery("x")])
        assert len(await first.receive(max_messages=10, wait_s=0.1)) == 1
        assert await second.receive(max_messages=10, wait_s=0.1) == []

    async def test_acked_messages_are_never_redelivered(self, queue_factory) -> None:
        queue = queue_factory(visibility_timeout_s=0.05)
        await queue.publish([_discovery("x")])
        await queue.ack(await queue.receive(max_messages=10, wait_s=0.1))
        await asyncio.sleep(0.1)
        assert await queue.receive(max_messages=10, wait_s=0.1) == []
        assert (await queue.stats()).in_flight == 0

    async def test_unacked_messages_are_redelivered_after_the_visibility_timeout(self, queue_factory) -> None:
        crashed, survivor = (
            queue_factory(visibility_timeout_s=0.1, consumer="a"),
            queue_factory(visibility_timeout_s=0.1, consumer="b"),
        )
        await crashed.publish([_discovery("x")])
        assert len(await crashed.receive(max_messages=1, wait_s=0.1)) == 1
        assert await survivor.receive(max_messages=1, wait_s=0) == []
        await asyncio.sleep(0.15)
        again = await survivor.receive(max_messages=1, wait_s=0)
        assert [m.discovery.package for m in again] == ["x"]
        assert again[0].deliveries == 2

    async def test_poison_messages_go_to_the_dead_letters_after_max_deliveries(self, queue_factory) -> None:
        queue = queue_factory(visibility_timeout_s=0.02, max_deliveries=3)
        await queue.publish([_discovery("poison")])
        deliveries = []
        for _ in range(6):
            deliveries += [m.deliveries for m in await queue.receive(max_messages=1, wait_s=0)]
            await asyncio.sleep(0.03)
        assert deliveries == [1, 2, 3]
        stats = await queue.stats()
        assert (stats.ready, stats.in_flight, stats.dead) == (0, 0, 1)
        assert "poison" in (await queue.dead_letters(limit=5))[0]

    async def test_a_malformed_message_is_dead_lettered_and_the_rest_delivered(
        self, queue_factory, redis_url: str
    ) -> None:
        queue = queue_factory()
        await queue.publish([_discovery("before")])
        raw = aioredis.Redis.from_url(redis_url)
        await raw.xadd("changelogs:discovered", {"data": b'{"registry": "npm", "package": "x", "repo": "not a repo"}'})
        await raw.xadd("changelogs:discovered", {"data": b"\xff\x00 not json"})
        await raw.xadd("changelogs:discovered", {"other": b"field"})
        await raw.aclose()
        await queue.publish([_discovery("after")])
        got = await queue.receive(max_messages=10, wait_s=0.1)
        assert [m.discovery.package for m in got] == ["before", "after"]
        assert (await queue.stats()).dead == 3

    async def test_receive_waits_for_a_message_published_meanwhile(self, queue_factory) -> None:
        consumer, producer = queue_factory(consumer="a"), queue_factory(consumer="b")
        await consumer.stats()  # creates the group

        async def publish_later() -> None:
            await asyncio.sleep(0.1)
            await producer.publish([_discovery("late")])

        task = asyncio.create_task(publish_later())
        got = await consumer.receive(max_messages=5, wait_s=2)
        await task
        assert [m.discovery.package for m in got] == ["late"]
