"""GitHub's REST API as the crawler uses it: conditional requests, the shared budget, and every documented failure.

API facts (docs/API-NOTES.md §1):
- Every answer carries ``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (UTC epoch seconds). A spent budget is
  ``403``/``429`` with ``x-ratelimit-remaining: 0``; a secondary limit is ``403``/``429`` with ``retry-after`` or a
  message saying so (wait 60 s when neither says how long, as octokit and PyGithub do).
- ``If-None-Match`` with a stored ETag gets ``304``, which is not charged when the request is authorised.
- A renamed or transferred repository answers ``301`` to ``/repositories/{id}``; a missing one ``404 Not Found``;
  a blocked one ``451``; an empty one ``409`` (``404 "This repository is empty."`` on ``/contents``).
- Raw downloads (``download_url``) are not charged to the REST budget.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

import httpx

# The gates are re-exported: whoever builds a client picks the gate it takes.
from core.budget import BudgetGate as BudgetGate
from core.budget import Quota
from core.budget import RateGate as RateGate
from core.changelog import FileInfo
from core.clients._http import DEFAULT_RETRY, RetryPolicy, map_shape_errors, map_transport_errors, retry_after
from core.errors import BadResponse, ConfigError, Empty, Gone, NotFound, RateLimited, Unavailable, UpstreamError
from core.models import Release, RepoRef
from core.repourl import resolve

logger = logging.getLogger(__name__)

T = TypeVar("T")

API_VERSION = "2022-11-28"
_JSON = "application/vnd.github+json"
_RAW = "application/vnd.github.raw"
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 307, 308})
# A JSON answer larger than this is not one GitHub sends for these endpoints.
_JSON_LIMIT = 32 * 1024 * 1024
_ERROR_BODY_LIMIT = 64 * 1024
_SECONDARY_WAIT_S = 60.0
_EMPTY_MESSAGES = ("this repository is empty.", "git repository is empty.")


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """An answer to a conditional request: ``value`` is ``None`` when ``not_modified`` (``304``)."""

    value: T | None
    etag: str | None
    not_modified: bool = False


@dataclass(frozen=True, slots=True)
class RepoInfo:
    """A repository as GitHub names it now; ``moved_from`` is the name asked for when GitHub redirected (301)."""

    id: int
    ref: RepoRef
    default_branch: str
    fork: bool
    archived: bool
    private: bool
    html_url: str
    moved_from: RepoRef | None = None


@dataclass(frozen=True, slots=True)
class Download:
    """A file's first bytes: at most the limit asked for; ``truncated`` when the file is longer.

    ``size`` is the full size when known (the whole file was read, or the server said ``Content-Length``).
    """

    content: bytes
    truncated: bool
    size: int | None


@dataclass(slots=True)
class RequestCount:
    """Requests sent, per kind (``repo``, ``list_dir``, ``fetch_file``, ``releases``; every redirect hop and retry
    included); those answered ``304``; and those GitHub charges to the budget (API requests, less authorised
    ``304`` answers)."""

    requests: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)
    charged: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """Every request sent."""
        return self.requests.total()


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool
    moved: bool
    next_url: str | None


def _quota(headers: httpx.Headers) -> Quota | None:
    try:
        remaining = int(headers["x-ratelimit-remaining"])
        reset_at = dt.datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), dt.UTC)
    except (KeyError, ValueError, OverflowError, OSError):
        return None
    limit = headers.get("x-ratelimit-limit", "")
    return Quota(remaining, reset_at, int(limit) if limit.isdigit() else None)


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    message = data.get("message") if isinstance(data, Mapping) else None
    return message if isinstance(message, str) else ""


def _raise_for_status(
    status: int, headers: httpx.Headers, body: bytes, *, url: str, missing: type[UpstreamError]
) -> None:
    """The one mapping of GitHub's statuses to our errors. ``missing`` is what a plain 404 means for this call:
    ``Gone`` when it is the repository itself that is missing, ``NotFound`` for a path in it."""
    if status < 300 or status == 304:
        return
    message = _message(body)
    if status in (403, 429):
        quota = _quota(headers)
        if "retry-after" in headers:
            reset = retry_after(headers, default_s=0)
            raise RateLimited(f"GitHub secondary rate limit: {message}", reset_at=reset, url=url, status=status)
        if quota is not None and quota.remaining == 0:
            reset = quota.reset_at
            raise RateLimited(f"GitHub rate limit: {message}", reset_at=reset, url=url, status=status)
        if status == 429 or "rate limit" in message.lower():
            reset = retry_after(headers, default_s=_SECONDARY_WAIT_S)
            raise RateLimited(f"GitHub secondary rate limit: {message}", reset_at=reset, url=url, status=status)
        raise UpstreamError(f"GitHub forbade the request: {message}", url=url, status=status)
    if status == 401:
        raise ConfigError(f"GITHUB_TOKEN: GitHub rejected the token ({message or 'Bad credentials'})")
    if status == 404:
        if message.lower() in _EMPTY_MESSAGES:
            raise Empty(message, url=url, status=status)
        raise missing(message or "Not Found", url=url, status=status)
    if status == 409:
        raise Empty(message or "Git Repository is empty.", url=url, status=status)
    if status == 451:
        raise Gone(message or "Repository access blocked", url=url, status=status)
    if status >= 500:
        raise Unavailable(f"GitHub failed: {message}", url=url, status=status)
    raise UpstreamError(f"GitHub refused the request: {message}", url=url, status=status)


def _timestamp(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _release(row: Mapping[str, Any]) -> Release:
    return Release(
        tag_name=str(row["tag_name"]),
        name=row.get("name"),
        body=row.get("body"),
        draft=bool(row.get("draft", False)),
        prerelease=bool(row.get("prerelease", False)),
        published_at=_timestamp(row.get("published_at")),
        html_url=row.get("html_url"),
    )


class GitHubClient:
    """GitHub's REST API for the crawler. Every call takes the ETag of a previous answer and returns ``Fetched``.

    ``counts`` holds every request this client sent; ``counting()`` counts those of one crawl among concurrent
    ones. ``renamed`` maps the key of a repository GitHub redirected (301) to its current ``owner/name``. The
    client uses the ``http`` client it is given; ``aclose()`` closes it.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: str | None,
        gate: RateGate | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._api_host = urlsplit(self._base).netloc
        self._token = token
        self.gate: RateGate = gate if gate is not None else BudgetGate()
        self._retry = retry
        self.counts = RequestCount()
        self.renamed: dict[str, str] = {}
        self._scoped: ContextVar[tuple[RequestCount, ...]] = ContextVar(f"github-counts-{id(self)}", default=())

    @contextmanager
    def counting(self) -> Iterator[RequestCount]:
        """Count the requests sent inside this block by the current task (and the tasks it starts)."""
        count = RequestCount()
        token = self._scoped.set((*self._scoped.get(), count))
        try:
            yield count
        finally:
            self._scoped.reset(token)

    async def aclose(self) -> None:
        """Close the HTTP client this client was given."""
        await self._http.aclose()

    async def repo(self, ref: RepoRef, *, etag: str | None = None) -> Fetched[RepoInfo]:
        """The repository, following a rename or transfer (``moved_from`` is then set).

        Raises ``Gone`` (missing, private or blocked), ``RateLimited``, ``Unavailable``.
        """
        url = self._repo_url(ref)
        answer = await self._get("repo", url, etag=etag, missing=Gone)
        if answer.status == 304:
            return Fetched(None, answer.headers.get("etag") or etag, not_modified=True)
        data = self._json(answer, url)
        with map_shape_errors(url):
            info = RepoInfo(
                id=int(data["id"]),
                ref=RepoRef.parse(str(data["full_name"])),
                default_branch=str(data.get("default_branch") or "main"),
                fork=bool(data.get("fork", False)),
                archived=bool(data.get("archived", False)),
                private=bool(data.get("private", False)),
                html_url=str(data.get("html_url") or ""),
                moved_from=ref if answer.moved else None,
            )
        if answer.moved:
            self._renamed(ref, info.ref)
        return Fetched(info, answer.headers.get("etag"))

    async def list_dir(self, ref: RepoRef, path: str = "", *, etag: str | None = None) -> Fetched[list[FileInfo]]:
        """The files and directories in a directory on the default branch (GitHub lists at most 1,000).

        A missing repository (404 on the root listing) raises ``Gone``; a missing path, or a path that is a file,
        ``NotFound``; an empty repository ``Empty``.
        """
        clean = path.strip("/")
        url = f"{self._repo_url(ref)}/contents/{quote(clean)}"
        answer = await self._get("list_dir", url, etag=etag, missing=NotFound if clean else Gone)
        if answer.status == 304:
            return Fetched(None, answer.headers.get("etag") or etag, not_modified=True)
        data = self._json(answer, url)
        if not isinstance(data, list):
            raise NotFound(f"{clean or '/'} is not a directory", url=url)
        with map_shape_errors(url):
            # Symlinks and submodules (API version 2026-03-10 lists them as such) hold no changelog text.
            entries = [
                FileInfo(
                    path=str(row["path"]),
                    name=str(row["name"]),
                    size=int(row["size"]) if row.get("size") is not None else None,
                    type="dir" if row["type"] == "dir" else "file",
                    download_url=row.get("download_url"),
                    sha=row.get("sha"),
                )
                for row in data
                if row["type"] in ("file", "dir")
            ]
        if answer.moved:
            # The entries' html_url names the repository as it is called now; an empty listing cannot.
            current = next((r.repo for row in data if (r := resolve(row.get("html_url"))).repo), None)
            if current is None:
                info = (await self.repo(ref)).value
                current = info.ref if info else None
            if current is not None:
                self._renamed(ref, current)
        return Fetched(entries, answer.headers.get("etag"))

    async def fetch_file(
        self, url_or_path: str, *, limit: int, ref: RepoRef | None = None, etag: str | None = None
    ) -> Fetched[Download]:
        """A file's first ``limit`` bytes, streamed: a larger file is cut, never read whole.

        ``url_or_path`` is a ``download_url`` from a listing (a raw download, not charged to the budget) or a path
        in the repository ``ref`` (fetched raw through the contents API, charged). 404 → ``NotFound``.
        """
        if urlsplit(url_or_path).scheme:
            url, accept, charged = url_or_path, None, False
        elif ref is not None:
            url, accept, charged = f"{self._repo_url(ref)}/contents/{quote(url_or_path.strip('/'))}", _RAW, True
        else:
            raise ValueError(f"{url_or_path!r} is a path: say which repository it is in (ref=)")
        answer = await self._get(
            "fetch_file", url, etag=etag, missing=NotFound, limit=limit, accept=accept, charged=charged
        )
        if answer.status == 304:
            return Fetched(None, answer.headers.get("etag") or etag, not_modified=True)
        size = len(answer.body) if not answer.truncated else None
        length = answer.headers.get("content-length", "")
        if size is None and length.isdigit() and "content-encoding" not in answer.headers:
            size = int(length)
        return Fetched(Download(answer.body, answer.truncated, size), answer.headers.get("etag"))

    async def releases(self, ref: RepoRef, *, max_pages: int = 1, etag: str | None = None) -> Fetched[list[Release]]:
        """Published releases, newest first, 100 a page, following ``Link: rel="next"`` for ``max_pages`` pages.

        The ETag is that of the first page. A missing repository raises ``Gone``.
        """
        url: str | None = f"{self._repo_url(ref)}/releases?per_page=100"
        releases: list[Release] = []
        first_etag: str | None = None
        for page in range(max_pages):
            if url is None:
                break
            answer = await self._get("releases", url, etag=etag if page == 0 else None, missing=Gone)
            if answer.status == 304:
                return Fetched(None, answer.headers.get("etag") or etag, not_modified=True)
            if page == 0:
                first_etag = answer.headers.get("etag")
            data = self._json(answer, url)
            with map_shape_errors(url):
                releases.extend(_release(row) for row in data)
            url = answer.next_url
        return Fetched(releases, first_etag)

    def _repo_url(self, ref: RepoRef) -> str:
        return f"{self._base}/repos/{quote(ref.owner, safe='')}/{quote(ref.name, safe='')}"

    def _renamed(self, old: RepoRef, new: RepoRef) -> None:
        if new.key != old.key:
            logger.info("GitHub: %s is now %s", old, new)
            self.renamed[old.key] = new.full_name

    def _counts(self) -> tuple[RequestCount, ...]:
        return (self.counts, *self._scoped.get())

    def _json(self, answer: _Answer, url: str) -> Any:
        if answer.truncated:
            raise BadResponse(f"JSON answer over {_JSON_LIMIT} bytes", url=url, status=answer.status)
        try:
            return json.loads(answer.body)
        except ValueError as exc:
            raise BadResponse(f"malformed JSON: {exc}", url=url, status=answer.status) from exc

    async def _get(
        self,
        kind: str,
        url: str,
        *,
        etag: str | None,
        missing: type[UpstreamError],
        limit: int = _JSON_LIMIT,
        accept: str | None = _JSON,
        charged: bool = True,
    ) -> _Answer:
        """GET with retries of transient failures, and one more try after a rate limit has been waited out.

        ``charged`` says whether GitHub bills the request (not raw downloads)."""

        async def once() -> _Answer:
            return await self._get_once(
                kind, url, etag=etag, missing=missing, limit=limit, accept=accept, charged=charged
            )

        try:
            return await self._retry.call(once)
        except RateLimited:
            # The gate now holds every caller until the limit lifts: wait it out once, unless that is too long
            # (the gate then raises RateLimited without sending anything).
            return await self._retry.call(once)

    async def _get_once(
        self,
        kind: str,
        url: str,
        *,
        etag: str | None,
        missing: type[UpstreamError],
        limit: int,
        accept: str | None,
        charged: bool,
    ) -> _Answer:
        moved = False
        for _ in range(_MAX_REDIRECTS + 1):
            if charged:
                await self.gate.acquire()
            for count in self._counts():
                count.requests[kind] += 1
            quota: Quota | None = None
            billed = charged  # until an answer says otherwise: a request that timed out may have been served
            try:
                with map_transport_errors(url):
                    request = self._http.build_request("GET", url, headers=self._headers(url, etag, accept))
                    response = await self._http.send(request, stream=True)
                    try:
                        quota = _quota(response.headers)
                        status = response.status_code
                        billed = charged and not (status == 304 and self._token)
                        if status in _REDIRECTS and "location" in response.headers:
                            moved = moved or status in (301, 308)
                            url = str(response.url.join(response.headers["location"]))
                            continue
                        body, truncated = await _read(response, limit if status < 300 else _ERROR_BODY_LIMIT)
                    finally:
                        await response.aclose()
                _raise_for_status(status, response.headers, body, url=url, missing=missing)
            except RateLimited as exc:
                # Told to the gate as a spent budget, so every caller sharing it waits, not only this one.
                quota = Quota(0, exc.reset_at, quota.limit if quota else None)
                billed = False
                raise
            finally:
                if charged:
                    await self.gate.observe(quota, charged=billed)
            for count in self._counts():
                if status == 304:
                    count.not_modified[kind] += 1
                if billed:
                    count.charged[kind] += 1
            return _Answer(status, response.headers, body, truncated, moved, response.links.get("next", {}).get("url"))
        raise BadResponse(f"more than {_MAX_REDIRECTS} redirects", url=url)

    def _headers(self, url: str, etag: str | None, accept: str | None) -> dict[str, str]:
        headers = {"X-GitHub-Api-Version": API_VERSION}
        if accept:
            headers["Accept"] = accept
        if etag:
            headers["If-None-Match"] = etag
        host = urlsplit(url).netloc
        # The token goes to the API and to GitHub's raw host only (raw downloads are rate limited harder without it).
        if self._token and (host == self._api_host or host.endswith("githubusercontent.com")):
            headers["Authorization"] = f"Bearer {self._token}"
        return headers


async def _read(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False
