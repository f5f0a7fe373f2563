"""Crawling repositories of the sandbox's world: every kind of repository ends in the outcome it should."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from core.clients import GitHubClient, open_http
from core.crawl import Crawler, CrawlRequest, decide, requested
from core.errors import NotFound
from core.feed import CrawlFeed
from core.models import ChangelogDocument, Outcome, RepoRecord, RepoRef
from core.settings import Settings
from core.store import changelog_html_key, changelog_json_key, open_artifacts, open_records
from sandbox import Sandbox

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def world_sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=3, packages=300) as sb:
        yield sb


@pytest.fixture
def summary(world_sandbox: Sandbox) -> dict[str, Any]:
    return world_sandbox.world.summary()


@pytest.fixture
async def crawler(settings: Settings, world_sandbox: Sandbox) -> AsyncIterator[Crawler]:
    world_sandbox.reset_stats()
    settings = settings.model_copy(update={"github_api_url": world_sandbox.env["CHANGELOGS_GITHUB_API_URL"]})
    records, artifacts, feed = open_records(settings), open_artifacts(settings), CrawlFeed.open(settings)
    github = GitHubClient(open_http(settings), base_url=settings.github_api_url, token="test-token")
    yield Crawler(github=github, records=records, artifacts=artifacts, feed=feed, settings=settings)
    await github.aclose()
    await feed.aclose()
    await records.aclose()


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
    for kind, outcome in expected.items():
        for entry in summary["repos"][kind][:4]:
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

    def test_force_ignores_every_rule(self, settings: Settings) -> None:
        record = self._record(Outcome.GONE, crawled_ago=dt.timedelta(days=1), next_in=dt.timedelta(days=100))
        assert decide(record, now=NOW, settings=settings, force=True).crawl
