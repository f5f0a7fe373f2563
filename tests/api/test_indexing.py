"""The api's search index: loaded from the stored snapshot, crawls after it replayed, newer snapshots swapped in."""

from __future__ import annotations

import httpx

from api.indexing import IndexKeeper
from core.feed import CrawlFeed
from core.search import SearchIndex, write_snapshot
from core.settings import Settings
from core.store import open_artifacts, open_records
from tests.api.conftest import event, running, seed


async def _snapshot(settings: Settings, *names: str, feed_id: str = "0-0") -> None:
    index = SearchIndex(bulk=True)
    for name in names:
        index.add_repo(name, versions=3)
    index.feed_id = feed_id
    artifacts = open_artifacts(settings)
    await write_snapshot(index, artifacts)
    await artifacts.aclose()


async def _completions(url: str, q: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        return [h["completion"] for h in (await client.get(f"{url}/search", params={"q": q})).json()]


async def test_the_api_loads_the_snapshot_and_replays_the_crawls_after_it(settings: Settings) -> None:
    await seed(settings)
    feed = CrawlFeed.open(settings)
    before = await feed.publish(event("old/crawl-before-snapshot"))
    await _snapshot(settings, "snap/only-in-snapshot", feed_id=before.id or "")
    await feed.publish(event("new/crawl-after-snapshot"))
    await feed.aclose()
    async with running(settings) as url:
        assert await _completions(url, "only-in") == ["snap/only-in-snapshot"]
        assert await _completions(url, "crawl-after") == ["new/crawl-after-snapshot"]
        # Crawls the snapshot already holds are not replayed: its feed position says so.
        assert await _completions(url, "crawl-before") == []
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/healthz")).json()["snapshot"] is not None


async def test_without_a_snapshot_the_index_is_built_from_the_store(settings: Settings) -> None:
    await seed(settings)
    async with running(settings) as url:
        assert await _completions(url, "rest-framework") == ["encode/django-rest-framework"]


async def test_a_newer_snapshot_replaces_the_index(settings: Settings) -> None:
    await _snapshot(settings, "first/snapshot")
    records, artifacts, feed = open_records(settings), open_artifacts(settings), CrawlFeed.open(settings)
    keeper = IndexKeeper(records, artifacts, feed)
    try:
        await keeper.load()
        assert [h.completion for h in keeper.index.search("first")] == ["first/snapshot"]
        assert await keeper.refresh() is False  # the same snapshot
        await feed.publish(event("live/crawled-meanwhile"))
        await _snapshot(settings, "second/snapshot")
        assert await keeper.refresh() is True
        assert [h.completion for h in keeper.index.search("second")] == ["second/snapshot"]
        assert [h.completion for h in keeper.index.search("meanwhile")] == ["live/crawled-meanwhile"]
    finally:
        await records.aclose()
        await artifacts.aclose()
        await feed.aclose()
