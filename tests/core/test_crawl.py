"""Crawling repositories of the sandbox's world: every kind of repository ends in the outcome it should."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.budget import BudgetGate
from core.clients import GitHubClient
from core.crawl import Crawler, CrawlRequest, decide, due_for_recrawl, requested
from core.errors import Conflict, NotFound, Unavailable
from core.models import ChangelogDocument, Outcome, RepoRecord, RepoRef, utcnow
from core.settings import Settings
from core.store import changelog_html_key, changelog_json_key, open_artifacts, open_records
from sandbox import Sandbox

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
BASE = "https://api.github.test"


@pytest.fixture(scope="module")
def world_sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=3, packages=300) as sb:
        yield sb


@pytest.fixture
def summary(world_sandbox: Sandbox) -> dict[str, Any]:
    return world_sandbox.world.summary()


@pytest.fixture
def crawl_settings(settings: Settings, world_sandbox: Sandbox) -> Settings:
    world_sandbox.reset_stats()
    return settings.model_copy(update={"github_api_url": world_sandbox.env["CHANGELOGS_GITHUB_API_URL"]})


@pytest.fixture
async def crawler(crawl_settings: Settings) -> AsyncIterator[Crawler]:
    """A crawler as a worker opens it: the budget, the locks and the feed in the test Redis."""
    crawler = Crawler.open(crawl_settings, token="test-token")
    yield crawler
    await crawler.aclose()


def _ref(name: str) -> RepoRef:
    return RepoRef.parse(name)


async def test_a_repository_with_a_changelog_is_parsed_stored_and_announced(crawler: Crawler, summary) -> None:
    entry = next(r for r in summary["repos"]["changelog"] if r["source"] not in ("xss",) and not r["directory"])
    result = await crawler.crawl(CrawlRequest(_ref(entry["repo"])))
    assert result.outcome is Outcome.OK, result
    assert result.versions > 0
    assert result.source == entry["path"]
    assert result.event is not None and result.event.id
    document = ChangelogDocument.model_validate_json(await crawler.artifacts.get(changelog_json_key(entry["repo"])))
    assert document.href == f"/api/github/{entry['repo']}"
    assert len(document.contents) == result.versions
    assert all(v.html for v in document.contents if v.body.strip())
    page = (await crawler.artifacts.get(changelog_html_key(entry["repo"]))).decode()
    assert document.contents[0].version in page
    record = await crawler.records.get_repo(entry["repo"])
    assert record.outcome is Outcome.OK and record.source_path == entry["path"]


async def test_every_kind_of_repository_ends_in_its_outcome(crawler: Crawler, summary) -> None:
    expected = {
        "changelog": Outcome.OK,
        "releases-only": Outcome.OK,
        "no-changelog": Outcome.NO_CHANGELOG,
        "gone": Outcome.GONE,
        "blocked": Outcome.GONE,
        "empty": Outcome.EMPTY,
        "renamed": Outcome.OK,
        "not-a-changelog": Outcome.NO_CHANGELOG,
        "too-large": Outcome.OK,
    }
    wrong = []
    seen: set[str] = set()
    for kind, outcome in expected.items():
        # A repository can be of two kinds (renamed, and without changelog): its second crawl finds it unchanged.
        for entry in [e for e in summary["repos"][kind] if e["repo"] not in seen][:4]:
            seen.add(entry["repo"])
            request = CrawlRequest(_ref(entry["repo"]), directory=entry.get("directory"), force=True)
            result = await crawler.crawl(request)
            if result.outcome is not outcome and not (kind == "renamed" and result.outcome is Outcome.NO_CHANGELOG):
                wrong.append((kind, entry["repo"], result.outcome, result.reason))
    assert wrong == []


async def test_a_renamed_repository_is_stored_under_its_new_name(crawler: Crawler, summary) -> None:
    for entry in summary["repos"]["renamed"]:
        result = await crawler.crawl(CrawlRequest(_ref(entry["repo"])))
        assert result.renamed_to == entry["new"]
        old = await crawler.records.get_repo(entry["repo"])
        assert old.renamed_to == entry["new"]
        if result.outcome is Outcome.OK:
            assert (await crawler.records.get_repo(entry["new"])).outcome is Outcome.OK
            return
    pytest.fail("no renamed repository with a changelog in this world")


async def test_an_unchanged_repository_costs_one_uncharged_request(crawler: Crawler, summary, world_sandbox) -> None:
    entry = summary["repos"]["changelog"][0]
    first = await crawler.crawl(CrawlRequest(_ref(entry["repo"]), directory=entry.get("directory")))
    assert first.outcome is Outcome.OK
    again = await crawler.crawl(CrawlRequest(_ref(entry["repo"]), directory=entry.get("directory"), force=True))
    assert again.outcome is Outcome.UNCHANGED
    assert again.requests == 1


async def test_the_huge_changelog_is_cut_and_reported(crawler: Crawler, summary) -> None:
    entry = summary["special"]["huge"]
    result = await crawler.crawl(CrawlRequest(_ref(entry["repo"])))
    assert result.outcome is Outcome.OK
    document = ChangelogDocument.model_validate_json(await crawler.artifacts.get(changelog_json_key(entry["repo"])))
    assert document.source is not None and document.source.truncated


async def test_hostile_changelog_html_is_sanitized(crawler: Crawler, summary) -> None:
    entry = summary["special"]["xss"]
    result = await crawler.crawl(CrawlRequest(_ref(entry["repo"])))
    assert result.outcome is Outcome.OK
    page = (await crawler.artifacts.get(changelog_html_key(entry["repo"]))).decode().lower()
    notes = "".join(part.split("</section>")[0] for part in page.split('<div class="notes">')[1:])
    assert notes
    for bad in ("<script", "javascript:", "onerror=", "onload=", "<iframe"):
        assert bad not in notes


async def test_link_references_defined_at_the_end_of_the_file_are_links_in_every_version(
    crawler: Crawler, summary
) -> None:
    # Keep a Changelog credits people as `[@tianshuo]` in 0.3.0 and defines the link 170 lines further down.
    entry = next(r for r in summary["repos"]["changelog"] if r["source"] == "corpus:olivierlacan-keep-a-changelog")
    result = await crawler.crawl(CrawlRequest(_ref(entry["repo"])))
    assert result.outcome is Outcome.OK
    document = ChangelogDocument.model_validate_json(await crawler.artifacts.get(changelog_json_key(entry["repo"])))
    credited = [v for v in document.contents if "from [@tianshuo]" in v.body]
    assert credited
    for notes in credited:
        # A link made from the definition, not an @mention linked between the brackets left as text.
        assert '<a href="https://github.com/tianshuo"' in notes.html
        assert "[@tianshuo]" not in notes.html and "[<a" not in notes.html


async def test_a_missing_record_raises_not_found(crawler: Crawler) -> None:
    with pytest.raises(NotFound):
        await crawler.records.get_repo("nobody/nothing")


class TestSkipRules:
    def _record(self, outcome: Outcome, *, crawled_ago: dt.timedelta, next_in: dt.timedelta) -> RepoRecord:
        return RepoRecord(repo="a/b", outcome=outcome, crawled_at=NOW - crawled_ago, next_crawl_at=NOW + next_in)

    def test_a_repository_never_crawled_is_crawled(self, settings: Settings) -> None:
        assert decide(None, now=NOW, settings=settings).crawl

    def test_a_new_release_within_the_hour_waits(self, settings: Settings) -> None:
        record = self._record(Outcome.OK, crawled_ago=dt.timedelta(minutes=10), next_in=dt.timedelta(hours=23))
        decision = decide(record, now=NOW, settings=settings)
        assert not decision.crawl and "crawled recently" in decision.reason

    def test_a_new_release_after_the_hour_is_crawled_even_before_the_daily_revisit(self, settings: Settings) -> None:
        record = self._record(Outcome.OK, crawled_ago=dt.timedelta(minutes=61), next_in=dt.timedelta(hours=22))
        assert decide(record, now=NOW, settings=settings).crawl
        assert not decide(record, now=NOW, settings=settings, discovered=False).crawl

    def test_a_busy_repository_rediscovered_inside_the_hour_becomes_due_at_the_hour(self, settings: Settings) -> None:
        record = self._record(Outcome.OK, crawled_ago=dt.timedelta(minutes=10), next_in=dt.timedelta(hours=23))
        due = requested(record, settings=settings)
        assert due.next_crawl_at == record.crawled_at + dt.timedelta(seconds=settings.recrawl_after_s)

    @pytest.mark.parametrize(
        "outcome, days",
        [pytest.param(Outcome.GONE, 179, id="gone-180-days"), pytest.param(Outcome.NO_CHANGELOG, 6, id="none-7-days")],
    )
    def test_negative_outcomes_back_off(self, settings: Settings, outcome: Outcome, days: int) -> None:
        record = self._record(outcome, crawled_ago=dt.timedelta(days=1), next_in=dt.timedelta(days=days))
        decision = decide(record, now=NOW, settings=settings)
        assert not decision.crawl

    def test_a_failing_repository_backs_off_even_for_a_new_release(self, settings: Settings) -> None:
        record = self._record(Outcome.OK, crawled_ago=dt.timedelta(hours=3), next_in=dt.timedelta(minutes=20))
        failing = record.model_copy(update={"failures": 3})
        assert decide(record, now=NOW, settings=settings).crawl
        decision = decide(failing, now=NOW, settings=settings)
        assert not decision.crawl and decision.reason == "backing off after 3 failures; next crawl in 20m"
        assert requested(failing, settings=settings) == failing

    def test_force_ignores_every_rule(self, settings: Settings) -> None:
        record = self._record(Outcome.GONE, crawled_ago=dt.timedelta(days=1), next_in=dt.timedelta(days=100))
        assert decide(record, now=NOW, settings=settings, force=True).crawl


def _charged(sandbox: Sandbox) -> int:
    return int(sandbox.stats()["github"].get("charged", 0))


def _package_of(summary: dict[str, Any], repo: str) -> dict[str, Any]:
    return next(p for p in summary["packages"]["github"] if p["repo"].lower() == repo.lower())


def _pick(summary: dict[str, Any], kind: str) -> dict[str, Any]:
    changelogs = [e for e in summary["repos"]["changelog"] if e["source"] not in ("xss",)]
    picks = {
        "root-changelog": lambda: next(e for e in changelogs if "/" not in e["path"]),
        "docs-changelog": lambda: next(e for e in changelogs if "/" in e["path"] and not e["directory"]),
        "monorepo-package": lambda: next(e for e in changelogs if e["directory"]),
        "releases-only": lambda: next(e for e in summary["repos"]["releases-only"] if e["releases"]),
        "no-changelog": lambda: summary["repos"]["no-changelog"][0],
    }
    return picks[kind]()


class TestConditionalRecrawls:
    @pytest.mark.parametrize(
        "kind", ["root-changelog", "docs-changelog", "monorepo-package", "releases-only", "no-changelog"]
    )
    async def test_an_unchanged_repository_is_recrawled_without_a_charged_request(
        self, crawler: Crawler, summary: dict[str, Any], world_sandbox: Sandbox, kind: str
    ) -> None:
        entry = _pick(summary, kind)
        request = CrawlRequest(_ref(entry["repo"]), directory=entry.get("directory"), force=True)
        first = await crawler.crawl(request)
        assert first.outcome in (Outcome.OK, Outcome.NO_CHANGELOG), first
        world_sandbox.reset_stats()
        again = await crawler.crawl(request)
        assert again.outcome is Outcome.UNCHANGED, again
        assert _charged(world_sandbox) == 0
        record = await crawler.records.get_repo(first.repo)
        assert record.outcome is first.outcome
        assert record.versions_count == first.versions

    async def test_a_new_github_release_of_a_releases_only_repository_is_found(
        self, crawler: Crawler, summary: dict[str, Any], world_sandbox: Sandbox
    ) -> None:
        entry = _pick(summary, "releases-only")
        request = CrawlRequest(_ref(entry["repo"]), force=True)
        first = await crawler.crawl(request)
        assert first.outcome is Outcome.OK and first.source == "releases"
        package = _package_of(summary, entry["repo"])
        release = world_sandbox.publish(package["registry"], package["name"])
        again = await crawler.crawl(request)
        assert again.outcome is Outcome.OK, again
        assert again.versions == first.versions + 1
        assert again.latest_version is not None and release["version"] in again.latest_version

    async def test_a_new_version_on_top_of_an_authored_changelog_is_found(
        self, crawler: Crawler, summary: dict[str, Any], world_sandbox: Sandbox
    ) -> None:
        entry = next(e for e in summary["repos"]["changelog"] if e["source"] == "authored" and "/" not in e["path"])
        request = CrawlRequest(_ref(entry["repo"]), force=True)
        first = await crawler.crawl(request)
        package = _package_of(summary, entry["repo"])
        release = world_sandbox.publish(package["registry"], package["name"])
        again = await crawler.crawl(request)
        assert again.outcome is Outcome.OK
        assert again.versions == first.versions + 1
        assert again.latest_version == release["version"]

    async def test_a_new_release_that_changes_no_file_is_found(self, settings: Settings) -> None:
        # On GitHub a release is a tag: the root listing stays 304, only the releases list changes.
        releases = [{"tag_name": "v1.0.0", "name": "1.0.0", "body": "First", "published_at": "2026-01-01T00:00:00Z"}]
        seen: list[tuple[str, str | None]] = []

        def github(request: httpx.Request) -> httpx.Response:
            seen.append((request.url.path, request.headers.get("if-none-match")))
            if request.url.path.endswith("/releases"):
                body = json.dumps(releases).encode()
                tag = f'"releases-{len(releases)}"'
            else:
                body, tag = (
                    json.dumps([{"type": "file", "name": "README.md", "path": "README.md", "size": 9}]).encode(),
                    '"root"',
                )
            if request.headers.get("if-none-match") == tag:
                return httpx.Response(304, headers={"etag": tag})
            return httpx.Response(200, content=body, headers={"etag": tag, "content-type": "application/json"})

        http = httpx.AsyncClient(transport=httpx.MockTransport(github))
        crawler = Crawler(
            github=GitHubClient(http, base_url=BASE, token="t"),
            records=open_records(settings),
            artifacts=open_artifacts(settings),
            feed=None,
            settings=settings,
        )
        request = CrawlRequest(_ref("octo/tags"), force=True)
        try:
            assert (await crawler.crawl(request)).versions == 1
            assert (await crawler.crawl(request)).outcome is Outcome.UNCHANGED
            releases.insert(0, {"tag_name": "v1.1.0", "body": "Second", "published_at": "2026-02-01T00:00:00Z"})
            again = await crawler.crawl(request)
        finally:
            await crawler.aclose()
        assert again.outcome is Outcome.OK and again.latest_version == "1.1.0"
        assert seen[-2:] == [("/repos/octo/tags/contents/", '"root"'), ("/repos/octo/tags/releases", '"releases-1"')]

    async def test_a_repository_without_changelog_asks_its_docs_listing_conditionally(self, settings: Settings) -> None:
        readme = ["v1"]
        seen: list[tuple[str, str | None]] = []

        def github(request: httpx.Request) -> httpx.Response:
            path, etag = request.url.path, request.headers.get("if-none-match")
            seen.append((path, etag))
            if path.endswith("/releases"):
                body, tag = [], '"releases"'
            elif path.endswith("/contents/docs"):
                body, tag = [{"type": "file", "name": "index.md", "path": "docs/index.md", "size": 5}], '"docs"'
            else:
                body = [
                    {"type": "file", "name": "README.md", "path": "README.md", "size": 9, "sha": readme[0]},
                    {"type": "dir", "name": "docs", "path": "docs", "size": 0, "sha": "d1"},
                ]
                tag = f'"root-{readme[0]}"'
            if etag == tag:
                return httpx.Response(304, headers={"etag": tag})
            return httpx.Response(200, json=body, headers={"etag": tag})

        crawler = Crawler(
            github=GitHubClient(httpx.AsyncClient(transport=httpx.MockTransport(github)), base_url=BASE, token="t"),
            records=open_records(settings),
            artifacts=open_artifacts(settings),
            feed=None,
            settings=settings,
        )
        request = CrawlRequest(_ref("octo/plain"), force=True)
        try:
            assert (await crawler.crawl(request)).outcome is Outcome.NO_CHANGELOG
            readme[0] = "v2"  # the README changed: the root listing with it, docs/ did not
            again = await crawler.crawl(request)
        finally:
            await crawler.aclose()
        assert again.outcome is Outcome.UNCHANGED
        assert again.charged == 1
        assert seen[-3:] == [
            ("/repos/octo/plain/contents/", '"root-v1"'),
            ("/repos/octo/plain/contents/docs", '"docs"'),
            ("/repos/octo/plain/releases", '"releases"'),
        ]


class TestConcurrency:
    async def test_two_workers_never_crawl_one_repository_at_once(
        self, crawl_settings: Settings, summary: dict[str, Any], world_sandbox: Sandbox
    ) -> None:
        entry = _pick(summary, "root-changelog")
        workers = [Crawler.open(crawl_settings, token="test-token") for _ in range(2)]
        try:
            results = await asyncio.gather(*(w.crawl(CrawlRequest(_ref(entry["repo"]))) for w in workers))
            events = await workers[0].feed.recent(limit=10) if workers[0].feed else []
        finally:
            for worker in workers:
                await worker.aclose()
        assert sorted(r.outcome for r in results) == sorted([Outcome.OK, Outcome.SKIPPED])
        assert "crawled recently" in next(r.reason for r in results if r.outcome is Outcome.SKIPPED)
        assert [e.changelog for e in events] == [entry["repo"]]
        assert world_sandbox.stats()["github"]["routes"] == {"contents": 1, "raw": 1}

    async def test_a_lock_held_past_its_wait_is_a_conflict(self, crawl_settings: Settings) -> None:
        crawler = Crawler.open(crawl_settings.model_copy(update={"crawl_lock_ttl_s": 0.5}), token="t")
        assert crawler.locks is not None
        try:
            async with crawler.locks.hold(_ref("a/b")):
                with pytest.raises(Conflict):
                    async with crawler.locks.hold(_ref("A/B")):
                        pass
        finally:
            await crawler.aclose()

    async def test_without_redis_a_crawler_runs_alone(self, data_dir: Path, world_sandbox: Sandbox) -> None:
        settings = Settings(data_dir=data_dir, github_api_url=world_sandbox.env["CHANGELOGS_GITHUB_API_URL"])
        crawler = Crawler.open(settings, token=None)
        try:
            assert crawler.feed is None and crawler.locks is None
            assert isinstance(crawler.github.gate, BudgetGate)
            result = await crawler.crawl(CrawlRequest(_ref(world_sandbox.world.summary()["repos"]["gone"][0]["repo"])))
            assert result.outcome is Outcome.GONE
        finally:
            await crawler.aclose()


class TestSchedule:
    async def test_daily_revisits_are_spread_and_never_later_than_the_interval(
        self, crawler: Crawler, summary: dict[str, Any]
    ) -> None:
        entries = [e for e in summary["repos"]["changelog"] if not e["directory"] and e["source"] != "huge"][:12]
        started = utcnow()
        for entry in entries:
            assert (await crawler.crawl(CrawlRequest(_ref(entry["repo"])))).outcome is Outcome.OK
        records = [await crawler.records.get_repo(e["repo"]) for e in entries]
        interval = dt.timedelta(seconds=crawler.settings.revisit_after_s)
        waits = [r.next_crawl_at - r.crawled_at for r in records if r.next_crawl_at and r.crawled_at]
        assert len(waits) == len(entries)
        assert all(0.75 * interval <= w <= interval for w in waits)
        assert max(waits) - min(waits) > dt.timedelta(minutes=30), "revisits all fall at one time"
        assert all(r.crawled_at and r.crawled_at >= started for r in records)

    async def test_a_busy_repository_rediscovered_every_minute_is_crawled_once_an_hour(
        self, crawler: Crawler, summary: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        entry = _pick(summary, "root-changelog")
        clock = [NOW]
        monkeypatch.setattr("core.crawl.utcnow", lambda: clock[0])
        assert (await crawler.crawl(CrawlRequest(_ref(entry["repo"]), force=True))).outcome is Outcome.OK
        crawled_at = []
        for minute in range(1, 125):
            clock[0] = NOW + dt.timedelta(minutes=minute)
            result = await crawler.crawl(CrawlRequest(_ref(entry["repo"])))
            if result.outcome is not Outcome.SKIPPED:
                crawled_at.append(minute)
        assert crawled_at == [60, 120]

    async def test_failures_back_off_exponentially(self, crawler: Crawler) -> None:
        request = CrawlRequest(_ref("nobody/flaky"))
        waits = []
        for _ in range(3):
            record = await crawler.record_failure(request, Unavailable("GitHub failed", status=502))
            assert record.next_crawl_at is not None
            waits.append(round((record.next_crawl_at - utcnow()).total_seconds() / 60))
        assert waits == [5, 10, 20]
        decision = decide(record, now=utcnow(), settings=crawler.settings)
        assert not decision.crawl and "backing off after 3 failures" in decision.reason

    async def test_a_renamed_repository_is_crawled_under_its_new_name_when_rediscovered(
        self, crawler: Crawler, summary: dict[str, Any]
    ) -> None:
        entry = summary["repos"]["renamed"][0]
        await crawler.crawl(CrawlRequest(_ref(entry["repo"])))
        old = await crawler.records.get_repo(entry["repo"])
        assert old.renamed_to == entry["new"]
        again = await crawler.crawl(CrawlRequest(_ref(entry["repo"]), force=True))
        assert again.repo == entry["new"]

    async def test_an_old_name_that_falls_due_is_not_recrawled_again_and_again(
        self, crawler: Crawler, summary: dict[str, Any]
    ) -> None:
        entry = summary["repos"]["renamed"][1]
        await crawler.crawl(CrawlRequest(_ref(entry["repo"])))
        old = await crawler.records.get_repo(entry["repo"])
        await crawler.records.put_repo(old.model_copy(update={"next_crawl_at": utcnow() - dt.timedelta(days=1)}))
        assert entry["repo"] in [r.repo for r in await crawler.records.due_repos(utcnow(), limit=100)]
        result = await crawler.crawl(CrawlRequest(_ref(entry["repo"]), discovered=False))
        assert result.repo == entry["new"]
        assert entry["repo"] not in [r.repo for r in await crawler.records.due_repos(utcnow(), limit=100)]


class TestDueForRecrawl:
    async def test_a_run_takes_twice_its_fair_share_of_the_due_most_overdue_first(self, settings: Settings) -> None:
        records = open_records(settings)
        settings = settings.model_copy(update={"schedule_interval_s": 3600.0, "revisit_after_s": 86400})
        try:
            for i in range(90):
                due = NOW - dt.timedelta(minutes=i) if i < 60 else NOW + dt.timedelta(hours=1)
                await records.put_repo(RepoRecord(repo=f"o/r{i}", outcome=Outcome.OK, next_crawl_at=due))
            # 90 known, revisited within 18 h at the earliest: 18 hourly runs, a fair share of 5 and twice that 10,
            # but never fewer than 50.
            due = await due_for_recrawl(records, now=NOW, settings=settings)
            assert [r.repo for r in due] == [f"o/r{i}" for i in range(59, 9, -1)]
            assert len(await due_for_recrawl(records, now=NOW, settings=settings, limit=7)) == 7
            for i in range(90, 1000):
                await records.put_repo(RepoRecord(repo=f"o/r{i}", outcome=Outcome.OK, next_crawl_at=NOW))
            assert len(await due_for_recrawl(records, now=NOW, settings=settings)) == 112  # ceil(2 * 1000 / 18)
        finally:
            await records.aclose()
