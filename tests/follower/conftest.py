"""Fixtures of the follower's tests: the sandbox's npm (real HTTP), a CouchDB 2-style feed with opaque string
sequences (an ``httpx.MockTransport`` speaking the replication protocol), the store and the queue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from core.clients import NpmClient, RetryPolicy, open_http
from core.models import Discovery
from core.queue import DiscoveryQueue
from core.settings import Settings
from core.store import RecordStore
from follower import NPM_CURSOR, Follower
from sandbox import Sandbox

# As ``python -m follower`` builds it: the follower retries every failure itself (and counts it).
NO_RETRY = RetryPolicy(attempts=1)
REGISTRY = "https://registry.npm.test"
REPLICATE = "https://replicate.npm.test/registry"


@pytest.fixture(scope="module")
def npm_sandbox() -> Iterator[Sandbox]:
    """A world whose npm feed holds 400 rows: deleted ones, design documents, scoped names, packages with no
    repository, repeats and one 4 MB document."""
    with Sandbox(seed=17, packages=300, npm_changes=400) as running:
        yield running


@pytest.fixture
def world(npm_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, its faults cleared after the test."""
    npm_sandbox.set_faults("all", clear=True)
    yield npm_sandbox
    npm_sandbox.set_faults("all", clear=True)


@pytest.fixture
async def sandbox_npm(settings: Settings, world: Sandbox) -> AsyncIterator[NpmClient]:
    """The service's npm client on the sandbox, with a 1 s timeout (stalls become timeouts quickly)."""
    async with open_http(settings.model_copy(update={"http_timeout_s": 1.0})) as http:
        yield NpmClient(
            http,
            base_url=world.env["CHANGELOGS_NPM_REGISTRY_URL"],
            replicate_url=world.env["CHANGELOGS_NPM_REPLICATE_URL"],
            retry=NO_RETRY,
        )


async def drain(queue: DiscoveryQueue) -> list[Discovery]:
    """Every discovery waiting in the queue, acked."""
    found: list[Discovery] = []
    while messages := await queue.receive(max_messages=500, wait_s=0):
        found += [m.discovery for m in messages]
        await queue.ack(messages)
    return found


async def cursor(records: RecordStore) -> Any:
    """The stored npm cursor, decoded (``None`` before the first run)."""
    stored = await records.get_cursor(NPM_CURSOR)
    return None if stored is None else json.loads(stored)


async def wait_for(condition: Callable[[], Awaitable[bool]], *, timeout_s: float = 30) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def follow_to(follower: Follower, records: RecordStore, end: Any, *, timeout_s: float = 60) -> None:
    """Run ``follower`` until its stored cursor is ``end`` (or past it, for integer sequences: the cursor moves a
    batch at a time), then stop it."""
    running = asyncio.create_task(follower.run())

    async def arrived() -> bool:
        if running.done():
            running.result()  # a crash fails the test with its own error
        at = await cursor(records)
        return bool(at == end or (isinstance(at, int) and isinstance(end, int) and at > end))

    try:
        await wait_for(arrived, timeout_s=timeout_s)
    finally:
        follower.stop()
        await asyncio.wait_for(running, timeout=10)


def fast_follower(npm: NpmClient, records: RecordStore, queue: DiscoveryQueue, **options: Any) -> Follower:
    """A follower that starts at the beginning of the feed and backs off for milliseconds, not seconds."""
    defaults: dict[str, Any] = {
        "start": 0,
        "batch_size": 100,
        "concurrency": 4,
        "poll_interval_s": 0.05,
        "report_interval_s": 0.2,
        "initial_backoff_s": 0.01,
        "read_attempts": 8,
    }
    return Follower(npm, records=records, queue=queue, **(defaults | options))


@dataclass
class Row:
    seq: str
    id: str
    deleted: bool = False


@dataclass
class CouchFeed:
    """npm's replication feed and registry as CouchDB 2+ serves them: ``seq`` an opaque string. Every package
    ``p`` has repository ``github.com/owner/p`` (scoped: the name after the slash). ``hold`` names packages whose
    ``/latest`` waits until released; ``answers`` queues special answers per package (status, body, headers)."""

    rows: list[Row]
    paths: list[str] = field(default_factory=list)
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    answers: dict[str, list[httpx.Response]] = field(default_factory=dict)
    times: list[tuple[float, str]] = field(default_factory=list)

    @staticmethod
    def seq(n: int) -> str:
        return f"{n}-g1AAAAB7eJzLYWBgYMpgTmEQTM4vTc5ISXKA0Xh4bB0Z{n:06d}"

    @classmethod
    def of(cls, names: list[str], *, deleted: frozenset[str] = frozenset()) -> CouchFeed:
        return cls([Row(cls.seq(i + 1), name, name in deleted) for i, name in enumerate(names)])

    @property
    def update_seq(self) -> str:
        return self.rows[-1].seq

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.raw_path.decode())
        self.times.append((asyncio.get_running_loop().time(), request.url.raw_path.decode()))
        if request.url.host == "replicate.npm.test":
            if request.url.path == "/registry/_changes":
                return self._changes(request)
            return httpx.Response(200, json={"db_name": "registry", "update_seq": self.update_seq})
        name = request.url.path.removeprefix("/").removesuffix("/latest")
        if queued := self.answers.get(name):
            return queued.pop(0)
        if name in self.hold:
            await self.hold[name].wait()
        repo = name.split("/")[-1]
        manifest = {
            "name": name,
            "version": "1.0.0",
            "repository": {"type": "git", "url": f"git+https://github.com/owner/{repo}.git"},
        }
        return httpx.Response(200, json=manifest)

    def _changes(self, request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("since")
        limit = int(request.url.params["limit"])
        start = 0 if since in (None, "0") else next(i + 1 for i, r in enumerate(self.rows) if r.seq == since)
        page = self.rows[start : start + limit]
        results = [
            {"seq": r.seq, "id": r.id, "changes": [{"rev": "1-abc"}], **({"deleted": True} if r.deleted else {})}
            for r in page
        ]
        return httpx.Response(200, json={"results": results, "last_seq": page[-1].seq if page else since})


@pytest.fixture
async def couch_http() -> AsyncIterator[Callable[[CouchFeed], NpmClient]]:
    """Builds an ``NpmClient`` whose every request goes to the given ``CouchFeed``."""
    clients: list[httpx.AsyncClient] = []

    def make(feed: CouchFeed) -> NpmClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(feed))
        clients.append(http)
        return NpmClient(http, base_url=REGISTRY, replicate_url=REPLICATE, retry=NO_RETRY)

    yield make
    for http in clients:
        await http.aclose()
