"""Discovery: registry releases turned into ``Discovery`` messages, stored and queued, behind durable cursors.

Every source moves its cursor only after what came before it is published, so a crash at any point loses
nothing; what was published twice is crawled once (the crawler's skip rules make duplicates harmless).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.clients.pypi import PyPIClient
from core.clients.rubygems import Gem, RubyGemsClient
from core.errors import NotFound, RateLimited, UpstreamError
from core.models import Discovery, PackageRecord, Registry, utcnow
from core.queue import DiscoveryQueue
from core.repourl import SourceLink
from core.store import RecordStore

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

PYPI_CURSOR = "pypi:serial"
RUBYGEMS_CURSOR = "rubygems:seen"
NPM_CURSOR = "npm:seq"


@dataclass(slots=True)
class PollReport:
    """What one poll saw: discoveries published, packages without a GitHub repository, errors, gaps."""

    source: str
    discovered: list[Discovery] = field(default_factory=list)
    unresolved: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    gaps: int = 0
    cursor: str | None = None
    rate_limited: bool = False

    def count_unresolved(self, reason: str) -> None:
        self.unresolved[reason] = self.unresolved.get(reason, 0) + 1


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


async def publish(discoveries: Sequence[Discovery], *, records: RecordStore, queue: DiscoveryQueue) -> None:
    """Store each package's repository (search and pages use it), then enqueue; raises if either fails."""
    for d in discoveries:
        await records.put_package(
            PackageRecord(
                registry=d.registry,
                name=d.package,
                repo=d.repo,
                directory=d.directory,
                hint=d.hint,
                version=d.version,
                updated_at=d.discovered_at,
            )
        )
    await queue.publish(list(discoveries))


async def note_unresolved(
    report: PollReport, records: RecordStore, registry: Registry, name: str, source: SourceLink
) -> None:
    """Count and remember a package whose metadata names no GitHub repository."""
    reason = source.resolution.reason or "unknown"
    if source.resolution.host and source.resolution.host != "github":
        reason = f"other-host:{source.resolution.host}"
    report.count_unresolved(reason)
    await records.record_unresolved(registry, name, reason=reason, value=source.resolution.project)


async def bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]], *, limit: int) -> list[R]:
    """``fn`` over ``items`` with at most ``limit`` running at once, results in input order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await fn(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


async def poll_pypi(
    pypi: PyPIClient,
    *,
    records: RecordStore,
    queue: DiscoveryQueue,
    chunk: int = 100,
    concurrency: int = 8,
) -> PollReport:
    """Follow PyPI's change log from the stored serial; on the first run, start from the current serial.

    New releases are read in chunks of distinct projects; the cursor moves to the end of a chunk once its
    discoveries are published. A rate limit stops the run where it is: the next run resumes there.
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
    while True:
        changes = await pypi.changes_since(serial)
        if not changes:
            break
        # Distinct projects in order of their first release in this page; each is published at its newest
        # version. The cursor may pass a serial once every project released up to it is published.
        pending: dict[str, tuple[str | None, int]] = {}
        for change in changes:
            if change.is_new_release:
                first = pending.get(change.name, (None, change.serial))[1]
                pending[change.name] = (change.version, first)
        names = list(pending)
        end_serial = changes[-1].serial
        for start in range(0, len(names), chunk):
            part = names[start : start + chunk]
            try:
                found = await bounded(part, lambda n: _pypi_project(pypi, n, report), limit=concurrency)
            except RateLimited as exc:
                logger.warning("pypi: rate limited until %s; stopping at serial %d", exc.reset_at, serial)
                report.rate_limited = True
                report.cursor = str(serial)
                return report
            discoveries = []
            for name, source in zip(part, found, strict=True):
                if source is None:
                    continue
                discovery = to_discovery("pypi", name, pending[name][0], source)
                if discovery is None:
                    await note_unresolved(report, records, "pypi", name, source)
                else:
                    discoveries.append(discovery)
            await publish(discoveries, records=records, queue=queue)
            report.discovered += discoveries
            rest = names[start + chunk :]
            serial = pending[rest[0]][1] - 1 if rest else end_serial
            await records.set_cursor(PYPI_CURSOR, str(serial))
        serial = end_serial
        await records.set_cursor(PYPI_CURSOR, str(serial))
        if len(changes) < 50_000:  # PyPI's page size: a shorter page is the end of the log
            break
    report.cursor = str(serial)
    return report


async def _pypi_project(pypi: PyPIClient, name: str, report: PollReport) -> SourceLink | None:
    try:
        return (await pypi.project(name)).source
    except NotFound:
        report.count_unresolved("deleted")
        return None
    except RateLimited:
        raise
    except UpstreamError as exc:
        logger.warning("pypi: %s skipped: %s", name, exc)
        report.errors += 1
        return None


def _gem_key(gem: Gem) -> str:
    return f"{gem.name}@{gem.version}"


async def poll_rubygems(
    rubygems: RubyGemsClient,
    *,
    records: RecordStore,
    queue: DiscoveryQueue,
    gap_fill_limit: int = 200,
) -> PollReport:
    """Read RubyGems' two 50-gem activity feeds and queue what is new since the last poll.

    The feeds hold only the newest 50 entries each: when none of what the last poll saw is still in them, more
    was released in between than they can show. The gap is logged and counted, and filled by reading the
    versions of the gems known to be active (those released recently).
    """
    report = PollReport("rubygems")
    stored = await records.get_cursor(RUBYGEMS_CURSOR)
    previous: dict[str, Any] = json.loads(stored) if stored else {}
    seen_before = set(previous.get("seen", []))
    since = dt.datetime.fromisoformat(previous["at"]) if "at" in previous else None
    polled_at = utcnow()

    updated = await rubygems.just_updated()
    latest = await rubygems.latest()
    feed = updated + latest
    new = [g for g in feed if _gem_key(g) not in seen_before]
    if seen_before and not any(_gem_key(g) in seen_before for g in updated) and len(updated) >= 50:
        report.gaps += 1
        logger.warning("rubygems: gap since %s: the feed moved past everything seen last time; filling it", since)
        new += await _fill_gap(rubygems, records, since, limit=gap_fill_limit, report=report)

    discoveries: list[Discovery] = []
    keys: set[str] = set()
    for gem in new:
        if _gem_key(gem) in keys:
            continue
        keys.add(_gem_key(gem))
        discovery = to_discovery("rubygems", gem.name, gem.version, gem.source)
        if discovery is None:
            await note_unresolved(report, records, "rubygems", gem.name, gem.source)
        else:
            discoveries.append(discovery)
    await publish(discoveries, records=records, queue=queue)
    report.discovered = discoveries
    cursor = {"seen": sorted({_gem_key(g) for g in feed}), "at": polled_at.isoformat()}
    await records.set_cursor(RUBYGEMS_CURSOR, json.dumps(cursor))
    report.cursor = polled_at.isoformat()
    return report


async def _fill_gap(
    rubygems: RubyGemsClient,
    records: RecordStore,
    since: dt.datetime | None,
    *,
    limit: int,
    report: PollReport,
) -> list[Gem]:
    """Versions published after ``since`` by the gems we know, most recently active first."""
    known = [p async for p in records.iter_packages() if p.registry == "rubygems"]
    known.sort(key=lambda p: p.updated_at, reverse=True)
    found: list[Gem] = []
    for package in known[:limit]:
        try:
            versions = await rubygems.versions(package.name)
        except UpstreamError as exc:
            logger.warning("rubygems: versions of %s unavailable: %s", package.name, exc)
            report.errors += 1
            continue
        fresh = [v for v in versions if v.created_at and (since is None or v.created_at > since)]
        if fresh:
            try:
                gem = await rubygems.gem(package.name)
            except UpstreamError:
                report.errors += 1
                continue
            found += [Gem(gem.name, v.number, v.created_at, gem.source) for v in fresh]
    return found
