"""The api under uvicorn in a thread, on a store seeded with a few crawled repositories and their packages."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from api.asgi import create_asgi
from core import changelog
from core.feed import CrawlFeed
from core.models import (
    ChangelogDocument,
    CrawledEvent,
    Outcome,
    PackageLink,
    PackageRecord,
    RepoRecord,
    RepoRef,
    SourceFile,
    VersionNotes,
)
from core.settings import Settings
from core.store import changelog_json_key, open_artifacts, open_records

CRAWLED_AT = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)

HTTPX_CHANGELOG = """# Changelog

## 0.28.1 (6th December, 2024)

* Fix SSL case where `verify=False` together with client side certificates.

## 0.28.0 (28th November, 2024)

* The deprecated `verify` argument as a string is removed.

## 0.27.2 (27th August, 2024)

* Reintroduced `proxies` argument for backwards compatibility.

## 0.27.0 (21st February, 2024)

* The `app=...` shortcut has been removed.
"""

XSS_CHANGELOG = """# Changelog

## 2.0.0 - 2024-03-01

- <script>window.__xss = 1</script> escaped
- <img src=x onerror="window.__xss = 2"> image
- [click](javascript:window.__xss=3)

## 1.0.0 - 2024-01-01

- <iframe src="javascript:window.__xss=4"></iframe> first
"""


def document(repo: str, text: str, packages: list[PackageLink]) -> ChangelogDocument:
    """What the crawler stores for ``repo`` with the changelog ``text`` (parsed and rendered by the engine)."""
    ref = RepoRef.parse(repo)
    entries = changelog.parse(text, filename="CHANGELOG.md")
    notes = [
        VersionNotes(
            version=e.version,
            date=e.date,
            title=e.title,
            body=e.body,
            html=changelog.render(e.body, format="markdown", repo=ref, path="CHANGELOG.md"),
        )
        for e in entries
    ]
    return ChangelogDocument(
        crawledAt=CRAWLED_AT,
        href=f"/api/github/{repo}",
        repo=ref.html_url,
        changelog=f"https://raw.githubusercontent.com/{repo}/HEAD/CHANGELOG.md",
        contents=notes,
        name=repo,
        packages=packages,
        source=SourceFile(path="CHANGELOG.md", format="markdown", html_url=f"{ref.html_url}/blob/HEAD/CHANGELOG.md"),
    )


SEEDED = {
    "encode/httpx": (HTTPX_CHANGELOG, [PackageLink(registry="pypi", name="httpx")]),
    "encode/django-rest-framework": (HTTPX_CHANGELOG, [PackageLink(registry="pypi", name="djangorestframework")]),
    "babel/babel": (
        HTTPX_CHANGELOG,
        [PackageLink(registry="npm", name="@babel/core"), PackageLink(registry="npm", name="@babel/cli")],
    ),
    "evil/xss": (XSS_CHANGELOG, [PackageLink(registry="npm", name="xss-demo")]),
}
# A package whose repository was never crawled: searchable, and its page is "not crawled yet".
UNCRAWLED = PackageRecord(registry="rubygems", name="rack-attack", repo="rack/rack-attack")


async def seed(settings: Settings) -> None:
    """Store the seeded repositories the way a crawl does."""
    records = open_records(settings)
    artifacts = open_artifacts(settings)
    for repo, (text, packages) in SEEDED.items():
        doc = document(repo, text, packages)
        await artifacts.put(changelog_json_key(repo), doc.model_dump_json().encode(), content_type="application/json")
        await records.put_repo(
            RepoRecord(repo=repo, outcome=Outcome.OK, crawled_at=CRAWLED_AT, versions_count=len(doc.contents))
        )
        for p in packages:
            await records.put_package(PackageRecord(registry=p.registry, name=p.name, repo=repo))
    await records.put_package(UNCRAWLED)
    await records.aclose()
    await artifacts.aclose()


def event(repo: str, version: str = "1.0.0") -> CrawledEvent:
    return CrawledEvent(
        changelog=repo,
        crawledAt=dt.datetime.now(dt.UTC),
        href=f"/api/github/{repo}",
        repo=f"https://github.com/{repo}",
        changelogUrl=None,
        version=version,
    )


@dataclass
class ApiServer:
    """A running api: its base URL and its settings (to reach the same store, queue and feed)."""

    url: str
    settings: Settings

    async def publish(self, repo: str, version: str = "1.0.0") -> CrawledEvent:
        feed = CrawlFeed.open(self.settings)
        try:
            return await feed.publish(event(repo, version))
        finally:
            await feed.aclose()


def _serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_asgi(settings), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return server, thread, port


def _stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=10)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[str]:
    """The api on ``settings`` under uvicorn in a thread, once it answers; yields its base URL."""
    server, thread, port = _serve(settings)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield url
    finally:
        await asyncio.to_thread(_stop, server, thread)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[ApiServer]:
    """The api on freshly seeded stores and an empty feed."""
    await seed(settings)
    async with running(settings) as url:
        yield ApiServer(url, settings)


@pytest.fixture
async def client(api: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        yield http


class SocketClient:
    """A browser's side of the live feed, speaking Socket.IO 5 over Engine.IO 4's websocket transport."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://").rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self.ws: ClientConnection | None = None

    async def __aenter__(self) -> SocketClient:
        self.ws = await connect(self.url, open_timeout=10)
        opening = str(await self.ws.recv())
        assert opening.startswith("0{"), opening
        await self.ws.send("40")  # join the default namespace
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def emit(self, event: str, data: Any) -> None:
        assert self.ws is not None
        await self.ws.send("42" + json.dumps([event, data]))

    async def next_event(self, name: str, *, timeout_s: float = 5) -> Any:
        """The data of the next event called ``name`` (answering pings on the way)."""
        assert self.ws is not None
        async with asyncio.timeout(timeout_s):
            while True:
                text = str(await self.ws.recv())
                if text == "2":
                    await self.ws.send("3")
                elif text.startswith("42"):
                    got, *args = json.loads(text[2:])
                    if got == name:
                        return args[0] if args else None
