"""Keeping this process's search index current: load at start, follow crawls, swap in newer snapshots.

At start the index comes from the snapshot ``rebuild-search-index`` stored (a fraction of a second at a million
names), or from the store when there is none; the crawled events since the snapshot's feed position are then
replayed. Each crawl event adds its repository and every package pointing at it. Packages discovered without a
crawl (their repository was crawled recently, so the crawler skipped it) come with the next snapshot: the keeper
polls the snapshot's small meta key and swaps in a newer index, replaying the feed from its position.
"""

from __future__ import annotations

import asyncio
import gc
import logging

from core.errors import ChangelogsError
from core.feed import MAXLEN, CrawlFeed
from core.models import CrawledEvent
from core.search import SearchIndex, build_index, index_crawl, load_snapshot, snapshot_info
from core.store import ArtifactStore, RecordStore

logger = logging.getLogger(__name__)

SNAPSHOT_POLL_S = 300.0


class IndexKeeper:
    """Owns the current ``SearchIndex`` of the process."""

    def __init__(self, records: RecordStore, artifacts: ArtifactStore, feed: CrawlFeed) -> None:
        self.records = records
        self.artifacts = artifacts
        self.feed = feed
        self.index = SearchIndex()
        self.snapshot: str | None = None  # built_at of the loaded snapshot

    async def load(self) -> None:
        """Load the stored snapshot (or build from the store), then replay the crawls it does not include."""
        info = await snapshot_info(self.artifacts)
        index = await load_snapshot(self.artifacts) if info else None
        if info is None or index is None:
            index = await build_index(self.records, feed_id=await self.feed.last_id())
            logger.info("search index built from the store: %d names", len(index))
            self._use(index, None)
        else:
            logger.info("search index loaded from the snapshot of %s: %d names", info.built_at, len(index))
            await self._replay(index)
            self._use(index, info.built_at)

    def _use(self, index: SearchIndex, snapshot: str | None) -> None:
        self.index, self.snapshot = index, snapshot
        # The index is millions of long-lived objects: keep the cyclic collector from walking them on every pass.
        gc.collect()
        gc.freeze()

    async def _replay(self, index: SearchIndex) -> None:
        # Until a read finds nothing new: the caller swaps the index in right after, with no await in between, so
        # no crawl falls between the replay and the relay.
        replayed = 0
        while missed := await self.feed.since(index.feed_id, limit=MAXLEN):
            for event in missed:
                await index_crawl(index, self.records, event)
            replayed += len(missed)
        if replayed:
            logger.info("search index: replayed %d crawls after the snapshot", replayed)

    async def apply(self, event: CrawledEvent) -> None:
        """Index a crawl as it is announced; a store that fails leaves it to the next snapshot, never stops the
        relay."""
        try:
            await index_crawl(self.index, self.records, event)
        except ChangelogsError as exc:
            logger.warning("crawl of %s not indexed: %s", event.changelog, exc)

    async def watch(self, interval_s: float = SNAPSHOT_POLL_S) -> None:
        """Swap in each newer snapshot, forever; a failing backend only delays it."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.refresh()
            except ChangelogsError as exc:
                logger.warning("search snapshot check failed: %s", exc)

    async def refresh(self) -> bool:
        """Load the stored snapshot if it is newer than the one in use; returns whether it did."""
        info = await snapshot_info(self.artifacts)
        if info is None or info.built_at == self.snapshot:
            return False
        index = await load_snapshot(self.artifacts)
        if index is None:
            return False
        await self._replay(index)
        self._use(index, info.built_at)
        logger.info("search index replaced by the snapshot of %s: %d names", info.built_at, len(index))
        return True
