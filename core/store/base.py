"""What a storage backend promises.

Two interfaces: ``RecordStore`` keeps small records (repositories, packages, cursors, status) and
``ArtifactStore`` keeps the rendered artifacts (changelog JSON and HTML) under the seed's keys. Every backend
raises ``core.errors.NotFound`` for a missing key and ``core.errors.StoreError`` for anything else that fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, Protocol

from core.models import PackageRecord, Registry, RepoRecord


class RecordStore(Protocol):
    """Records of repositories, packages, cursors and component status."""

    async def get_repo(self, repo: str) -> RepoRecord:
        """The record of ``owner/name`` (case-insensitive); raises ``NotFound``."""
        ...

    async def put_repo(self, record: RepoRecord) -> None:
        """Insert or replace the record of ``record.repo``."""
        ...

    async def due_repos(self, now: dt.datetime, *, limit: int) -> list[RepoRecord]:
        """Repositories whose ``next_crawl_at`` is at or before ``now``, most overdue first."""
        ...

    async def recent_repos(self, *, limit: int) -> list[RepoRecord]:
        """Repositories crawled successfully, most recent first."""
        ...

    def iter_repos(self) -> AsyncIterator[RepoRecord]:
        """Every repository record, in no particular order (for rebuilding the search index)."""
        ...

    async def put_package(self, package: PackageRecord) -> None:
        """Insert or replace the package ``(registry, name)``."""
        ...

    async def get_package(self, registry: Registry, name: str) -> PackageRecord:
        """The package ``name`` on ``registry``; raises ``NotFound``."""
        ...

    async def packages_for_repo(self, repo: str) -> list[PackageRecord]:
        """Every package that points at ``owner/name`` (case-insensitive)."""
        ...

    def iter_packages(self) -> AsyncIterator[PackageRecord]:
        """Every package record, in no particular order."""
        ...

    async def record_unresolved(self, registry: Registry, name: str, *, reason: str, value: str | None) -> None:
        """Remember that a package points at no crawlable GitHub repository, and why."""
        ...

    async def unresolved_counts(self) -> dict[str, int]:
        """How many packages point at no GitHub repository, by ``registry:reason``."""
        ...

    async def get_cursor(self, name: str) -> str | None:
        """The durable cursor ``name`` (a PyPI serial, an npm seq), or ``None`` before the first run."""
        ...

    async def set_cursor(self, name: str, value: str) -> None:
        """Store the cursor ``name``."""
        ...

    async def put_status(self, name: str, status: dict[str, Any]) -> None:
        """Store a component's status document (a follower's position, lag and rates)."""
        ...

    async def get_status(self, name: str) -> dict[str, Any]:
        """A component's status document; raises ``NotFound``."""
        ...

    async def counts(self) -> dict[str, int]:
        """How many repositories (by outcome) and packages (by registry) are stored."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class ArtifactStore(Protocol):
    """Rendered artifacts under keys such as ``api/github/<owner>/<repo>/index.json``."""

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Write ``data`` at ``key``, replacing what was there."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes at ``key``; raises ``NotFound``."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def changelog_json_key(repo: str) -> str:
    """The seed's key of a repository's changelog JSON (lower-cased: GitHub names are case-insensitive)."""
    return f"api/github/{repo.lower()}/index.json"


def changelog_html_key(repo: str) -> str:
    """The seed's key of a repository's changelog page."""
    return f"github/{repo.lower()}/index.html"
