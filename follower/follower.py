"""The npm follower: reads the registry's CouchDB ``_changes`` feed and queues every release with a repository.

The cursor (``seq``) is stored only after every change of a page has been published, so ``kill -9`` at any
moment loses nothing: the page is read again on restart and its discoveries published twice, which is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from core.clients.npm import Change, NpmClient, NpmManifest
from core.discovery import NPM_CURSOR, PollReport, bounded, note_unresolved, publish, to_discovery
from core.errors import BadResponse, NotFound, RateLimited, UpstreamError
from core.models import utcnow
from core.queue import DiscoveryQueue
from core.store import RecordStore

logger = logging.getLogger(__name__)

STATUS = "follower:npm"


@dataclass(slots=True)
class FollowerStats:
    """Position and rates, logged and stored as the follower's status record."""

    seq: str | None = None
    changes: int = 0
    discoveries: int = 0
    skipped: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)
    upstream_seq: str | None = None

    def as_status(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        lag = None
        if self.seq is not None and self.upstream_seq is not None:
            try:
                lag = max(int(self.upstream_seq) - int(self.seq), 0)
            except ValueError:  # opaque sequences have no arithmetic
                lag = None
        return {
            "seq": self.seq,
            "upstream_seq": self.upstream_seq,
            "lag": lag,
            "changes": self.changes,
            "discoveries": self.discoveries,
            "skipped": self.skipped,
            "errors": self.errors,
            "changes_per_s": round(self.changes / elapsed, 1),
            "discoveries_per_s": round(self.discoveries / elapsed, 1),
            "updated_at": utcnow().isoformat(),
        }


class Follower:
    """Follows npm until ``stop()``; ``run()`` returns once the current page is done."""

    def __init__(
        self,
        npm: NpmClient,
        *,
        records: RecordStore,
        queue: DiscoveryQueue,
        batch_size: int = 500,
        concurrency: int = 16,
        poll_interval_s: float = 5.0,
        max_backoff_s: float = 300.0,
    ) -> None:
        self.npm = npm
        self.records = records
        self.queue = queue
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self.stats = FollowerStats()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask the follower to stop after the page in hand."""
        self._stopping.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def run(self) -> FollowerStats:
        """Follow the feed until stopped."""
        since = await self.records.get_cursor(NPM_CURSOR)
        if since is None:
            since = str(await self.npm.update_seq())
            await self.records.set_cursor(NPM_CURSOR, since)
            logger.info("npm: first run, starting from the current sequence %s", since)
        self.stats.seq = since
        backoff = 1.0
        last_status = 0.0
        while not self._stopping.is_set():
            try:
                page = await self.npm.changes(since, limit=self.batch_size)
                await self._handle(page.results)
            except (RateLimited, UpstreamError) as exc:
                wait = backoff
                if isinstance(exc, RateLimited):
                    wait = max(wait, (exc.reset_at - utcnow()).total_seconds())
                self.stats.errors += 1
                logger.warning("npm: %s; retrying in %.0fs from seq %s", exc, wait, since)
                backoff = min(backoff * 2, self.max_backoff_s)
                await self._sleep(min(wait, self.max_backoff_s))
                continue
            backoff = 1.0
            if page.last_seq is not None:
                since = str(page.last_seq)
                await self.records.set_cursor(NPM_CURSOR, since)
                self.stats.seq = since
            if time.monotonic() - last_status > 5:
                last_status = time.monotonic()
                await self._report()
            if len(page.results) < self.batch_size:
                await self._sleep(self.poll_interval_s)
        await self._report()
        return self.stats

    async def _handle(self, changes: tuple[Change, ...]) -> None:
        wanted = [c for c in changes if not c.deleted and not c.id.startswith("_design/")]
        self.stats.skipped += len(changes) - len(wanted)
        manifests = await bounded(wanted, self._latest, limit=self.concurrency)
        report = PollReport("npm")
        discoveries = []
        for manifest in manifests:
            if manifest is None:
                continue
            discovery = to_discovery("npm", manifest.name, manifest.version, manifest.source)
            if discovery is None:
                await note_unresolved(report, self.records, "npm", manifest.name, manifest.source)
            else:
                discoveries.append(discovery)
        await publish(discoveries, records=self.records, queue=self.queue)
        self.stats.changes += len(changes)
        self.stats.discoveries += len(discoveries)

    async def _latest(self, change: Change) -> NpmManifest | None:
        try:
            return await self.npm.latest(change.id)
        except NotFound:  # unpublished since the change
            self.stats.skipped += 1
            return None
        except BadResponse as exc:  # a malformed document will stay malformed: skip it, loudly
            logger.warning("npm: %s skipped: %s", change.id, exc)
            self.stats.errors += 1
            return None

    async def _report(self) -> None:
        with contextlib.suppress(UpstreamError):
            self.stats.upstream_seq = str(await self.npm.update_seq())
        status = self.stats.as_status()
        logger.info(
            "npm: seq %s (lag %s), %d changes, %d discoveries, %.1f changes/s",
            status["seq"],
            status["lag"],
            status["changes"],
            status["discoveries"],
            status["changes_per_s"],
        )
        await self.records.put_status(STATUS, status)
