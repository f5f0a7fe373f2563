"""PyPI: the XML-RPC change log (by serial) and the JSON API, plus how a project's metadata names its repository.

API facts (docs/API-NOTES.md §2): XML-RPC answers ``POST {base}/pypi`` with ``Content-Type: text/xml`` only;
``changelog_since_serial`` returns at most 50,000 ``[name, version, timestamp, action, serial]`` rows, ascending;
its rate limit is a fault ``-32500 HTTPTooManyRequests: … Limit may reset in N seconds.``. The JSON API redirects
a non-canonical name (301) and answers 404 ``{"message": "Not Found"}`` for an unknown project.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import xmlrpc.client
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.parsers.expat import ExpatError

import httpx

from core.clients._http import (
    DEFAULT_RETRY,
    RetryPolicy,
    get_json,
    map_shape_errors,
    map_transport_errors,
    status_check,
)
from core.errors import BadResponse, RateLimited, UpstreamError
from core.models import utcnow
from core.repourl import Resolution, SourceLink, pick, resolve

# PEP 753: labels are compared with punctuation and whitespace removed, lower-cased.
_LABEL_STRIP = str.maketrans("", "", string.punctuation + string.whitespace)
_SOURCE_LABELS = ("source", "repository", "sourcecode", "github", "code")
_CHANGELOG_LABELS = frozenset({"changelog", "changes", "whatsnew", "history", "releasenotes", "news"})
_RESET_IN = re.compile(r"reset in (\d+) seconds", re.IGNORECASE)
_RATE_LIMIT_FAULT = -32500
_DEFAULT_RATE_LIMIT_WAIT_S = 60.0


@dataclass(frozen=True, slots=True)
class PyPIChange:
    """One row of PyPI's change log: ``action`` is e.g. ``new release``, ``create``, ``remove project``."""

    name: str
    version: str | None
    timestamp: dt.datetime
    action: str
    serial: int

    @property
    def is_new_release(self) -> bool:
        return self.action == "new release" and self.version is not None


@dataclass(frozen=True, slots=True)
class PyPIProject:
    """A project as the JSON API shows it: its canonical name, latest version and where its source lives."""

    name: str
    version: str | None
    last_serial: int | None
    source: SourceLink


def normalize_label(label: str) -> str:
    """A ``project_urls`` label normalised as PEP 753 does: no punctuation or whitespace, lower case."""
    return label.translate(_LABEL_STRIP).lower()


def resolve_project(info: Mapping[str, Any]) -> SourceLink:
    """The repository of a project from its JSON API ``info``, and a changelog link as the hint.

    Order: the ``project_urls`` labelled source, repository, sourcecode, github, code; then homepage; then
    ``home_page`` and ``download_url``; then any GitHub link among the project URLs (issues and download pages
    count there). A changelog-type label (changelog, changes, whatsnew, history, releasenotes, news) is the hint.
    """
    project_urls = info.get("project_urls")
    urls: Mapping[Any, Any] = project_urls if isinstance(project_urls, Mapping) else {}
    labelled: dict[str, Any] = {}
    hint = None
    for label, url in urls.items():
        key = normalize_label(str(label))
        labelled.setdefault(key, url)
        if hint is None and key in _CHANGELOG_LABELS and isinstance(url, str) and url.strip():
            hint = url.strip()

    def candidates() -> Iterator[Resolution]:
        for label in (*_SOURCE_LABELS, "homepage"):
            if label in labelled:
                yield resolve(labelled[label])
        yield resolve(info.get("home_page"))
        yield resolve(info.get("download_url"), pages=True)
        for url in urls.values():
            yield resolve(url, pages=True)

    return SourceLink(pick(candidates()), hint)


_raise_for_status = status_check("PyPI", "no such project on PyPI", retry_after_s=60)


def _fault_error(fault: xmlrpc.client.Fault, url: str) -> UpstreamError:
    message = str(fault.faultString)
    if fault.faultCode == _RATE_LIMIT_FAULT and "TooManyRequests" in message:
        match = _RESET_IN.search(message)
        wait_s = int(match[1]) if match else _DEFAULT_RATE_LIMIT_WAIT_S
        return RateLimited(message, reset_at=utcnow() + dt.timedelta(seconds=wait_s), url=url)
    return UpstreamError(f"XML-RPC fault {fault.faultCode}: {message}", url=url)


class PyPIClient:
    """PyPI's change log (XML-RPC, for polling by serial) and its JSON API (for each project's metadata)."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._retry = retry

    async def last_serial(self) -> int:
        """The serial of the newest change (``changelog_last_serial``)."""
        result = await self._call("changelog_last_serial")
        if not isinstance(result, int):
            raise BadResponse(f"changelog_last_serial returned {type(result).__name__}", url=self._rpc_url)
        return result

    async def changes_since(self, serial: int) -> list[PyPIChange]:
        """Changes after ``serial``, oldest first; at most 50,000 per call (loop until a call returns none).

        Raises ``RateLimited`` on PyPI's XML-RPC rate-limit fault.
        """
        rows = await self._call("changelog_since_serial", serial)
        with map_shape_errors(self._rpc_url):
            return [
                PyPIChange(
                    name=str(name),
                    version=None if version is None else str(version),
                    timestamp=dt.datetime.fromtimestamp(int(timestamp), dt.UTC),
                    action=str(action),
                    serial=int(row_serial),
                )
                for name, version, timestamp, action, row_serial in rows
            ]

    async def project(self, name: str) -> PyPIProject:
        """A project from ``/pypi/{name}/json`` (the canonical-name redirect is followed); 404 → ``NotFound``."""
        url = f"{self._base}/pypi/{quote(name, safe='')}/json"
        data = await get_json(self._http, url, check=_raise_for_status, retry=self._retry, follow_redirects=True)
        with map_shape_errors(url):
            info = data["info"]
            serial = data.get("last_serial")
            return PyPIProject(
                name=str(info["name"]),
                version=info.get("version") or None,
                last_serial=serial if isinstance(serial, int) else None,
                source=resolve_project(info),
            )

    @property
    def _rpc_url(self) -> str:
        return f"{self._base}/pypi"

    async def _call(self, method: str, *params: Any) -> Any:
        body = xmlrpc.client.dumps(params, method, allow_none=True).encode()
        url = self._rpc_url

        async def once() -> Any:
            with map_transport_errors(url):
                response = await self._http.post(url, content=body, headers={"Content-Type": "text/xml"})
            _raise_for_status(response)
            try:
                (result,), _ = xmlrpc.client.loads(response.content, use_builtin_types=True)
            except xmlrpc.client.Fault as fault:
                raise _fault_error(fault, url) from fault
            except (ExpatError, xmlrpc.client.ResponseError, ValueError) as exc:
                raise BadResponse(f"malformed XML-RPC answer: {exc}", url=url, status=response.status_code) from exc
            return result

        return await self._retry.call(once)
