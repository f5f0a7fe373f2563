"""RubyGems: the two activity feeds, one gem's payload, a gem's versions, and how a gem names its repository.

API facts (docs/API-NOTES.md §3): ``/api/v1/activity/{latest,just_updated}.json`` each return at most 50 gem
payloads, newest first, unpaginated; ``/api/v1/gems/{name}.json`` answers 404 ``text/plain`` for an unknown gem;
the load balancer allows 10 requests/s and answers 429 beyond it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter

from core.clients._http import DEFAULT_RETRY, RetryPolicy, get_json, map_shape_errors, status_check
from core.repourl import Resolution, SourceLink, pick, resolve

# Under RubyGems' 10 requests/s, with room for clock jitter between us and its load balancer.
DEFAULT_REQUESTS_PER_S = 8.0


@dataclass(frozen=True, slots=True)
class Gem:
    """A gem at one version, as a gem payload shows it, with where its source lives."""

    name: str
    version: str
    version_created_at: dt.datetime | None
    source: SourceLink


@dataclass(frozen=True, slots=True)
class GemVersion:
    """One published version of a gem (``/api/v1/versions/{name}.json``)."""

    number: str
    created_at: dt.datetime | None
    prerelease: bool
    platform: str


def resolve_gem(payload: Mapping[str, Any]) -> SourceLink:
    """The repository of a gem from its payload: ``source_code_uri``, then ``homepage_uri``, then the metadata
    links (and the other ``*_uri`` links, where a bug tracker or wiki page stands for its repository);
    ``changelog_uri`` is the hint."""
    metadata = payload.get("metadata")
    links: Mapping[str, Any] = metadata if isinstance(metadata, Mapping) else {}
    hint = payload.get("changelog_uri") or links.get("changelog_uri")

    def candidates() -> Iterator[Resolution]:
        yield resolve(payload.get("source_code_uri"))
        yield resolve(payload.get("homepage_uri"))
        for value in links.values():
            yield resolve(value, pages=True)
        for key, value in payload.items():
            if key.endswith("_uri"):
                yield resolve(value, pages=True)

    return SourceLink(pick(candidates()), hint.strip() if isinstance(hint, str) and hint.strip() else None)


_raise_for_status = status_check("RubyGems", "no such gem on RubyGems", retry_after_s=1)


def _timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _gem(payload: Mapping[str, Any]) -> Gem:
    return Gem(
        name=str(payload["name"]),
        version=str(payload["version"]),
        version_created_at=_timestamp(payload.get("version_created_at")),
        source=resolve_gem(payload),
    )


class RubyGemsClient:
    """RubyGems' API, kept under its request rate by one limiter shared by every call on this instance."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        requests_per_s: float = DEFAULT_REQUESTS_PER_S,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._retry = retry
        # A bucket of one: requests leave at most every 1/rate seconds, never in a burst.
        self._limiter = AsyncLimiter(1, 1 / requests_per_s)

    async def just_updated(self) -> list[Gem]:
        """Up to 50 recently released versions, newest first (a gem may appear more than once)."""
        return await self._gems("/api/v1/activity/just_updated.json")

    async def latest(self) -> list[Gem]:
        """The 50 gems most recently published for the first time, newest first."""
        return await self._gems("/api/v1/activity/latest.json")

    async def gem(self, name: str) -> Gem:
        """One gem at its latest version; 404 → ``NotFound``."""
        url = f"{self._base}/api/v1/gems/{quote(name, safe='')}.json"
        data = await self._get(url)
        with map_shape_errors(url):
            return _gem(data)

    async def versions(self, name: str) -> list[GemVersion]:
        """Every version of a gem, newest first as RubyGems lists them; 404 → ``NotFound``."""
        url = f"{self._base}/api/v1/versions/{quote(name, safe='')}.json"
        data = await self._get(url)
        with map_shape_errors(url):
            return [
                GemVersion(
                    number=str(row["number"]),
                    created_at=_timestamp(row.get("created_at")),
                    prerelease=bool(row.get("prerelease", False)),
                    platform=str(row.get("platform") or "ruby"),
                )
                for row in data
            ]

    async def _gems(self, path: str) -> list[Gem]:
        url = f"{self._base}{path}"
        data = await self._get(url)
        with map_shape_errors(url):
            if not isinstance(data, list):
                raise TypeError(f"expected a list, got {type(data).__name__}")
            return [_gem(payload) for payload in data]

    async def _get(self, url: str) -> Any:
        return await get_json(self._http, url, check=_raise_for_status, retry=self._retry, throttle=self._limiter)
