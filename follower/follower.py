"""The npm follower: reads the registry's CouchDB ``_changes`` feed and queues every release with a repository.

Three kinds of coroutine share a window of the changes read but not yet published, in feed order:

- the reader pages through ``_changes`` (``since=<seq>&limit=<n>``), appends each row to the window and hands it
  to the fetchers; it waits when the window is full, so memory stays flat however far behind the feed is;
- ``concurrency`` fetchers read each package's ``/<name>/latest`` and resolve its repository;
- the committer publishes the longest finished prefix of the window, then stores the sequence of its last row as
  the cursor: every change before the cursor has been published, so ``kill -9`` at any moment loses nothing.

``seq`` is opaque (an integer today, a string on CouchDB 2+): it is stored as JSON so it comes back with its
type, and it is compared with nothing but itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.clients import Change, NpmClient, NpmManifest
from core.clients.npm import Seq
from core.discovery import publish, to_discovery, unresolved_reason
from core.errors import BadResponse, NotFound, QueueError, RateLimited, StoreError, Unavailable, UpstreamError
from core.models import Discovery, utcnow
from core.queue import DiscoveryQueue
from core.store import RecordStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

NPM_CURSOR = "npm:seq"
STATUS = "follower:npm"
# The committer waits this long after a change is finished for more to finish: one publish and one cursor write
# per batch, not per change.
_LINGER_S = 0.1


def parse_start(text: str) -> Seq | None:
    """Where a first run starts (``CHANGELOGS_NPM_START``): ``now`` (``None``: the feed's current end), ``0``
    (the whole feed), or a sequence, read as JSON when it is JSON (``123``) and as an opaque string otherwise."""
    if text.strip().lower() == "now":
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | str) and not isinstance(value, bool) else text


@dataclass(slots=True)
class _Slot:
    """One change of the window; ``done`` once fetched (or skipped), with the discovery it gave, if any."""

    change: Change
    done: bool = False
    discovery: Discovery | None = None


@dataclass(slots=True)
class FollowerStats:
    """Position, counts and rates: logged, stored as the status record, served on ``/healthz``.

    ``changes`` counts the rows published past (the cursor moved over them), ``discoveries`` what was queued,
    ``skipped`` deleted rows, design documents and packages unpublished since, ``unresolved`` packages with no
    GitHub repository or unreadable metadata (recorded in the store with why), ``errors`` failed requests (each
    retried), ``rate_limited`` 429 answers.
    """

    seq: Seq | None = None
    upstream_seq: Seq | None = None
    changes: int = 0
    discoveries: int = 0
    skipped: int = 0
    unresolved: int = 0
    errors: int = 0
    rate_limited: int = 0
    in_flight: int = 0
    started: float = field(default_factory=time.monotonic)
    last_read: float | None = None
    recent_changes_per_s: float = 0.0

    @property
    def lag(self) -> int | None:
        """How many sequence numbers behind the feed, when both are integers (opaque ones have no arithmetic)."""
        if isinstance(self.seq, int) and isinstance(self.upstream_seq, int):
            return max(self.upstream_seq - self.seq, 0)
        return None

    def as_status(self, *, stale_after_s: float) -> dict[str, Any]:
        """The status document: ``state`` is ``ok``, or ``stalled`` when no page of the feed was read for
        ``stale_after_s`` seconds."""
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        since_read = None if self.last_read is None else now - self.last_read
        stalled = (since_read if since_read is not None else elapsed) > stale_after_s
        return {
            "state": "stalled" if stalled else "ok",
            "seq": self.seq,
            "upstream_seq": self.upstream_seq,
            "lag": self.lag,
            "changes": self.changes,
            "discoveries": self.discoveries,
            "skipped": self.skipped,
            "unresolved": self.unresolved,
            "errors": self.errors,
            "rate_limited": self.rate_limited,
            "in_flight": self.in_flight,
            "changes_per_s": round(self.changes / elapsed, 1),
            "recent_changes_per_s": round(self.recent_changes_per_s, 1),
            "discoveries_per_s": round(self.discoveries / elapsed, 1),
            "seconds_since_read": None if since_read is None else round(since_read, 1),
            "uptime_s": round(elapsed, 1),
            "updated_at": utcnow().isoformat(),
        }


class Follower:
    """Follows npm until ``stop()``; ``run()`` then saves the cursor of what was published and returns.

    ``start`` is where a first run begins (see ``parse_start``); once a cursor is stored it is ignored.
    """

    def __init__(
        self,
        npm: NpmClient,
        *,
        records: RecordStore,
        queue: DiscoveryQueue,
        start: Seq | None = None,
        batch_size: int = 500,
        concurrency: int = 16,
        window: int | None = None,
        poll_interval_s: float = 5.0,
        report_interval_s: float = 5.0,
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
        read_attempts: int = 3,
    ) -> None:
        self.npm = npm
        self.records = records
        self.queue = queue
        self.start = start
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.poll_interval_s = poll_interval_s
        self.report_interval_s = report_interval_s
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.read_attempts = read_attempts
        # Stalled: no page read for this long, though an empty feed is polled every poll_interval_s.
        self.stale_after_s = max(60.0, 10 * poll_interval_s)
        self.stats = FollowerStats()
        self._stopping = asyncio.Event()
        self._window: deque[_Slot] = deque()
        self._room = asyncio.Semaphore(window or 4 * batch_size)
        self._todo: asyncio.Queue[_Slot] = asyncio.Queue()
        self._progress = asyncio.Event()
        self._resume_at = 0.0  # monotonic time before which no request is sent (a rate limit)
        self._reported = (time.monotonic(), 0)

    def stop(self) -> None:
        """Ask the follower to stop: requests in flight are abandoned, what was fetched is published.

        ``run`` cancels the loops, and each loop also ends when it sees this flag: a library may swallow a
        cancellation that lands mid-call (redis-py 8.1 does on Python 3.11), and a loop that went on would keep
        ``run`` from ever returning."""
        self._stopping.set()

    def status(self) -> dict[str, Any]:
        """The current status document (what ``/healthz`` serves)."""
        return self.stats.as_status(stale_after_s=self.stale_after_s)

    async def run(self) -> FollowerStats:
        """Follow the feed until ``stop()``. Raises what crashed it, after saving what was published."""
        follow = asyncio.create_task(self._follow())
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({follow, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        follow.cancel()
        await asyncio.gather(follow, return_exceptions=True)
        await self._flush()
        if not follow.cancelled() and (crash := follow.exception()) is not None:
            raise crash
        logger.info("npm: stopped at seq %s", self.stats.seq)
        return self.stats

    async def _follow(self) -> None:
        since = await self._start_seq()
        self.stats.seq = since
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read(since))
            for _ in range(self.concurrency):
                group.create_task(self._fetch_forever())
            group.create_task(self._commit_forever())
            group.create_task(self._report_forever())

    async def _start_seq(self) -> Seq:
        stored = await self._persist("reading the cursor", lambda: self.records.get_cursor(NPM_CURSOR))
        if stored is not None:
            seq: Seq = json.loads(stored)
            logger.info("npm: resuming from seq %s", seq)
            return seq
        if self.start is None:
            seq = await self._persist("reading update_seq", self.npm.update_seq)
            logger.info("npm: first run, starting from the current sequence %s", seq)
        else:
            seq = self.start
            logger.info("npm: first run, starting from seq %s", seq)
        # Stored at once: a restart before the first commit must not start from a newer "now".
        await self._persist("storing the cursor", lambda: self.records.set_cursor(NPM_CURSOR, json.dumps(seq)))
        return seq

    # ---- the reader ----

    async def _read(self, since: Seq) -> None:
        while not self._stopping.is_set():
            read = functools.partial(self.npm.changes, since, self.batch_size)
            page = await self._persist(f"reading changes since {since}", read)
            self.stats.last_read = time.monotonic()
            for change in page.results:
                await self._room.acquire()
                slot = _Slot(change)
                self._window.append(slot)
                self.stats.in_flight = len(self._window)
                if change.deleted or change.id.startswith("_design/"):
                    self.stats.skipped += 1
                    slot.done = True
                    self._progress.set()
                else:
                    self._todo.put_nowait(slot)
            if page.results:
                since = page.results[-1].seq
            if len(page.results) < self.batch_size:
                await asyncio.sleep(self.poll_interval_s)

    # ---- the fetchers ----

    async def _fetch_forever(self) -> None:
        while not self._stopping.is_set():
            slot = await self._todo.get()
            slot.discovery = await self._discover(slot.change)
            slot.done = True
            self._progress.set()

    async def _discover(self, change: Change) -> Discovery | None:
        """The discovery of one change; ``None`` when there is none, recorded with why. Outages and rate limits
        are waited out: a change is never dropped because its registry was down."""
        try:
            manifest = await self._manifest(change.id)
        except NotFound:  # unpublished since the change
            self.stats.skipped += 1
            return None
        except UpstreamError as exc:  # malformed every time, or refused: it would stay so
            logger.warning("npm: %s skipped: %s", change.id, exc)
            self.stats.errors += 1
            self.stats.unresolved += 1
            record = functools.partial(
                self.records.record_unresolved, "npm", change.id, reason="unreadable", value=str(exc)[:500]
            )
            await self._persist("recording an unreadable package", record)
            return None
        discovery = to_discovery("npm", manifest.name, manifest.version, manifest.source)
        if discovery is None:
            self.stats.unresolved += 1
            reason = unresolved_reason(manifest.source)
            await self._persist(
                "recording a package with no GitHub repository",
                lambda: self.records.record_unresolved(
                    "npm", manifest.name, reason=reason, value=manifest.source.resolution.project
                ),
            )
        return discovery

    async def _manifest(self, name: str) -> NpmManifest:
        """``/<name>/latest``, waiting out outages and rate limits; a malformed body is read again, up to
        ``read_attempts`` reads in all, then its ``BadResponse`` is raised."""
        failures = 0
        while True:
            try:
                return await self._persist(
                    f"reading {name}", functools.partial(self.npm.latest, name), transient=(Unavailable,)
                )
            except BadResponse as exc:
                failures += 1
                if failures >= self.read_attempts:
                    raise
                self.stats.errors += 1
                logger.warning("npm: %s: %s; reading it again", name, exc)
                await asyncio.sleep(self.initial_backoff_s * failures)

    # ---- the committer ----

    async def _commit_forever(self) -> None:
        while not self._stopping.is_set():
            await self._progress.wait()
            await asyncio.sleep(_LINGER_S)
            self._progress.clear()
            await self._persist("publishing", self._commit)

    async def _commit(self) -> None:
        """Publish the finished prefix of the window, then move the cursor past it."""
        prefix: list[_Slot] = []
        for slot in self._window:
            if not slot.done or len(prefix) >= self.batch_size:
                break
            prefix.append(slot)
        if not prefix:
            return
        discoveries = [s.discovery for s in prefix if s.discovery is not None]
        await publish(discoveries, records=self.records, queue=self.queue, attempts=1)
        seq = prefix[-1].change.seq
        await self.records.set_cursor(NPM_CURSOR, json.dumps(seq))
        for _ in prefix:
            self._window.popleft()
            self._room.release()
        self.stats.seq = seq
        self.stats.changes += len(prefix)
        self.stats.discoveries += len(discoveries)
        self.stats.in_flight = len(self._window)
        if self._window and self._window[0].done:
            self._progress.set()  # more was finished than one batch holds

    async def _flush(self) -> None:
        """On the way out: one attempt to publish what was fetched, then the status record."""
        try:
            while self._window and self._window[0].done:
                await self._commit()
        except (StoreError, QueueError) as exc:
            logger.warning("npm: could not publish on the way out (%s); the next run reads those changes again", exc)
        await self._report(refresh=False)

    # ---- status ----

    async def _report_forever(self) -> None:
        while not self._stopping.is_set():
            await self._report()
            await asyncio.sleep(self.report_interval_s)

    async def _report(self, *, refresh: bool = True) -> None:
        """Log the status and store it; ``refresh`` first reads the feed's end (not on the way out: the
        registry may be what is down)."""
        if refresh:
            with contextlib.suppress(UpstreamError):
                self.stats.upstream_seq = await self.npm.update_seq()
        now = time.monotonic()
        then, changes = self._reported
        self.stats.recent_changes_per_s = (self.stats.changes - changes) / max(now - then, 1e-9)
        self._reported = (now, self.stats.changes)
        status = self.status()
        logger.info(
            "npm: seq %s (lag %s), %d changes, %d discoveries, %.1f changes/s (%.1f lately), %d in flight, %s",
            status["seq"],
            status["lag"],
            status["changes"],
            status["discoveries"],
            status["changes_per_s"],
            status["recent_changes_per_s"],
            status["in_flight"],
            status["state"],
        )
        try:
            await self.records.put_status(STATUS, status)
        except StoreError as exc:
            logger.warning("npm: status not stored: %s", exc)

    # ---- waiting out failures ----

    async def _persist(
        self,
        what: str,
        fn: Callable[[], Awaitable[T]],
        *,
        transient: tuple[type[Exception], ...] = (UpstreamError, StoreError, QueueError),
    ) -> T:
        """``fn()`` until it succeeds: back off exponentially on ``transient`` errors, wait out rate limits
        (``Retry-After``), raise anything else. Only ``stop()`` ends the wait."""
        backoff = self.initial_backoff_s
        while True:
            delay = self._resume_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                return await fn()
            except RateLimited as exc:
                self.stats.rate_limited += 1
                wait = min(max((exc.reset_at - utcnow()).total_seconds(), 0.0), self.max_backoff_s)
                self._resume_at = max(self._resume_at, time.monotonic() + wait)
                logger.warning("npm: %s: rate limited, pausing every request for %.1fs", what, wait)
            except transient as exc:
                self.stats.errors += 1
                logger.warning("npm: %s failed (%s); retrying in %.1fs", what, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            if self._stopping.is_set():  # the caller's cancellation was swallowed on the way (see ``stop``)
                raise asyncio.CancelledError
