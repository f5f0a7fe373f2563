"""Crawling one repository: find its changelog, parse, render, store, announce.

The cost model drives the order of requests: GitHub charges every REST request except an authorised ``304``,
and raw downloads are not charged at all. A new repository costs one listing of its root plus one raw download;
an unchanged one costs a single conditional listing answered ``304`` (the root listing's ETag changes whenever
any file below it changes, because the listing carries each entry's tree or blob sha), plus, when its notes come
from GitHub Releases (which change no file), a conditional list of releases answered ``304`` too.

``Crawler.crawl`` holds the repository's lock (two workers never crawl one repository at once), applies the skip
rules (``decide``), and stores the outcome; ``due_for_recrawl`` picks what ``recrawl-stale`` revisits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

from core import changelog
from core.budget import BudgetGate, RateGate, SharedBudget
from core.changelog import FileInfo
from core.clients import GitHubClient, open_http
from core.errors import ChangelogError, Conflict, Empty, Gone, NotFound, QueueError
from core.feed import CrawlFeed
from core.models import (
    ChangelogDocument,
    ChangelogEntry,
    CrawledEvent,
    Outcome,
    PackageLink,
    PackageRecord,
    RepoRecord,
    RepoRef,
    SourceFile,
    VersionNotes,
    utcnow,
)
from core.pages import render_repo_page
from core.redis import open_redis
from core.settings import Settings
from core.store import (
    ArtifactStore,
    RecordStore,
    changelog_html_key,
    changelog_json_key,
    open_artifacts,
    open_records,
)

logger = logging.getLogger(__name__)

_ROOT = ""
# The ETag of the releases list is kept under a key no directory path can have (paths have no leading slash).
_RELEASES_ETAG = "/releases"
# A changelog made of GitHub Releases has this as its source path.
_FROM_RELEASES = "releases"
# Outcomes whose stored ETags still describe the repository.
_KNOWN = (Outcome.OK, Outcome.UNCHANGED, Outcome.NO_CHANGELOG)
# Daily revisits are drawn from this share of the interval up to all of it: a burst of first crawls spreads
# over the following days, and no repository waits longer than the interval.
_REVISIT_SPREAD = 0.75
_MIN_RECRAWL = 50


@dataclass(frozen=True, slots=True)
class CrawlRequest:
    """What to crawl: a repository, plus what discovery knows (the package directory and changelog hints)."""

    repo: RepoRef
    directory: str | None = None
    hints: tuple[str, ...] = ()
    force: bool = False
    discovered: bool = True


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """How a crawl ended, for the flow's table artifact and the logs: ``requests`` sent to GitHub, of which
    ``charged`` were billed to the budget (every other one was a raw download or an authorised ``304``)."""

    repo: str
    outcome: Outcome
    versions: int = 0
    latest_version: str | None = None
    requests: int = 0
    charged: int = 0
    ms: int = 0
    source: str | None = None
    renamed_to: str | None = None
    reason: str = ""
    event: CrawledEvent | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a repository is due for a crawl now, and why not."""

    crawl: bool
    reason: str


@dataclass(slots=True)
class _Found:
    """What the crawl found in the repository, before storing it."""

    entries: list[ChangelogEntry] = field(default_factory=list)
    source: SourceFile | None = None
    sha: str | None = None
    etags: dict[str, str] = field(default_factory=dict)
    unchanged: bool = False
    # Markdown link references defined once for the whole file (often at its end), used by every version.
    definitions: dict[str, str] = field(default_factory=dict)


def decide(
    record: RepoRecord | None, *, now: dt.datetime, settings: Settings, force: bool = False, discovered: bool = True
) -> Decision:
    """The skip rules: recently crawled, gone, no changelog, or backing off after failures.

    A new release (``discovered``) of a repository that has a changelog is worth a crawl once the minimum
    interval since the last one has passed; everything else waits for ``next_crawl_at``.
    """
    if force or record is None or record.next_crawl_at is None:
        return Decision(True, "forced" if force else "never crawled")
    if record.next_crawl_at <= now:
        return Decision(True, "due")
    earliest = _earliest(record, settings)
    if discovered and earliest is not None and earliest <= now:
        return Decision(True, "new release")
    wait = (earliest if discovered and earliest else record.next_crawl_at) - now
    reasons = {
        Outcome.GONE: "repository gone",
        Outcome.EMPTY: "repository empty",
        Outcome.NO_CHANGELOG: "no changelog",
    }
    if record.failures:
        why = f"backing off after {record.failures} failures"
    else:
        why = reasons.get(record.outcome, "crawled recently")
    return Decision(False, f"{why}; next crawl in {_human(wait)}")


def _human(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _earliest(record: RepoRecord, settings: Settings) -> dt.datetime | None:
    """When a new release may bring a repository with a changelog forward; never while it backs off failures."""
    if record.outcome not in (Outcome.OK, Outcome.UNCHANGED) or record.crawled_at is None or record.failures:
        return None
    return record.crawled_at + dt.timedelta(seconds=settings.recrawl_after_s)


def requested(record: RepoRecord, *, settings: Settings) -> RepoRecord:
    """A new release of a repository crawled too recently: make it due as soon as the minimum interval allows.

    A busy repository rediscovered every minute is therefore crawled once per interval, never starved, and the
    release that arrived inside the interval is not forgotten.
    """
    earliest = _earliest(record, settings)
    if earliest is not None and (record.next_crawl_at is None or earliest < record.next_crawl_at):
        return record.model_copy(update={"next_crawl_at": earliest})
    return record


async def due_for_recrawl(
    records: RecordStore, *, now: dt.datetime, settings: Settings, limit: int | None = None
) -> list[RepoRecord]:
    """The repositories one ``recrawl-stale`` run revisits: those due at ``now``, most overdue first.

    Without a ``limit``, a run takes twice its fair share (the known repositories over the runs of one revisit
    interval, at least ``_MIN_RECRAWL``): recrawls follow the spread-out due times instead of bursting, and a
    backlog drains within a few runs. Unchanged repositories cost no charged request (``304``), so the budget
    goes to those that changed.
    """
    if limit is None:
        counts = await records.counts()
        known = sum(n for key, n in counts.items() if key.startswith("repos:"))
        runs = max(settings.revisit_after_s * _REVISIT_SPREAD / settings.schedule_interval_s, 1.0)
        limit = max(math.ceil(2 * known / runs), _MIN_RECRAWL)
    return await records.due_repos(now, limit=limit)


class RepoLocks:
    """One short lock per repository in Redis: two workers never crawl the same repository at once.

    The queue gives each message to one consumer, but one repository can sit in two batches (two releases, or a
    discovery and a recrawl). The second crawl waits for the first and then, by the skip rules, finds it crawled
    moments ago. A lock outlives a dead holder by at most ``ttl_s``.
    """

    def __init__(self, redis: aioredis.Redis, *, ttl_s: float) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    @contextlib.asynccontextmanager
    async def hold(self, ref: RepoRef) -> AsyncIterator[None]:
        """Hold the lock of ``ref`` for the block; raises ``Conflict`` if it stays taken for ``ttl_s``."""
        lock = self.redis.lock(f"changelogs:crawl-lock:{ref.key}", timeout=self.ttl_s, blocking_timeout=self.ttl_s)
        with _map_errors():
            if not await lock.acquire():
                raise Conflict(f"{ref} is being crawled by another worker")
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:
                logger.warning("%s: the crawl outlasted its %.0f s lock", ref, self.ttl_s)
            except RedisError as exc:
                # The lock expires by itself; the crawl is done.
                logger.warning("%s: could not release the crawl lock: %s", ref, exc)


@contextlib.contextmanager
def _map_errors() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise QueueError(f"redis: {exc}") from exc


class Crawler:
    """Crawls repositories with one GitHub client and the stores; safe to share between concurrent crawls."""

    def __init__(
        self,
        *,
        github: GitHubClient,
        records: RecordStore,
        artifacts: ArtifactStore,
        feed: CrawlFeed | None,
        settings: Settings,
        locks: RepoLocks | None = None,
    ) -> None:
        self.github = github
        self.records = records
        self.artifacts = artifacts
        self.feed = feed
        self.settings = settings
        self.locks = locks

    @classmethod
    def open(
        cls, settings: Settings, *, token: str | None, pace: Callable[[], Awaitable[None]] | None = None
    ) -> Crawler:
        """A crawler on the stores ``settings`` name, calling GitHub with ``token``. Close it with ``aclose()``.

        With Redis (``REDIS_URL``) the GitHub budget, the repository locks and the live feed are those every
        worker shares, and ``pace`` is awaited after each charged request (see ``SharedBudget``). Without Redis the
        crawl runs alone: its own budget, no locks, nothing announced (a one-off crawl from the command line).
        """
        gate: RateGate
        if settings.redis_url:
            redis = open_redis(settings)
            gate = SharedBudget(
                redis,
                token=token,
                reserve_share=settings.github_budget_reserve,
                max_wait_s=settings.github_max_wait_s,
                # Longer than any request may take, redirects included.
                lease_s=3 * settings.http_timeout_s,
                pace=pace,
            )
            feed: CrawlFeed | None = CrawlFeed(redis)
            locks: RepoLocks | None = RepoLocks(redis, ttl_s=settings.crawl_lock_ttl_s)
        else:
            gate = BudgetGate(reserve_share=settings.github_budget_reserve, max_wait_s=settings.github_max_wait_s)
            feed = locks = None
        github = GitHubClient(open_http(settings), base_url=settings.github_api_url, token=token, gate=gate)
        return cls(
            github=github,
            records=open_records(settings),
            artifacts=open_artifacts(settings),
            feed=feed,
            settings=settings,
            locks=locks,
        )

    async def aclose(self) -> None:
        """Close the GitHub client, the stores and the Redis connection."""
        await self.github.aclose()
        if self.feed is not None:
            await self.feed.aclose()
        await self.records.aclose()
        await self.artifacts.aclose()

    async def previous(self, repo: RepoRef) -> RepoRecord | None:
        """The stored record of ``repo``, or ``None`` before its first crawl."""
        try:
            return await self.records.get_repo(repo.full_name)
        except NotFound:
            return None

    async def crawl(self, request: CrawlRequest) -> CrawlResult:
        """Crawl one repository to completion, holding its lock. Transient failures (``Unavailable``,
        ``RateLimited``, ``Conflict`` on the lock) propagate so the caller can retry; everything else ends in a
        stored outcome."""
        previous = await self.previous(request.repo)
        if previous is not None and previous.renamed_to:
            # GitHub redirected this name before: registries still naming it get the repository's current name,
            # and the old name stays out of the recrawls (it would come first among the due forever).
            if previous.next_crawl_at is None or previous.next_crawl_at <= utcnow():
                later = utcnow() + self._revisit(Outcome.GONE)
                await self.records.put_repo(previous.model_copy(update={"next_crawl_at": later}))
            request = dataclasses.replace(request, repo=RepoRef.parse(previous.renamed_to))
        started = time.perf_counter()
        with self.github.counting() as counter:
            if self.locks is None:
                result = await self._crawl(request)
            else:
                async with self.locks.hold(request.repo):
                    result = await self._crawl(request)
        return dataclasses.replace(result, requests=counter.total, charged=counter.charged.total(), ms=_ms(started))

    async def _crawl(self, request: CrawlRequest) -> CrawlResult:
        now = utcnow()
        ref = request.repo
        previous = await self.previous(ref)
        decision = decide(previous, now=now, settings=self.settings, force=request.force, discovered=request.discovered)
        if not decision.crawl:
            if previous is not None and request.discovered:
                await self.records.put_repo(requested(previous, settings=self.settings))
            return CrawlResult(ref.full_name, Outcome.SKIPPED, reason=decision.reason)

        packages = await self.records.packages_for_repo(ref.full_name)
        directory = request.directory or next((p.directory for p in packages if p.directory), None)
        hints = tuple(request.hints) + tuple(p.hint for p in packages if p.hint)
        try:
            found = await self._find(ref, previous, directory=directory, hints=hints)
        except Gone as exc:
            return await self._store_failure(ref, previous, Outcome.GONE, str(exc))
        except Empty as exc:
            return await self._store_failure(ref, previous, Outcome.EMPTY, str(exc))
        actual = RepoRef.parse(self.github.renamed.get(ref.key, ref.full_name))
        renamed_to = actual.full_name if actual.key != ref.key else None

        if found.unchanged and previous is not None:
            record = previous.model_copy(
                update={
                    "outcome": Outcome.OK if previous.outcome is Outcome.UNCHANGED else previous.outcome,
                    "crawled_at": now,
                    "next_crawl_at": now + self._revisit(previous.outcome),
                    "etags": previous.etags | found.etags,
                    "failures": 0,
                    "error": None,
                }
            )
            await self.records.put_repo(record)
            return CrawlResult(
                ref.full_name,
                Outcome.UNCHANGED,
                versions=previous.versions_count,
                latest_version=previous.latest_version,
                source=previous.source_path,
                reason="not modified",
            )

        target = actual if renamed_to else ref
        if renamed_to:
            await self._store_rename(ref, renamed_to, now)
        if not found.entries:
            record = RepoRecord(
                repo=target.full_name,
                outcome=Outcome.NO_CHANGELOG,
                crawled_at=now,
                next_crawl_at=now + self._revisit(Outcome.NO_CHANGELOG),
                etags=found.etags,
                directory=directory,
                error="no changelog file and no releases",
            )
            await self.records.put_repo(record)
            return CrawlResult(target.full_name, Outcome.NO_CHANGELOG, renamed_to=renamed_to)

        notes = [self._notes(entry, target, found.source, found.definitions) for entry in found.entries]
        document = ChangelogDocument(
            crawledAt=now,
            href=f"/api/github/{target.full_name}",
            repo=target.html_url,
            changelog=found.source.url if found.source else None,
            contents=notes,
            name=target.full_name,
            packages=[PackageLink(registry=p.registry, name=p.name) for p in packages],
            source=found.source,
        )
        await self._store_artifacts(target, document, packages)
        latest = _latest(found.entries)
        record = RepoRecord(
            repo=target.full_name,
            outcome=Outcome.OK,
            crawled_at=now,
            next_crawl_at=now + self._revisit(Outcome.OK),
            source_path=found.source.path if found.source else None,
            source_format=found.source.format if found.source else None,
            source_url=found.source.url if found.source else None,
            source_sha=found.sha,
            directory=directory,
            etags=found.etags,
            versions_count=len(found.entries),
            latest_version=latest.version if latest else None,
            latest_date=latest.date if latest else None,
        )
        await self.records.put_repo(record)
        event = CrawledEvent(
            changelog=target.full_name,
            crawledAt=now,
            href=document.href,
            repo=document.repo,
            changelogUrl=document.changelog,
            version=latest.version if latest else None,
        )
        if self.feed is not None:
            event = await self.feed.publish(event)
        return CrawlResult(
            target.full_name,
            Outcome.OK,
            versions=len(found.entries),
            latest_version=event.version,
            source=found.source.path if found.source else None,
            renamed_to=renamed_to,
            event=event,
        )

    async def record_failure(self, request: CrawlRequest, error: BaseException) -> RepoRecord:
        """After retries ran out: back off exponentially (5 min, 10 min, … capped at a day)."""
        previous = await self.previous(request.repo)
        failures = (previous.failures if previous else 0) + 1
        now = utcnow()
        backoff = dt.timedelta(seconds=min(300 * 2 ** (failures - 1), 86400))
        base = previous or RepoRecord(repo=request.repo.full_name, outcome=Outcome.FAILED)
        record = base.model_copy(
            update={
                "outcome": Outcome.FAILED if previous is None or previous.outcome != Outcome.OK else Outcome.OK,
                "failures": failures,
                "next_crawl_at": now + backoff,
                "error": f"{type(error).__name__}: {error}"[:500],
            }
        )
        await self.records.put_repo(record)
        return record

    def _revisit(self, outcome: Outcome) -> dt.timedelta:
        if outcome is Outcome.GONE:
            return dt.timedelta(days=self.settings.gone_backoff_days)
        if outcome in (Outcome.NO_CHANGELOG, Outcome.EMPTY):
            return dt.timedelta(days=self.settings.no_changelog_backoff_days)
        return dt.timedelta(seconds=self.settings.revisit_after_s * random.uniform(_REVISIT_SPREAD, 1.0))

    async def _store_rename(self, ref: RepoRef, renamed_to: str, now: dt.datetime) -> None:
        """The old name's record: gone, pointing at the new one (discoveries naming it are redirected there)."""
        record = RepoRecord(
            repo=ref.full_name,
            outcome=Outcome.GONE,
            crawled_at=now,
            next_crawl_at=now + self._revisit(Outcome.GONE),
            renamed_to=renamed_to,
        )
        await self.records.put_repo(record)

    async def _store_failure(
        self,
        ref: RepoRef,
        previous: RepoRecord | None,
        outcome: Outcome,
        why: str,
    ) -> CrawlResult:
        now = utcnow()
        base = previous or RepoRecord(repo=ref.full_name, outcome=outcome)
        record = base.model_copy(
            update={
                "outcome": outcome,
                "crawled_at": now,
                "next_crawl_at": now + self._revisit(outcome),
                "error": why[:500],
                "failures": 0,
            }
        )
        await self.records.put_repo(record)
        return CrawlResult(ref.full_name, outcome, reason=why)

    async def _find(
        self, ref: RepoRef, previous: RepoRecord | None, *, directory: str | None, hints: Sequence[str]
    ) -> _Found:
        """What the repository holds now, asking only what may have changed since ``previous``.

        Every listing that may be repeated goes with its stored ETag: an unchanged root answers ``304`` (free),
        and so does an unchanged list of releases when the notes came from there (a new release changes no file).
        """
        found = _Found()
        old = previous.etags if previous is not None and previous.outcome in _KNOWN else {}
        known = previous if old else None
        releases_etag = None
        if known is not None and (known.source_path == _FROM_RELEASES or known.outcome is Outcome.NO_CHANGELOG):
            releases_etag = old.get(_RELEASES_ETAG)
        root = await self.github.list_dir(ref, _ROOT, etag=old.get(_ROOT))
        if root.etag:
            found.etags[_ROOT] = root.etag
        if root.not_modified:
            if releases_etag is None:
                found.unchanged = True
                return found
            # No file changed, so no changelog appeared: only the releases may be new.
            return await self._releases(ref, found, directory=directory, etag=releases_etag)
        listing: list[FileInfo] = list(root.value or ())
        hint_paths = [p for p in (changelog.changelog_hint_path(h, ref) for h in hints) if p]
        candidates = changelog.find(listing, hints=hint_paths, directory=directory)
        if not candidates:
            for path in changelog.dirs_to_list(listing, directory=directory):
                # A directory's listing is asked conditionally when its answer last time settles the question:
                # it held the changelog, or nothing in the repository was one.
                inside = known is not None and (known.source_path or "").startswith(f"{path.strip('/')}/")
                settled = inside or (known is not None and known.outcome is Outcome.NO_CHANGELOG)
                try:
                    sub = await self.github.list_dir(ref, path, etag=old.get(path) if settled else None)
                except NotFound:
                    continue
                if sub.etag:
                    found.etags[path] = sub.etag
                if sub.not_modified and inside:  # the directory that holds the changelog is as it was
                    found.unchanged = True
                    return found
                listing.extend(sub.value or ())  # nothing when unchanged: it held no changelog then either
            candidates = changelog.find(listing, hints=hint_paths, directory=directory)
        for candidate in candidates:
            if previous and candidate.sha and candidate.sha == previous.source_sha:
                found.unchanged = True
                return found
            entries, source, definitions = await self._read(ref, candidate)
            if entries:
                found.entries, found.source, found.sha = entries, source, candidate.sha
                found.definitions = definitions
                return found
        return await self._releases(ref, found, directory=directory, etag=releases_etag)

    async def _releases(self, ref: RepoRef, found: _Found, *, directory: str | None, etag: str | None) -> _Found:
        """The notes of the GitHub Releases, the fallback when no changelog file is usable."""
        releases = await self.github.releases(ref, etag=etag)
        if releases.etag:
            found.etags[_RELEASES_ETAG] = releases.etag
        if releases.not_modified:
            found.unchanged = True
            return found
        package = directory.rstrip("/").rsplit("/", 1)[-1] if directory else None
        found.entries = changelog.from_releases(releases.value or [], package=package)
        if found.entries:
            found.source = SourceFile(
                path=_FROM_RELEASES, format="markdown", url=None, html_url=f"{ref.html_url}/releases"
            )
        return found

    async def _read(
        self, ref: RepoRef, candidate: FileInfo
    ) -> tuple[list[ChangelogEntry], SourceFile | None, dict[str, str]]:
        limit = self.settings.max_changelog_bytes
        try:
            fetched = await self.github.fetch_file(candidate.download_url or candidate.path, ref=ref, limit=limit)
            download = fetched.value
            if download is None:  # no ETag was sent, so a 304 cannot happen; treat it as missing
                return [], None, {}
            decoded = changelog.decode(download.content, limit=limit)
        except (NotFound, ChangelogError) as exc:
            logger.info("%s: %s is not usable: %s", ref, candidate.path, exc)
            return [], None, {}
        truncated = download.truncated or decoded.truncated
        size = download.size or candidate.size or decoded.size
        if truncated:
            logger.warning("%s: %s cut at %d of %s bytes", ref, candidate.path, limit, size)
        fmt = changelog.detect_format(candidate.name, decoded.text)
        entries = changelog.parse(decoded.text, format=fmt, filename=candidate.name)
        source = SourceFile(
            path=candidate.path,
            format=fmt,
            url=candidate.download_url,
            html_url=f"{ref.html_url}/blob/HEAD/{candidate.path}",
            truncated=truncated,
            size=size,
        )
        definitions = changelog.link_definitions(decoded.text) if fmt == "markdown" else {}
        return entries, source, definitions

    def _notes(
        self, entry: ChangelogEntry, ref: RepoRef, source: SourceFile | None, definitions: dict[str, str]
    ) -> VersionNotes:
        fmt = source.format if source else "markdown"
        path = source.path if source else None
        html = changelog.render(entry.body, format=fmt, repo=ref, path=path, definitions=definitions)
        return VersionNotes(version=entry.version, date=entry.date, title=entry.title, body=entry.body, html=html)

    async def _store_artifacts(
        self, ref: RepoRef, document: ChangelogDocument, packages: Sequence[PackageRecord]
    ) -> None:
        await self.artifacts.put(
            changelog_json_key(ref.full_name),
            document.model_dump_json().encode(),
            content_type="application/json",
        )
        page = render_repo_page(document, site_url=self.settings.site_url)
        await self.artifacts.put(
            changelog_html_key(ref.full_name), page.encode(), content_type="text/html; charset=utf-8"
        )


def _latest(entries: Sequence[ChangelogEntry]) -> ChangelogEntry | None:
    released = [e for e in entries if e.version != "Unreleased"]
    if not released:
        return None
    return changelog.newest(released)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
