"""Crawls asked for by visitors of "not crawled yet" pages, queued like discoveries but kept in bounds."""

from __future__ import annotations

import time
from enum import StrEnum

from aiolimiter import AsyncLimiter

from core.models import Discovery, RepoRef
from core.queue import DiscoveryQueue


class Requested(StrEnum):
    """What became of a request: queued now, queued a moment ago already, or refused for now."""

    QUEUED = "queued"
    ALREADY = "already"
    LIMITED = "limited"


class CrawlRequests:
    """Each repository is queued at most once per ``ttl_s`` by this process, and at most ``per_minute`` new ones a
    minute: every request may spend GitHub budget, so a script trying names must not be able to spend it all."""

    def __init__(self, queue: DiscoveryQueue, *, ttl_s: float = 600, per_minute: int = 60) -> None:
        self.queue = queue
        self.ttl_s = ttl_s
        self.limit = AsyncLimiter(per_minute, 60)
        self._queued_at: dict[str, float] = {}

    async def request(self, ref: RepoRef) -> Requested:
        """Queue a crawl of ``ref`` (a ``Discovery`` from the site) unless it was queued lately or too many were."""
        now = time.monotonic()
        if now - self._queued_at.get(ref.key, -self.ttl_s) < self.ttl_s:
            return Requested.ALREADY
        if not self.limit.has_capacity():
            return Requested.LIMITED
        await self.limit.acquire()
        await self.queue.publish([Discovery.requested(ref)])
        self._queued_at[ref.key] = now
        if len(self._queued_at) > 10_000:  # forget the oldest rather than grow without bound
            for key in sorted(self._queued_at, key=self._queued_at.__getitem__)[:5_000]:
                del self._queued_at[key]
        return Requested.QUEUED
