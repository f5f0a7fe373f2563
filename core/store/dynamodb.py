"""Records in one DynamoDB table (``CHANGELOGS_STORE=dynamodb://TABLE``), created by ``infra/data.yaml``.

Key design (string keys ``pk``/``sk``; every record is kept whole as JSON in ``doc``)::

    pk                            sk             other attributes
    repo#<owner/name lower>       repo           doc, outcome, crawled_at,
                                                 due_shard + due_at       (GSI "due", when next_crawl_at is set)
                                                 ok_shard + ok_at         (GSI "recent", when the outcome is ok)
    package#<registry>#<name>     package        doc, repo_key            (GSI "by-repo")
    unresolved#<registry>#<name>  unresolved     registry, reason, given, seen_at
    cursor#<name>                 cursor         cursor_value
    status#<name>                 status         doc, expires_at          (the table's TTL attribute)
    counts                        repos:ok …     n                        (counters: packages:npm, unresolved:…)

``due_repos`` (``recrawl-stale``) and ``recent_repos`` query their sparse index instead of scanning the table.
Those indexes are sharded (``SHARDS`` partitions chosen by a hash of the repository) because a single constant
partition key would cap their writes at one partition's throughput; a read queries every shard and merges.

Two workers may crawl one repository at once. A repository is written with a condition: a record never replaces
one of a later crawl (``crawled_at``), so the slower worker cannot take it back in time.

The counters make ``counts`` (the homepage, ``/healthz``) and ``unresolved_counts`` one query. Each write returns
the item it replaced (``ReturnValues=ALL_OLD``, atomic with the write), and the counters move by the difference, so
concurrent writers chain their changes exactly without reading first. They are not in a transaction with the item:
transactions on a hot counter item fail under contention (``TransactionConflict``) and cost twice the writes; the
price is that a process killed between an item's write and its counter's update leaves that counter off by one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from core import _aws
from core.errors import ConfigError, NotFound, StoreError
from core.models import PackageRecord, Registry, RepoRecord
from core.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

SHARDS = 8
DUE_INDEX = "due"
RECENT_INDEX = "recent"
BY_REPO_INDEX = "by-repo"
TTL_ATTRIBUTE = "expires_at"
# A component that stops reporting its status (a follower that was removed) disappears after this long.
STATUS_TTL = dt.timedelta(days=7)
_COUNTS = "counts"


def _ts(value: dt.datetime) -> str:
    # One fixed format in UTC so that string order is time order (the indexes sort on it).
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _shard(key: str) -> str:
    return str(zlib.crc32(key.encode()) % SHARDS)


def _repo_pk(repo: str) -> str:
    return f"repo#{repo.lower()}"


def _package_pk(registry: str, name: str) -> str:
    return f"package#{registry}#{name}"


def _move(old: str | None, new: str) -> dict[str, int]:
    """The counter changes when an item moves from class ``old`` (``None``: a new item) to class ``new``."""
    if old == new:
        return {}
    return {new: 1} if old is None else {new: 1, old: -1}


class DynamoRecordStore:
    """``RecordStore`` on DynamoDB. Blocking boto3 calls run in worker threads."""

    def __init__(self, dynamodb: Any, *, table: str) -> None:
        self.db = dynamodb
        self.table = table

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DynamoRecordStore:
        table = urlsplit(url).netloc
        if not table:
            raise ConfigError(f"CHANGELOGS_STORE={url!r}: expected dynamodb://TABLE")
        return cls(_aws.client("dynamodb", settings), table=table)

    async def _run(self, what: str, fn: Callable[[], T]) -> T:
        def call() -> T:
            with _aws.map_errors(StoreError, f"dynamodb {what}"):
                return fn()

        return await asyncio.to_thread(call)

    def _get(self, pk: str, sk: str, *, projection: str | None = None) -> dict[str, Any] | None:
        args: dict[str, Any] = {"TableName": self.table, "Key": {"pk": _s(pk), "sk": _s(sk)}, "ConsistentRead": True}
        if projection:
            args["ProjectionExpression"] = projection
        item: dict[str, Any] | None = self.db.get_item(**args).get("Item")
        return item

    def _put(self, item: dict[str, Any], **conditions: Any) -> dict[str, Any]:
        """Write ``item`` and return the item it replaced (empty when it is new)."""
        old: dict[str, Any] = self.db.put_item(
            TableName=self.table, Item=item, ReturnValues="ALL_OLD", **conditions
        ).get("Attributes", {})
        return old

    def _count(self, changes: dict[str, int]) -> None:
        for name, delta in changes.items():
            self.db.update_item(
                TableName=self.table,
                Key={"pk": _s(_COUNTS), "sk": _s(name)},
                UpdateExpression="ADD n :d",
                ExpressionAttributeValues={":d": {"N": str(delta)}},
            )

    # Repositories

    async def get_repo(self, repo: str) -> RepoRecord:
        item = await self._run("get_repo", lambda: self._get(_repo_pk(repo), "repo", projection="doc"))
        if item is None:
            raise NotFound(f"no record of repository {repo}")
        return RepoRecord.model_validate_json(item["doc"]["S"])

    async def put_repo(self, record: RepoRecord) -> None:
        await self._run("put_repo", lambda: self._put_repo(record))

    def _put_repo(self, record: RepoRecord) -> None:
        item: dict[str, Any] = {
            "pk": _s(_repo_pk(record.repo)),
            "sk": _s("repo"),
            "doc": _s(record.model_dump_json()),
            "outcome": _s(record.outcome.value),
        }
        shard = _shard(record.key)
        if record.next_crawl_at is not None:
            item |= {"due_shard": _s(shard), "due_at": _s(_ts(record.next_crawl_at))}
        conditions: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(crawled_at)"}
        if record.crawled_at is not None:
            crawled = _ts(record.crawled_at)
            item["crawled_at"] = _s(crawled)
            if record.outcome.value == "ok":
                item |= {"ok_shard": _s(shard), "ok_at": _s(crawled)}
            conditions = {
                "ConditionExpression": "attribute_not_exists(crawled_at) OR crawled_at <= :crawled",
                "ExpressionAttributeValues": {":crawled": _s(crawled)},
            }
        try:
            old = self._put(item, **conditions)
        except ClientError as exc:
            if _aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
            # Two workers crawled the same repository: the slower one must not take the record back in time.
            logger.info("%s: the stored record is of a later crawl; keeping it", record.repo)
            return
        self._count(_move(f"repos:{old['outcome']['S']}" if old else None, f"repos:{record.outcome.value}"))

    async def due_repos(self, now: dt.datetime, *, limit: int) -> list[RepoRecord]:
        def query(shard: str) -> list[dict[str, Any]]:
            return self._query_index(
                DUE_INDEX,
                "due_shard = :s AND due_at <= :now",
                {":s": _s(shard), ":now": _s(_ts(now))},
                forward=True,
                limit=limit,
            )

        items = await self._run("due_repos", lambda: [i for s in range(SHARDS) for i in query(str(s))])
        items.sort(key=lambda i: i["due_at"]["S"])
        return [RepoRecord.model_validate_json(i["doc"]["S"]) for i in items[:limit]]

    async def recent_repos(self, *, limit: int) -> list[RepoRecord]:
        def query(shard: str) -> list[dict[str, Any]]:
            return self._query_index(RECENT_INDEX, "ok_shard = :s", {":s": _s(shard)}, forward=False, limit=limit)

        items = await self._run("recent_repos", lambda: [i for s in range(SHARDS) for i in query(str(s))])
        items.sort(key=lambda i: i["ok_at"]["S"], reverse=True)
        return [RepoRecord.model_validate_json(i["doc"]["S"]) for i in items[:limit]]

    def _query_index(
        self, index: str, condition: str, values: dict[str, Any], *, forward: bool = True, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every item of ``index`` matching ``condition`` (up to ``limit``), page after page."""
        args: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
        }
        items: list[dict[str, Any]] = []
        while limit is None or len(items) < limit:
            page = self.db.query(**args, **({} if limit is None else {"Limit": limit - len(items)}))
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items

    async def iter_repos(self) -> AsyncIterator[RepoRecord]:
        async for item in self._scan("repo"):
            yield RepoRecord.model_validate_json(item["doc"]["S"])

    async def _scan(self, sk: str) -> AsyncIterator[dict[str, Any]]:
        # Only rebuilds of the search index read everything; they page through the table.
        args: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :sk",
            "ExpressionAttributeValues": {":sk": _s(sk)},
            "ProjectionExpression": "doc",
        }
        while True:
            page = await self._run("scan", lambda: self.db.scan(**args))
            for item in page.get("Items", []):
                yield item
            if "LastEvaluatedKey" not in page:
                return
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # Packages

    async def put_package(self, package: PackageRecord) -> None:
        item = {
            "pk": _s(_package_pk(package.registry, package.name)),
            "sk": _s("package"),
            "doc": _s(package.model_dump_json()),
            "repo_key": _s(package.repo.lower()),
        }

        def put() -> None:
            # The registry is part of the key: only a new package moves its registry's counter.
            counter = f"packages:{package.registry}"
            self._count(_move(counter if self._put(item) else None, counter))

        await self._run("put_package", put)

    async def get_package(self, registry: Registry, name: str) -> PackageRecord:
        item = await self._run(
            "get_package", lambda: self._get(_package_pk(registry, name), "package", projection="doc")
        )
        if item is None:
            raise NotFound(f"no package {name} on {registry}")
        return PackageRecord.model_validate_json(item["doc"]["S"])

    async def packages_for_repo(self, repo: str) -> list[PackageRecord]:
        items = await self._run(
            "packages_for_repo",
            lambda: self._query_index(BY_REPO_INDEX, "repo_key = :r", {":r": _s(repo.lower())}),
        )
        packages = [PackageRecord.model_validate_json(i["doc"]["S"]) for i in items]
        return sorted(packages, key=lambda p: (p.registry, p.name))

    async def iter_packages(self) -> AsyncIterator[PackageRecord]:
        async for item in self._scan("package"):
            yield PackageRecord.model_validate_json(item["doc"]["S"])

    async def record_unresolved(self, registry: Registry, name: str, *, reason: str, value: str | None) -> None:
        item: dict[str, Any] = {
            "pk": _s(f"unresolved#{registry}#{name}"),
            "sk": _s("unresolved"),
            "registry": _s(registry),
            "reason": _s(reason),
            "seen_at": _s(_ts(dt.datetime.now(dt.UTC))),
        }
        if value is not None:
            item["given"] = _s(value)
        counter = f"unresolved:{registry}:"

        def put() -> None:
            old = self._put(item)
            self._count(_move(counter + old["reason"]["S"] if old else None, counter + reason))

        await self._run("record_unresolved", put)

    async def unresolved_counts(self) -> dict[str, int]:
        counts = await self._counters()
        return {k.removeprefix("unresolved:"): n for k, n in counts.items() if k.startswith("unresolved:")}

    async def counts(self) -> dict[str, int]:
        counts = await self._counters()
        return {k: n for k, n in counts.items() if k.startswith(("repos:", "packages:"))}

    async def _counters(self) -> dict[str, int]:
        def query() -> list[dict[str, Any]]:
            page = self.db.query(
                TableName=self.table,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": _s(_COUNTS)},
                ConsistentRead=True,
            )
            items: list[dict[str, Any]] = page.get("Items", [])
            return items

        items = await self._run("counts", query)
        counts = {i["sk"]["S"]: int(i["n"]["N"]) for i in items}
        return {k: n for k, n in counts.items() if n > 0}

    # Cursors and status

    async def get_cursor(self, name: str) -> str | None:
        item = await self._run("get_cursor", lambda: self._get(f"cursor#{name}", "cursor", projection="cursor_value"))
        return item["cursor_value"]["S"] if item else None

    async def set_cursor(self, name: str, value: str) -> None:
        item = {"pk": _s(f"cursor#{name}"), "sk": _s("cursor"), "cursor_value": _s(value)}
        await self._run("set_cursor", lambda: self.db.put_item(TableName=self.table, Item=item))

    async def put_status(self, name: str, status: dict[str, Any]) -> None:
        expires = dt.datetime.now(dt.UTC) + STATUS_TTL
        item = {
            "pk": _s(f"status#{name}"),
            "sk": _s("status"),
            "doc": _s(json.dumps(status, default=str)),
            TTL_ATTRIBUTE: {"N": str(int(expires.timestamp()))},
        }
        await self._run("put_status", lambda: self.db.put_item(TableName=self.table, Item=item))

    async def get_status(self, name: str) -> dict[str, Any]:
        item = await self._run("get_status", lambda: self._get(f"status#{name}", "status"))
        # DynamoDB deletes expired items up to days late: an expired one is already gone for us.
        if item is None or int(item[TTL_ATTRIBUTE]["N"]) < dt.datetime.now(dt.UTC).timestamp():
            raise NotFound(f"no status {name}")
        result: dict[str, Any] = json.loads(item["doc"]["S"])
        return result

    async def aclose(self) -> None:
        await asyncio.to_thread(self.db.close)
