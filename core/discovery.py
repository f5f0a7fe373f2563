"""Discovery: registry releases turned into ``Discovery`` messages, stored and queued, behind durable cursors.

Every source moves its cursor only after what came before it is published, so a crash at any point loses
nothing; what was published twice is crawled once (the crawler's skip rules make duplicates harmless). A release
that cannot be queued (no GitHub repository, deleted since, unreadable metadata) is recorded with why
(``RecordStore.record_unresolved``), so skipping is never silent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from core.clients.pypi import PyPIChange, PyPIClient, PyPIProject
from core.clients.rubygems import Gem, RubyGemsClient
from core.errors import BadResponse, NotFound, QueueError, RateLimited, StoreError, Unavailable, UpstreamError
from core.models import SITE, Discovery, PackageRecord, Registry, utcnow
from core.queue import DiscoveryQueue
from core.repourl import SourceLink
from core.store import RecordStore

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

PYPI_CURSOR = "pypi:serial"
RUBYGEMS_CURSOR = "rubygems:seen"

# changelog_since_serial answers at most this many rows: a shorter answer is the end of the log.
PYPI_PAGE = 50_000
# RubyGems' activity feeds hold this many entries each.
RUBYGEMS_FEED = 50
# Gem names remembered between polls (with when they were last active), to fill a gap from.
RUBYGEMS_KNOWN = 1000
# Versions created up to this long before the previous poll still count as new, in the feeds and in a gap fill:
# RubyGems' clock and ours disagree a little, and a duplicate is harmless where a miss is not.
RUBYGEMS_CLOCK_MARGIN = dt.timedelta(minutes=5)
# Package records written at once by ``publish``.
_STORE_CONCURRENCY = 32


@dataclass(frozen=True, slots=True)
class Skip:
    """A release that was not queued, and why (``reason``: a ``core.repourl`` reason, ``other-host:gitlab``,
    ``not-found`` for a package deleted since, ``unreadable`` for metadata that never parsed)."""

    registry: Registry
    package: str
    version: str | None
    reason: str


@dataclass(slots=True)
class PollReport:
    """What one poll saw: discoveries published, releases skipped with why, errors, gaps, where it stopped."""

    source: Registry
    discovered: list[Discovery] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    errors: int = 0
    gaps: int = 0
    cursor: str | None = None
    rate_limited_until: dt.datetime | None = None

    @property
    def skip_counts(self) -> dict[str, int]:
        """How many releases were skipped, by reason."""
        return dict(Counter(s.reason for s in self.skipped))


def to_discovery(registry: Registry, name: str, version: str | None, source: SourceLink) -> Discovery | None:
    """The discovery of a release, or ``None`` when its package points at no GitHub repository."""
    if source.repo is None:
        return None
    return Discovery(
        registry=registry,
        package=name,
        version=version,
        repo=source.repo.full_name,
        directory=source.directory,
        hint=source.hint,
    )


def unresolved_reason(source: SourceLink) -> str:
    """Why a package's metadata gives no GitHub repository (``other-host:<host>`` for GitLab and the like)."""
    resolution = source.resolution
    if resolution.host and resolution.host != "github":
        return f"other-host:{resolution.host}"
    return resolution.reason or "missing"


async def publish(
    discoveries: Sequence[Discovery],
    *,
    records: RecordStore,
    queue: DiscoveryQueue,
    attempts: int = 4,
    wait_s: float = 0.5,
) -> None:
    """Store each package's repository (search and pages use it), then enqueue every discovery.

    A failing store or queue is retried ``attempts`` times in all with exponential back-off from ``wait_s``;
    then the ``StoreError`` or ``QueueError`` is raised, and the caller must not move its cursor.
    """
    if not discoveries:
        return
    # One record per package, its newest discovery; written concurrently: one at a time, each write waits a
    # turn of a busy event loop (a batch of 400 took 7 s in the follower; concurrently, 0.2 s).
    packages = {
        (record.registry, record.name): record
        for record in map(_package_record, sorted(discoveries, key=lambda d: d.discovered_at))
        if record is not None
    }
    retrying = AsyncRetrying(
        retry=retry_if_exception_type((StoreError, QueueError)),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=wait_s, max=30),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            await _bounded(packages.values(), records.put_package, limit=_STORE_CONCURRENCY)
            await queue.publish(list(discoveries))


def _package_record(d: Discovery) -> PackageRecord | None:
    if d.registry == SITE:  # a visitor's request names a repository, not a package
        return None
    return PackageRecord(
        registry=d.registry,
        name=d.package,
        repo=d.repo,
        directory=d.directory,
        hint=d.hint,
        version=d.version,
        updated_at=d.discovered_at,
    )


async def read_document(fetch: Callable[[], Awaitable[T]], *, attempts: int = 3, wait_s: float = 0.5) -> T:
    """``fetch()``, read again when the body was malformed (``BadResponse``), up to ``attempts`` times in all.

    The clients retry 5xx, timeouts and cut bodies themselves but not a complete body that does not parse: a CDN
    hiccup produces those too, and skipping the package would lose its release.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(BadResponse),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=wait_s, max=10),
        reraise=True,
    )

    async def once() -> T:
        return await fetch()

    result: T = await retrying(once)
    return result


async def _skip(report: PollReport, records: RecordStore, skip: Skip, *, value: str | None = None) -> None:
    report.skipped.append(skip)
    await records.record_unresolved(skip.registry, skip.package, reason=skip.reason, value=value)


async def _bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]], *, limit: int) -> list[R]:
    """``fn`` over ``items``, at most ``limit`` at once, results in input order; the first failure cancels the
    rest (a rate limit must not be followed by a hundred more requests) and is raised as itself."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await fn(item)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


# ---- PyPI ----


def _new_releases(changes: Iterable[PyPIChange]) -> dict[str, tuple[str | None, int]]:
    """Each project with a new release in ``changes``: its newest version there and the serial of its first
    release there, in order of those first serials."""
    releases: dict[str, tuple[str | None, int]] = {}
    for change in changes:
        if change.is_new_release:
            first = releases.get(change.name, (None, change.serial))[1]
            releases[change.name] = (change.version, first)
    return releases


async def poll_pypi(
    pypi: PyPIClient,
    *,
    records: RecordStore,
    queue: DiscoveryQueue,
    chunk: int = 100,
    concurrency: int = 8,
    read_attempts: int = 3,
) -> PollReport:
    """Follow PyPI's change log from the stored serial; on the first run, start from the current serial.

    Each batch of ``changelog_since_serial`` is read project by project (``/pypi/<name>/json``, ``concurrency``
    at once) in chunks of ``chunk`` distinct projects. Once a chunk is published the serial moves to just before
    the first release of the next chunk, so a run killed at any point resumes without a loss. A rate limit ends
    the run where it is (``rate_limited_until``): the next run resumes there. ``Unavailable`` after the client's
    retries and a failing queue are raised, with the serial left at the last published chunk.
    """
    report = PollReport("pypi")
    stored = await records.get_cursor(PYPI_CURSOR)
    if stored is None:
        serial = await pypi.last_serial()
        await records.set_cursor(PYPI_CURSOR, str(serial))
        report.cursor = str(serial)
        logger.info("pypi: first run, starting from serial %d", serial)
        return report
    serial = int(stored)
    try:
        while True:
            changes = await read_document(functools.partial(pypi.changes_since, serial), attempts=read_attempts)
            if not changes:
                break
            releases = _new_releases(changes)
            names = list(releases)
            for start in range(0, len(names), chunk):
                part = names[start : start + chunk]
                found = await _bounded(part, lambda name: _pypi_project(pypi, name, read_attempts), limit=concurrency)
                discoveries = []
                for name, project in zip(part, found, strict=True):
                    version = releases[name][0]
                    if isinstance(project, str):
                        if project == "unreadable":
                            report.errors += 1
                        await _skip(report, records, Skip("pypi", name, version, project))
                        continue
                    discovery = to_discovery("pypi", project.name, version, project.source)
                    if discovery is None:
                        skip = Skip("pypi", project.name, version, unresolved_reason(project.source))
                        await _skip(report, records, skip, value=project.source.resolution.project)
                    else:
                        discoveries.append(discovery)
                await publish(discoveries, records=records, queue=queue)
                report.discovered += discoveries
                rest = names[start + chunk : start + chunk + 1]
                # Every release before the next chunk's first one is now published (or recorded as skipped).
                serial = releases[rest[0]][1] - 1 if rest else changes[-1].serial
                await records.set_cursor(PYPI_CURSOR, str(serial))
            if serial != changes[-1].serial:  # a batch with no new release at all
                serial = changes[-1].serial
                await records.set_cursor(PYPI_CURSOR, str(serial))
            logger.info("pypi: %d changes read, at serial %d", len(changes), serial)
            if len(changes) < PYPI_PAGE:
                break
    except RateLimited as exc:
        report.rate_limited_until = exc.reset_at
        logger.warning("pypi: rate limited until %s; stopping at serial %d, the next run resumes", exc.reset_at, serial)
    report.cursor = str(serial)
    logger.info(
        "pypi: %d discovered, skipped %s, serial %d", len(report.discovered), report.skip_counts or "none", serial
    )
    return report


async def _pypi_project(pypi: PyPIClient, name: str, attempts: int) -> PyPIProject | str:
    """The project, or why it is skipped; rate limits and outages are raised to stop the run."""
    try:
        return await read_document(lambda: pypi.project(name), attempts=attempts)
    except NotFound:
        return "not-found"
    except (RateLimited, Unavailable):
        raise
    except UpstreamError as exc:  # a body that never parsed, or a refusal of this one project
        logger.warning("pypi: %s skipped: %s", name, exc)
        return "unreadable"


# ---- RubyGems ----


def _gem_key(gem: Gem) -> str:
    return f"{gem.name}@{gem.version}"


@dataclass(slots=True)
class _GemsCursor:
    """What a RubyGems poll leaves for the next: the feed entries it saw, when, the gems known to be active
    (name → when last seen active), and where an unfinished gap fill must start again."""

    at: dt.datetime | None = None
    seen: set[str] = field(default_factory=set)
    known: dict[str, dt.datetime] = field(default_factory=dict)
    fill_from: dt.datetime | None = None

    @classmethod
    def load(cls, text: str | None) -> _GemsCursor:
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        fill_from = data.get("fill_from")
        return cls(
            at=dt.datetime.fromisoformat(data["at"]) if data.get("at") else None,
            seen=set(data.get("seen", [])),
            known={name: dt.datetime.fromisoformat(at) for name, at in data.get("known", {}).items()},
            fill_from=dt.datetime.fromisoformat(fill_from) if fill_from else None,
        )

    def dump(self) -> str:
        data: dict[str, Any] = {
            "at": self.at.isoformat() if self.at else None,
            "seen": sorted(self.seen),
            "known": {name: self.known[name].isoformat() for name in self.recent(RUBYGEMS_KNOWN)},
        }
        if self.fill_from is not None:
            data["fill_from"] = self.fill_from.isoformat()
        return json.dumps(data)

    def saw(self, name: str, at: dt.datetime) -> None:
        if name not in self.known or self.known[name] < at:
            self.known[name] = at

    def recent(self, limit: int) -> list[str]:
        """The ``limit`` gems known to have been active most recently."""
        return sorted(self.known, key=lambda name: self.known[name], reverse=True)[:limit]


def _feed_gap(previous: _GemsCursor, updated: list[Gem], latest: list[Gem]) -> bool:
    """Whether a full feed shares nothing with what the previous poll saw: more was released in between than
    the feed can show. ``just_updated`` is compared by release, ``latest`` (one entry per new gem, at its newest
    version) by gem."""
    if not previous.seen:
        return False
    seen_names = {key.rpartition("@")[0] for key in previous.seen}
    updated_gap = len(updated) >= RUBYGEMS_FEED and not any(_gem_key(g) in previous.seen for g in updated)
    latest_gap = len(latest) >= RUBYGEMS_FEED and not any(g.name in seen_names for g in latest)
    return updated_gap or latest_gap


async def poll_rubygems(
    rubygems: RubyGemsClient,
    *,
    records: RecordStore,
    queue: DiscoveryQueue,
    gap_fill_limit: int = 200,
) -> PollReport:
    """Read RubyGems' two 50-entry activity feeds and queue every release made since the previous poll.

    A feed entry is new when the previous poll did not see it and it was not created before that poll (an old
    version of a gem that just entered ``just_updated`` is not news). The feeds hold only the newest 50 entries
    each: when none of what the last poll saw is still in a full feed, more was released in between than it can
    show. The gap is logged and counted, and filled by reading the versions of the gems known to be active (seen
    in the feeds, now or by earlier polls, or stored), most recent first, up to ``gap_fill_limit`` gems, keeping
    every version created since the previous poll. A fill cut short (a rate limit, an outage) is resumed by the
    next poll from the same point. The client keeps under RubyGems' 10 requests/s.
    """
    report = PollReport("rubygems")
    previous = _GemsCursor.load(await records.get_cursor(RUBYGEMS_CURSOR))
    polled_at = utcnow()
    try:
        updated = await read_document(rubygems.just_updated)
        latest = await read_document(rubygems.latest)
    except RateLimited as exc:
        report.rate_limited_until = exc.reset_at
        logger.warning("rubygems: rate limited until %s; the next poll reads the feeds again", exc.reset_at)
        return report
    feed = updated + latest
    current = _GemsCursor(at=polled_at, seen={_gem_key(g) for g in feed}, known=dict(previous.known))
    for gem in feed:
        current.saw(gem.name, gem.version_created_at or polled_at)
    after = previous.at - RUBYGEMS_CLOCK_MARGIN if previous.at else None
    releases = [
        g
        for g in feed
        if _gem_key(g) not in previous.seen
        and (after is None or g.version_created_at is None or g.version_created_at > after)
    ]

    fill_from = previous.fill_from
    if _feed_gap(previous, updated, latest):
        report.gaps += 1
        fill_from = fill_from or previous.at
        logger.warning("rubygems: gap since %s: the feeds moved past everything seen last time", previous.at)
    if fill_from is not None:
        async for package in records.iter_packages():
            if package.registry == "rubygems":
                current.saw(package.name, package.updated_at)
        sources = {g.name: g.source for g in feed}
        filled, complete = await _fill_gap(
            rubygems, current.recent(gap_fill_limit), fill_from - RUBYGEMS_CLOCK_MARGIN, sources, previous, report
        )
        releases += filled
        current.fill_from = None if complete else fill_from

    discoveries: list[Discovery] = []
    keys: set[str] = set()
    for gem in releases:
        if _gem_key(gem) in keys:
            continue
        keys.add(_gem_key(gem))
        discovery = to_discovery("rubygems", gem.name, gem.version, gem.source)
        if discovery is None:
            skip = Skip("rubygems", gem.name, gem.version, unresolved_reason(gem.source))
            await _skip(report, records, skip, value=gem.source.resolution.project)
        else:
            discoveries.append(discovery)
    await publish(discoveries, records=records, queue=queue)
    report.discovered = discoveries
    await records.set_cursor(RUBYGEMS_CURSOR, current.dump())
    report.cursor = polled_at.isoformat()
    logger.info(
        "rubygems: %d discovered, skipped %s, %d gaps", len(discoveries), report.skip_counts or "none", report.gaps
    )
    return report


async def _fill_gap(
    rubygems: RubyGemsClient,
    names: list[str],
    after: dt.datetime,
    sources: dict[str, SourceLink],
    previous: _GemsCursor,
    report: PollReport,
) -> tuple[list[Gem], bool]:
    """The versions of ``names`` created after ``after`` that the previous poll did not see, and whether every
    gem was read. ``sources`` gives the repository of the gems in the feeds; the others' payload is read."""
    found: list[Gem] = []
    for name in names:
        try:
            versions = await read_document(functools.partial(rubygems.versions, name))
            fresh = [
                v
                for v in versions
                if v.created_at is not None and v.created_at > after and f"{name}@{v.number}" not in previous.seen
            ]
            if fresh and name not in sources:
                sources[name] = (await read_document(functools.partial(rubygems.gem, name))).source
        except NotFound:
            continue  # yanked or deleted since
        except (RateLimited, Unavailable, BadResponse) as exc:
            report.errors += 1
            logger.warning("rubygems: gap fill stopped at %s (%s); the next poll resumes it", name, exc)
            return found, False
        found += [Gem(name, v.number, v.created_at, sources[name]) for v in fresh]
    logger.info("rubygems: gap filled from %d known gems: %d releases", len(names), len(found))
    return found, True
