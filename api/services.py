"""The backends one api process holds, opened in the lifespan and reached by handlers through ``Depends``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.crawl_requests import CrawlRequests
from api.indexing import IndexKeeper
from core.feed import CrawlFeed
from core.queue import DiscoveryQueue
from core.search import SearchIndex
from core.settings import Settings
from core.store import ArtifactStore, RecordStore


@dataclass(slots=True)
class Services:
    """What handlers use; ``search`` is the keeper's current index (a newer snapshot replaces it)."""

    settings: Settings
    records: RecordStore
    artifacts: ArtifactStore
    feed: CrawlFeed
    queue: DiscoveryQueue
    keeper: IndexKeeper
    crawl_requests: CrawlRequests

    @property
    def search(self) -> SearchIndex:
        return self.keeper.index

    async def aclose(self) -> None:
        await self.queue.aclose()
        await self.records.aclose()
        await self.artifacts.aclose()
        await self.feed.aclose()


def get_services(request: Request) -> Services:
    """The process's services (a FastAPI dependency)."""
    services: Services = request.app.state.services
    return services
