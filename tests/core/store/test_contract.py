"""The contract every record and artifact store keeps, run against each backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from core.errors import NotFound, StoreError
from core.models import Outcome, PackageRecord, RepoRecord
from core.settings import Settings
from core.store import ArtifactStore, RecordStore, open_artifacts, open_records

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

# moto runs as a process of its own, and its round trips make these the slow half of the suite.
ON_MOTO = [pytest.mark.aws, pytest.mark.e2e]


def _backend_settings(request: pytest.FixtureRequest) -> Settings:
    # Local backends on the default settings; AWS ones on infra/data.yaml deployed into moto.
    fixture = "aws_settings" if request.param in ("dynamodb", "s3") else "settings"
    backend_settings: Settings = request.getfixturevalue(fixture)
    return backend_settings


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), pytest.param("dynamodb", id="dynamodb", marks=ON_MOTO)])
def records_settings(request: pytest.FixtureRequest) -> Settings:
    return _backend_settings(request)


@pytest.fixture(params=[pytest.param("file", id="files"), pytest.param("s3", id="s3", marks=ON_MOTO)])
def artifacts_settings(request: pytest.FixtureRequest) -> Settings:
    return _backend_settings(request)


@pytest.fixture
async def records(records_settings: Settings) -> AsyncIterator[RecordStore]:
    store = open_records(records_settings)
    yield store
    await store.aclose()


@pytest.fixture
async def artifacts(artifacts_settings: Settings) -> AsyncIterator[ArtifactStore]:
    store = open_artifacts(artifacts_settings)
    yield store
    await store.aclose()


def _repo(name: str, **fields: object) -> RepoRecord:
    defaults: dict[str, object] = {"repo": name, "outcome": Outcome.OK, "crawled_at": NOW}
    return RepoRecord(**(defaults | fields))


class TestRecordStoreContract:
    async def test_get_repo_raises_not_found_when_missing(self, records: RecordStore) -> None:
        with pytest.raises(NotFound):
            await records.get_repo("nobody/nothing")

    async def test_put_then_get_repo_is_case_insensitive(self, records: RecordStore) -> None:
        await records.put_repo(_repo("Encode/HTTPX", etags={"": '"abc"'}, versions_count=3))
        got = await records.get_repo("encode/httpx")
        assert got.repo == "Encode/HTTPX"
        assert got.etags == {"": '"abc"'}
        assert got.versions_count == 3

    async def test_put_repo_replaces_the_previous_record(self, records: RecordStore) -> None:
        await records.put_repo(_repo("a/b", versions_count=1))
        await records.put_repo(_repo("a/b", outcome=Outcome.GONE, versions_count=0))
        got = await records.get_repo("a/b")
        assert got.outcome is Outcome.GONE

    async def test_due_repos_returns_only_overdue_most_overdue_first(self, records: RecordStore) -> None:
        await records.put_repo(_repo("a/late", next_crawl_at=NOW - dt.timedelta(hours=2)))
        await records.put_repo(_repo("a/later", next_crawl_at=NOW - dt.timedelta(hours=5)))
        await records.put_repo(_repo("a/future", next_crawl_at=NOW + dt.timedelta(hours=1)))
        due = await records.due_repos(NOW, limit=10)
        assert [r.repo for r in due] == ["a/later", "a/late"]

    async def test_recent_repos_lists_successful_crawls_newest_first(self, records: RecordStore) -> None:
        await records.put_repo(_repo("a/old", crawled_at=NOW - dt.timedelta(days=1)))
        await records.put_repo(_repo("a/new", crawled_at=NOW))
        await records.put_repo(_repo("a/gone", outcome=Outcome.GONE, crawled_at=NOW))
        assert [r.repo for r in await records.recent_repos(limit=5)] == ["a/new", "a/old"]

    async def test_iter_repos_yields_every_record_across_pages(self, records: RecordStore) -> None:
        for i in range(1005):
            await records.put_repo(_repo(f"owner/r{i}"))
        names = {r.repo async for r in records.iter_repos()}
        assert len(names) == 1005

    async def test_packages_map_to_their_repository(self, records: RecordStore) -> None:
        await records.put_package(PackageRecord(registry="npm", name="@babel/core", repo="babel/babel"))
        await records.put_package(PackageRecord(registry="pypi", name="babel-x", repo="Babel/Babel"))
        await records.put_package(PackageRecord(registry="npm", name="other", repo="a/b"))
        found = await records.packages_for_repo("babel/babel")
        assert {(p.registry, p.name) for p in found} == {("npm", "@babel/core"), ("pypi", "babel-x")}
        assert (await records.get_package("npm", "@babel/core")).repo == "babel/babel"
        assert len([p async for p in records.iter_packages()]) == 3

    async def test_get_package_raises_not_found_when_missing(self, records: RecordStore) -> None:
        with pytest.raises(NotFound):
            await records.get_package("npm", "missing")

    async def test_cursor_is_none_until_set(self, records: RecordStore) -> None:
        assert await records.get_cursor("npm") is None
        await records.set_cursor("npm", "42")
        await records.set_cursor("npm", "43")
        assert await records.get_cursor("npm") == "43"

    async def test_status_round_trips(self, records: RecordStore) -> None:
        with pytest.raises(NotFound):
            await records.get_status("follower")
        await records.put_status("follower", {"seq": "7", "lag": 3})
        assert await records.get_status("follower") == {"seq": "7", "lag": 3}

    async def test_unresolved_packages_are_counted_by_reason(self, records: RecordStore) -> None:
        await records.record_unresolved("pypi", "a", reason="missing", value=None)
        await records.record_unresolved("pypi", "b", reason="other-host", value="https://gitlab.com/x/y")
        await records.record_unresolved("pypi", "b", reason="other-host", value="https://gitlab.com/x/y")
        assert await records.unresolved_counts() == {"pypi:missing": 1, "pypi:other-host": 1}

    async def test_counts_by_outcome_and_registry(self, records: RecordStore) -> None:
        await records.put_repo(_repo("a/b"))
        await records.put_repo(_repo("a/c", outcome=Outcome.GONE))
        await records.put_package(PackageRecord(registry="npm", name="b", repo="a/b"))
        assert await records.counts() == {"repos:ok": 1, "repos:gone": 1, "packages:npm": 1}


class TestArtifactStoreContract:
    async def test_put_then_get(self, artifacts: ArtifactStore) -> None:
        await artifacts.put("api/github/a/b/index.json", b"{}", content_type="application/json")
        assert await artifacts.get("api/github/a/b/index.json") == b"{}"

    async def test_get_raises_not_found_when_missing(self, artifacts: ArtifactStore) -> None:
        with pytest.raises(NotFound):
            await artifacts.get("github/a/missing/index.html")

    async def test_delete_missing_key_is_not_an_error(self, artifacts: ArtifactStore) -> None:
        await artifacts.put("k/v", b"x", content_type="text/plain")
        await artifacts.delete("k/v")
        await artifacts.delete("k/v")
        with pytest.raises(NotFound):
            await artifacts.get("k/v")

    @pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b"])
    async def test_keys_cannot_escape_the_store(self, artifacts: ArtifactStore, key: str) -> None:
        with pytest.raises((StoreError, NotFound)):
            await artifacts.put(key, b"x", content_type="text/plain")
