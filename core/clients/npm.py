"""npm: the replication feed (``_changes``), one package's latest manifest, and how a manifest names its repository.

API facts (docs/API-NOTES.md §4): ``GET {replicate}/_changes?since=&limit=`` returns ``{"results": [{"seq",
"id", "changes", "deleted"?}], "last_seq"}`` (no ``include_docs`` since 2025); ``seq`` is opaque. The registry
serves ``/{name}/latest`` with a scoped name's slash escaped (``@scope%2Fname``) and 404 ``{"error": "Not found"}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from core.clients._http import DEFAULT_RETRY, RetryPolicy, get_json, map_shape_errors, status_check
from core.repourl import Resolution, SourceLink, pick, resolve

Seq = int | str


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the feed: the package ``id`` changed at ``seq`` (kept with its JSON type)."""

    seq: Seq
    id: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ChangesPage:
    """One page of the feed; pass ``last_seq`` as the next ``since``."""

    results: tuple[Change, ...]
    last_seq: Seq | None


@dataclass(frozen=True, slots=True)
class NpmManifest:
    """A package's latest version manifest and where its source lives."""

    name: str
    version: str
    source: SourceLink


def resolve_manifest(manifest: Mapping[str, Any]) -> SourceLink:
    """The repository of a package from its manifest: ``repository`` (a string, an object with ``directory``,
    or a list), then ``homepage``, then ``bugs.url`` (an issues page stands for its repository)."""
    bugs = manifest.get("bugs")

    def candidates() -> Iterator[Resolution]:
        yield resolve(manifest.get("repository"))
        yield resolve(manifest.get("homepage"))
        yield resolve(bugs.get("url") if isinstance(bugs, Mapping) else bugs, pages=True)

    return SourceLink(pick(candidates()))


def escape_name(name: str) -> str:
    """A package name as a registry path segment: ``@scope/name`` becomes ``@scope%2Fname``."""
    return quote(name, safe="@")


_raise_for_status = status_check("npm", "no such package on npm", retry_after_s=60)


def _seq(value: object) -> Seq:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"seq must be a number or a string, got {value!r}")
    return value


class NpmClient:
    """The npm replication feed (``replicate_url``) and registry (``base_url``)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        replicate_url: str,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._replicate = replicate_url.rstrip("/")
        self._retry = retry

    async def update_seq(self) -> Seq:
        """The feed's current position (``update_seq`` of the replication database's root document)."""
        url = self._replicate
        data = await get_json(self._http, url, check=_raise_for_status, retry=self._retry)
        with map_shape_errors(url):
            return _seq(data["update_seq"])

    async def changes(self, since: Seq | None, limit: int) -> ChangesPage:
        """One page of at most ``limit`` changes after ``since`` (from the start when ``None``).

        Every row is returned, deleted ones and design documents included: the caller decides what to skip.
        """
        url = f"{self._replicate}/_changes"
        params = {"limit": str(limit)}
        if since is not None:
            params["since"] = str(since)
        data = await get_json(self._http, url, check=_raise_for_status, retry=self._retry, params=params)
        with map_shape_errors(url):
            results = tuple(
                Change(seq=_seq(row["seq"]), id=str(row["id"]), deleted=row.get("deleted") is True)
                for row in data["results"]
            )
            last_seq = data.get("last_seq")
            return ChangesPage(results=results, last_seq=None if last_seq is None else _seq(last_seq))

    async def latest(self, name: str) -> NpmManifest:
        """The manifest of a package's ``latest`` version; 404 → ``NotFound``."""
        url = f"{self._base}/{escape_name(name)}/latest"
        data = await get_json(self._http, url, check=_raise_for_status, retry=self._retry)
        with map_shape_errors(url):
            return NpmManifest(name=str(data["name"]), version=str(data["version"]), source=resolve_manifest(data))
