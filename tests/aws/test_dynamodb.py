"""What the DynamoDB record store does beyond the contract: races, indexes instead of scans, TTL, errors."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.errors import ConfigError, NotFound, StoreError
from core.models import Outcome, RepoRecord
from core.settings import Settings
from core.store import open_records
from core.store.dynamodb import SHARDS, DynamoRecordStore

# moto runs as a process of its own (tests/aws/moto.py).
pytestmark = [pytest.mark.aws, pytest.mark.e2e]

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def store(aws_settings: Settings) -> AsyncIterator[DynamoRecordStore]:
    records = open_records(aws_settings)
    assert isinstance(records, DynamoRecordStore)
    yield records
    await records.aclose()


def _operations(store: DynamoRecordStore) -> list[str]:
    """The DynamoDB operations the store's client makes from now on (botocore's own event hook)."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    store.db.meta.events.register("before-call.dynamodb.*", record)
    return seen


class TestDynamoRecordStore:
    async def test_a_write_from_an_older_crawl_never_replaces_a_newer_one(self, store: DynamoRecordStore) -> None:
        newer = RepoRecord(repo="a/b", outcome=Outcome.OK, crawled_at=NOW, versions_count=9)
        older = RepoRecord(repo="a/b", outcome=Outcome.GONE, crawled_at=NOW - dt.timedelta(minutes=1))
        await store.put_repo(newer)
        await store.put_repo(older)
        assert (await store.get_repo("a/b")).versions_count == 9
        assert await store.counts() == {"repos:ok": 1}

    async def test_a_record_without_a_crawl_never_replaces_a_crawled_one(self, store: DynamoRecordStore) -> None:
        await store.put_repo(RepoRecord(repo="a/b", outcome=Outcome.OK, crawled_at=NOW))
        await store.put_repo(RepoRecord(repo="a/b", outcome=Outcome.FAILED, failures=1))
        assert (await store.get_repo("a/b")).outcome is Outcome.OK

    async def test_concurrent_writers_leave_the_counters_exact(self, store: DynamoRecordStore) -> None:
        # Workers racing on the same repositories, each write changing its outcome.
        outcomes = [Outcome.OK, Outcome.GONE, Outcome.NO_CHANGELOG, Outcome.EMPTY]
        writes = [RepoRecord(repo=f"race/r{i % 3}", outcome=outcomes[i % 4], crawled_at=NOW) for i in range(60)]
        await asyncio.gather(*(store.put_repo(w) for w in writes))
        stored = Counter([(await store.get_repo(f"race/r{i}")).outcome.value for i in range(3)])
        assert await store.counts() == {f"repos:{k}": n for k, n in stored.items()}

    async def test_due_and_recent_repos_query_their_indexes_across_shards_without_a_scan(
        self, store: DynamoRecordStore
    ) -> None:
        count = SHARDS * 4
        for i in range(count):
            await store.put_repo(
                RepoRecord(
                    repo=f"owner/r{i}",
                    outcome=Outcome.OK if i % 2 else Outcome.NO_CHANGELOG,
                    crawled_at=NOW - dt.timedelta(minutes=i),
                    next_crawl_at=NOW + dt.timedelta(minutes=count // 2 - i),
                )
            )
        operations = _operations(store)
        due = await store.due_repos(NOW, limit=5)
        recent = await store.recent_repos(limit=3)
        assert [r.repo for r in due] == [f"owner/r{i}" for i in range(count - 1, count - 6, -1)]
        assert [r.repo for r in recent] == ["owner/r1", "owner/r3", "owner/r5"]
        assert set(operations) == {"Query"}

    async def test_counts_are_one_query_however_many_records(self, store: DynamoRecordStore) -> None:
        for i in range(20):
            await store.put_repo(RepoRecord(repo=f"o/r{i}", outcome=Outcome.OK, crawled_at=NOW))
        operations = _operations(store)
        assert await store.counts() == {"repos:ok": 20}
        assert operations == ["Query"]

    async def test_a_status_past_its_ttl_is_not_found_before_dynamodb_deletes_it(
        self, store: DynamoRecordStore
    ) -> None:
        await store.put_status("follower", {"seq": 1})
        expired = str(int((NOW - dt.timedelta(days=1)).timestamp()))
        await asyncio.to_thread(
            store.db.update_item,
            TableName=store.table,
            Key={"pk": {"S": "status#follower"}, "sk": {"S": "status"}},
            UpdateExpression="SET expires_at = :t",
            ExpressionAttributeValues={":t": {"N": expired}},
        )
        with pytest.raises(NotFound):
            await store.get_status("follower")

    async def test_a_missing_table_is_a_store_error(self, aws_settings: Settings) -> None:
        records = open_records(aws_settings.model_copy(update={"store": "dynamodb://no-such-table"}))
        with pytest.raises(StoreError) as raised:
            await records.get_repo("a/b")
        assert not isinstance(raised.value, NotFound)
        await records.aclose()


def test_the_url_must_name_a_table(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="dynamodb://TABLE"):
        open_records(settings.model_copy(update={"store": "dynamodb://"}))
