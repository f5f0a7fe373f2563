"""The contract every discovery queue keeps: at-least-once, redelivery, dead letters, malformed messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.models import Discovery
from core.queue import DiscoveryQueue, open_queue
from core.queue.redis_stream import RedisStreamQueue
from core.settings import Settings

# moto runs as a process of its own, and its round trips make these the slow half of the suite.
ON_MOTO = [pytest.mark.aws, pytest.mark.e2e]


def _discovery(package: str, repo: str = "owner/repo") -> Discovery:
    return Discovery(registry="npm", package=package, version="1.0.0", repo=repo)


class QueueFactory:
    """Makes queues of one backend for a test. ``tick`` is the shortest visibility timeout the backend honours
    (SQS counts whole seconds); ``inject_malformed`` puts bodies that must not validate on the queue, behind the
    backend's back, and says how many."""

    def __init__(
        self,
        make: Callable[..., DiscoveryQueue],
        *,
        tick: float,
        inject_malformed: Callable[[], Coroutine[Any, Any, int]],
    ) -> None:
        self.make = make
        self.tick = tick
        self.inject_malformed = inject_malformed
        self.opened: list[DiscoveryQueue] = []

    def __call__(
        self, *, visibility_timeout_s: float = 60, max_deliveries: int = 5, consumer: str = "c1"
    ) -> DiscoveryQueue:
        queue = self.make(visibility_timeout_s=visibility_timeout_s, max_deliveries=max_deliveries, consumer=consumer)
        self.opened.append(queue)
        return queue


def _redis_stream_factory(redis_url: str) -> QueueFactory:
    def make(*, visibility_timeout_s: float, max_deliveries: int, consumer: str) -> DiscoveryQueue:
        return RedisStreamQueue(
            aioredis.Redis.from_url(redis_url),
            visibility_timeout_s=visibility_timeout_s,
            max_deliveries=max_deliveries,
            consumer=consumer,
        )

    async def inject_malformed() -> int:
        raw = aioredis.Redis.from_url(redis_url)
        await raw.xadd("changelogs:discovered", {"data": b'{"registry": "npm", "package": "x", "repo": "not a repo"}'})
        await raw.xadd("changelogs:discovered", {"data": b"\xff\x00 not json"})
        await raw.xadd("changelogs:discovered", {"other": b"field"})
        await raw.aclose()
        return 3

    return QueueFactory(make, tick=0.1, inject_malformed=inject_malformed)


def _sqs_factory(settings: Settings, moto: Any) -> QueueFactory:
    # The queue and topic come from infra/data.yaml; a test's max_deliveries becomes the redrive policy's.
    sqs = moto.client("sqs")
    queue_url = settings.queue.removeprefix("sqs://")
    topic_arn = settings.topic.removeprefix("sns://") if settings.topic else ""

    def make(*, visibility_timeout_s: float, max_deliveries: int, consumer: str) -> DiscoveryQueue:
        # SQS names no consumers: every receiver competes for the same messages.
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
        policy = json.loads(attributes["RedrivePolicy"]) | {"maxReceiveCount": max_deliveries}
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})
        return open_queue(settings.model_copy(update={"queue_visibility_timeout_s": visibility_timeout_s}))

    def notification(message: str, *, topic: str = topic_arn, kind: str = "Notification") -> str:
        return json.dumps({"Type": kind, "MessageId": "m", "TopicArn": topic, "Message": message})

    async def inject_malformed() -> int:
        valid = _discovery("valid-but-not-ours").model_dump_json()
        bodies = [
            "not json {",
            notification(json.dumps({"registry": "npm", "package": "x", "repo": "not a repo"})),
            notification(valid, topic=topic_arn.replace("discovered", "elsewhere")),
            notification(valid, kind="SubscriptionConfirmation"),
        ]
        for body in bodies:
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        return len(bodies)

    return QueueFactory(make, tick=1, inject_malformed=inject_malformed)


@pytest.fixture(params=[pytest.param("redis-stream", id="redis-stream"), pytest.param("sqs", id="sqs", marks=ON_MOTO)])
def queue_backend(request: pytest.FixtureRequest) -> QueueFactory:
    if request.param == "sqs":
        return _sqs_factory(request.getfixturevalue("aws_settings"), request.getfixturevalue("moto_server"))
    return _redis_stream_factory(request.getfixturevalue("redis_url"))


@pytest.fixture
async def queue_factory(queue_backend: QueueFactory) -> AsyncIterator[QueueFactory]:
    yield queue_backend
    for queue in queue_backend.opened:
        await queue.aclose()


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
        queue = queue_factory(visibility_timeout_s=queue_factory.tick)
        await queue.publish([_discovery("x")])
        await queue.ack(await queue.receive(max_messages=10, wait_s=0.1))
        await asyncio.sleep(queue_factory.tick * 2)
        assert await queue.receive(max_messages=10, wait_s=0.1) == []
        assert (await queue.stats()).in_flight == 0

    async def test_unacked_messages_are_redelivered_after_the_visibility_timeout(self, queue_factory) -> None:
        crashed, survivor = (
            queue_factory(visibility_timeout_s=queue_factory.tick, consumer="a"),
            queue_factory(visibility_timeout_s=queue_factory.tick, consumer="b"),
        )
        await crashed.publish([_discovery("x")])
        assert len(await crashed.receive(max_messages=1, wait_s=0.1)) == 1
        assert await survivor.receive(max_messages=1, wait_s=0) == []
        await asyncio.sleep(queue_factory.tick * 1.5)
        again = await survivor.receive(max_messages=1, wait_s=0)
        assert [m.discovery.package for m in again] == ["x"]
        assert again[0].deliveries == 2

    async def test_poison_messages_go_to_the_dead_letters_after_max_deliveries(self, queue_factory) -> None:
        queue = queue_factory(visibility_timeout_s=queue_factory.tick, max_deliveries=3)
        await queue.publish([_discovery("poison")])
        deliveries = []
        for _ in range(6):
            deliveries += [m.deliveries for m in await queue.receive(max_messages=1, wait_s=0)]
            await asyncio.sleep(queue_factory.tick * 1.2)
        assert deliveries == [1, 2, 3]
        stats = await queue.stats()
        assert (stats.ready, stats.in_flight, stats.dead) == (0, 0, 1)
        assert "poison" in (await queue.dead_letters(limit=5))[0]

    async def test_a_malformed_message_is_dead_lettered_and_the_rest_delivered(self, queue_factory) -> None:
        queue = queue_factory()
        await queue.publish([_discovery("before")])
        malformed = await queue_factory.inject_malformed()
        await queue.publish([_discovery("after")])
        got = await queue.receive(max_messages=10, wait_s=0.1)
        assert [m.discovery.package for m in got] == ["before", "after"]
        assert (await queue.stats()).dead == malformed

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
