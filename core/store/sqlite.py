"""The embedded record store: one SQLite file shared by every local process (WAL mode)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from core.errors import NotFound, StoreError
from core.models import PackageRecord, Registry, RepoRecord
from core.settings import Settings

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS repos (
    key TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    crawled_at TEXT,
    next_crawl_at TEXT,
    doc TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repos_due ON repos (next_crawl_at);
CREATE INDEX IF NOT EXISTS repos_recent ON repos (outcome, crawled_at);
CREATE TABLE IF NOT EXISTS packages (
    registry TEXT NOT NULL,
    name TEXT NOT NULL,
    repo_key TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (registry, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS packages_repo ON packages (repo_key);
CREATE TABLE IF NOT EXISTS unresolved (
    registry TEXT NOT NULL,
    name TEXT NOT NULL,
    reason TEXT NOT NULL,
    value TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (registry, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status (name TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
"""

_PAGE = 1000


def _ts(value: dt.datetime | None) -> str | None:
    # One fixed format in UTC so that text order is time order.
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


@contextlib.contextmanager
def _map_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"sqlite: {exc}") from exc


class SqliteRecordStore:
    """``RecordStore`` on a SQLite file. Blocking calls run in a worker thread, one at a time per instance."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        with _map_errors():
            self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> SqliteRecordStore:
        # sqlite:///relative/path.db and sqlite:////absolute/path.db, as SQLAlchemy spells them.
        return cls(Path(url.removeprefix("sqlite:///")))

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock, _map_errors():
                return fn(self._conn)

        return await asyncio.to_thread(call)

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await self._run(lambda c: c.execute(sql, params).fetchall())

    async def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        await self._run(lambda c: c.execute(sql, params))

    async def get_repo(self, repo: str) -> RepoRecord:
        row = await self._one("SELECT doc FROM repos WHERE key = ?", (repo.lower(),))
        if row is None:
            raise NotFound(f"no record of repository {repo}")
        return RepoRecord.model_validate_json(row[0])

    async def put_repo(self, record: RepoRecord) -> None:
        params = (
            record.key,
            record.outcome.value,
            _ts(record.crawled_at),
            _ts(record.next_crawl_at),
            record.model_dump_json(),
        )
        await self._write("INSERT OR REPLACE INTO repos VALUES (?, ?, ?, ?, ?)", params)

    async def due_repos(self, now: dt.datetime, *, limit: int) -> list[RepoRecord]:
        rows = await self._all(
            "SELECT doc FROM repos WHERE next_crawl_at <= ? ORDER BY next_crawl_at LIMIT ?", (_ts(now), limit)
        )
        return [RepoRecord.model_validate_json(r[0]) for r in rows]

    async def recent_repos(self, *, limit: int) -> list[RepoRecord]:
        rows = await self._all("SELECT doc FROM repos WHERE outcome = 'ok' ORDER BY crawled_at DESC LIMIT ?", (limit,))
        return [RepoRecord.model_validate_json(r[0]) for r in rows]

    async def iter_repos(self) -> AsyncIterator[RepoRecord]:
        after = ""
        while True:
            rows = await self._all("SELECT key, doc FROM repos WHERE key > ? ORDER BY key LIMIT ?", (after, _PAGE))
            for _, doc in rows:
                yield RepoRecord.model_validate_json(doc)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    async def put_package(self, package: PackageRecord) -> None:
        params = (package.registry, package.name, package.repo.lower(), package.model_dump_json())
        await self._write("INSERT OR REPLACE INTO packages VALUES (?, ?, ?, ?)", params)

    async def get_package(self, registry: Registry, name: str) -> PackageRecord:
        row = await self._one("SELECT doc FROM packages WHERE registry = ? AND name = ?", (registry, name))
        if row is None:
            raise NotFound(f"no package {name} on {registry}")
        return PackageRecord.model_validate_json(row[0])

    async def packages_for_repo(self, repo: str) -> list[PackageRecord]:
        rows = await self._all("SELECT doc FROM packages WHERE repo_key = ? ORDER BY registry, name", (repo.lower(),))
        return [PackageRecord.model_validate_json(r[0]) for r in rows]

    async def iter_packages(self) -> AsyncIterator[PackageRecord]:
        after: tuple[str, str] = ("", "")
        while True:
            rows = await self._all(
                "SELECT registry, name, doc FROM packages WHERE (registry, name) > (?, ?) "
                "ORDER BY registry, name LIMIT ?",
                (*after, _PAGE),
            )
            for _, _, doc in rows:
                yield PackageRecord.model_validate_json(doc)
            if len(rows) < _PAGE:
                return
            after = (rows[-1][0], rows[-1][1])

    async def record_unresolved(self, registry: Registry, name: str, *, reason: str, value: str | None) -> None:
        params = (registry, name, reason, value, _ts(dt.datetime.now(dt.UTC)))
        await self._write("INSERT OR REPLACE INTO unresolved VALUES (?, ?, ?, ?, ?)", params)

    async def unresolved_counts(self) -> dict[str, int]:
        rows = await self._all("SELECT registry, reason, COUNT(*) FROM unresolved GROUP BY 1, 2")
        return {f"{registry}:{reason}": n for registry, reason, n in rows}

    async def get_cursor(self, name: str) -> str | None:
        row = await self._one("SELECT value FROM cursors WHERE name = ?", (name,))
        return row[0] if row else None

    async def set_cursor(self, name: str, value: str) -> None:
        await self._write("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (name, value))

    async def put_status(self, name: str, status: dict[str, Any]) -> None:
        doc = json.dumps(status, default=str)
        await self._write("INSERT OR REPLACE INTO status VALUES (?, ?)", (name, doc))

    async def get_status(self, name: str) -> dict[str, Any]:
        row = await self._one("SELECT doc FROM status WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no status {name}")
        result: dict[str, Any] = json.loads(row[0])
        return result

    async def counts(self) -> dict[str, int]:
        repos = await self._all("SELECT outcome, COUNT(*) FROM repos GROUP BY outcome")
        packages = await self._all("SELECT registry, COUNT(*) FROM packages GROUP BY registry")
        return {f"repos:{k}": n for k, n in repos} | {f"packages:{k}": n for k, n in packages}

    async def aclose(self) -> None:
        await self._run(lambda c: c.close())
