"""The live feed: events get ids, catch-up after an id, following as events arrive."""

from __future__ import annotations

import asyncio
import datetime as dt

import redis.asyncio as aioredis

from core.feed import MAXLEN, CrawlFeed
from core.models import CrawledEvent


def _event(repo: str) -> CrawledEvent:
    return CrawledEvent(
        changelog=repo,
        crawledAt=dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
        href=f"/api/github/{repo}",
        repo=f"https://github.com/{repo}",
        changelogUrl=None,
        version="1.0.0",
    )


async def test_published_events_are_stamped_and_announced(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe("changelogs:crawled")
    await pubsub.get_message(timeout=1)
    feed = CrawlFeed(redis)
    stamped = await feed.publish(_event("a/b"))
    assert stamped.id
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message is not None
    announced = CrawledEvent.model_validate_json(message["data"])
    assert announced.id == stamped.id
    assert announced.changelog == "a/b"
    await pubsub.aclose()
    await redis.aclose()


async def test_since_returns_what_a_reconnecting_client_missed(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    feed = CrawlFeed(redis)
    first = await feed.publish(_event("a/one"))
    await feed.publish(_event("a/two"))
    await feed.publish(_event("a/three"))
    missed = await feed.since(first.id or "")
    assert [e.changelog for e in missed] == ["a/two", "a/three"]
    assert [e.changelog for e in await feed.recent(limit=2)] == ["a/three", "a/two"]
    await redis.aclose()


async def test_follow_yields_new_events_in_order(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    feed = CrawlFeed(redis)
    start = await feed.last_id()
    follower = feed.follow(start, block_ms=100)
    for name in ("a/x", "a/y"):
        await feed.publish(_event(name))
    got = [await asyncio.wait_for(anext(follower), 2) for _ in range(2)]
    assert [e.changelog for e in got] == ["a/x", "a/y"]
    await follower.aclose()
    await redis.aclose()


async def test_since_the_beginning_returns_every_event_and_skips_malformed_entries(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    feed = CrawlFeed(redis)
    await feed.publish(_event("a/one"))
    await redis.xadd(feed.stream, {"data": b"{not json"})
    await feed.publish(_event("a/two"))
    assert [e.changelog for e in await feed.since("0-0")] == ["a/one", "a/two"]
    assert [e.changelog for e in await feed.recent(limit=5)] == ["a/two", "a/one"]
    await redis.aclose()


async def test_the_stream_is_capped(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    feed = CrawlFeed(redis)
    for i in range(MAXLEN + 500):
        await redis.xadd(feed.stream, {"data": _event(f"a/r{i}").model_dump_json()}, maxlen=MAXLEN, approximate=True)
    await feed.publish(_event("a/last"))
    assert await redis.xlen(feed.stream) < MAXLEN + 500
    assert (await feed.recent(limit=1))[0].changelog == "a/last"
    await redis.aclose()


async def test_since_can_return_the_newest_of_what_was_missed(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    feed = CrawlFeed(redis)
    first = await feed.publish(_event("a/first"))
    for name in ("a/b", "a/c", "a/d"):
        await feed.publish(_event(name))
    assert [e.changelog for e in await feed.since(first.id or "", limit=2)] == ["a/b", "a/c"]
    assert [e.changelog for e in await feed.since(first.id or "", limit=2, newest=True)] == ["a/c", "a/d"]
    await redis.aclose()
