"""The backends a flow-run process uses, built once per event loop from ``Settings``.

Task parameters are data (names, ids), never clients: Prefect hashes and records parameters. Connections are
bound to the event loop that opened them, hence one set per loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from core.clients import GitHubClient, open_http
from core.crawl import Crawler
from core.feed import CrawlFeed
from core.queue import DiscoveryQueue, open_queue
from core.settings import Settings, load_settings
from core.store import ArtifactStore, RecordStore, open_artifacts, open_records


@dataclass(slots=True)
class Services:
    settings: Settings
    records: RecordStore
    artifacts: ArtifactStore
    queue: DiscoveryQueue
    feed: CrawlFeed
    crawler: Crawler

    async def aclose(self) -> None:
        await self.crawler.github.aclose()
        await self.queue.aclose()
        await self.feed.aclose()
        await self.records.aclose()
        await self.artifacts.aclose()


_by_loop: dict[int, Services] = {}


def _build(settings: Settings) -> Services:
    records = open_records(settings)
    artifacts = open_artifacts(settings)
    feed = CrawlFeed.open(settings)
    token = settings.github_token.get_secret_value() if settings.github_token else None
    github = GitHubClient(open_http(settings), base_url=settings.github_api_url, token=token)
    crawler = Crawler(github=github, records=records, artifacts=artifacts, feed=feed, settings=settings)
    return Services(settings, records, artifacts, open_queue(settings), feed, crawler)


async def get_services() -> Services:
    """The services of the running event loop, built on first use."""
    key = id(asyncio.get_running_loop())
    services = _by_loop.get(key)
    if services is None:
        services = _by_loop[key] = _build(load_settings())
    return services


async def close_services() -> None:
    """Close the services of the running event loop (a flow calls this when it ends)."""
    services = _by_loop.pop(id(asyncio.get_running_loop()), None)
    if services is not None:
        await services.aclose()
