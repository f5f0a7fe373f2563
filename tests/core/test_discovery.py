"""Discovery against the sandbox's PyPI and RubyGems: cursors, gaps, rate limits, bad input, a failing queue, and a
poll killed mid-way in a real process."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.clients import PyPIClient, RetryPolicy, RubyGemsClient, open_http
from core.clients.rubygems import GemVersion
from core.discovery import (
    PYPI_CURSOR,
    RUBYGEMS_CURSOR,
    PollReport,
    poll_pypi,
    poll_rubygems,
    publish,
    read_document,
    to_discovery,
    unresolved_reason,
)
from core.errors import BadResponse, QueueError, Unavailable
from core.models import Discovery
from core.queue import DiscoveryQueue, QueueStats
from core.repourl import SourceLink, resolve
from core.settings import Settings
from core.store import RecordStore
from sandbox import Sandbox

# Retries without waiting: a fault-injection test should spend its time on requests, not on back-off.
FAST = RetryPolicy(attempts=6, initial_s=0.01, max_s=0.05, jitter_s=0)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=21, packages=300) as running:
        yield running


@pytest.fixture
def world(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, its faults cleared after the test."""
    sandbox.set_faults("all", clear=True)
    yield sandbox
    sandbox.set_faults("all", clear=True)


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with open_http(settings.model_copy(update={"http_timeout_s": 1.0})) as client:
        yield client


@pytest.fixture
def pypi(http: httpx.AsyncClient, world: Sandbox) -> PyPIClient:
    return PyPIClient(http, base_url=world.env["CHANGELOGS_PYPI_URL"], retry=FAST)


@pytest.fixture
def rubygems(http: httpx.AsyncClient, world: Sandbox) -> RubyGemsClient:
    return RubyGemsClient(http, base_url=world.env["CHANGELOGS_RUBYGEMS_URL"], retry=FAST)


async def drain(queue: DiscoveryQueue) -> list[Discovery]:
    """Every discovery waiting in the queue, acked."""
    found: list[Discovery] = []
    while messages := await queue.receive(max_messages=500, wait_s=0):
        found += [m.discovery for m in messages]
        await queue.ack(messages)
    return found


def released(sandbox: Sandbox, registry: str, count: int) -> list[dict[str, Any]]:
    return [sandbox.publish(registry) for _ in range(count)]


def with_repo(releases: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(package, version, repository) of the releases that name a GitHub repository, as the sandbox says."""
    return {(r["package"], r["version"], r["repo"].lower()) for r in releases if r["repo"]}


def found(discoveries: list[Discovery]) -> set[tuple[str, str, str]]:
    return {(d.package, d.version or "", d.repo.lower()) for d in discoveries}


def newest(releases: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Package → (its newest version, repository) for the releases that name a GitHub repository. A PyPI poll
    queues a project once per batch of its change log, at the newest version released in it."""
    return {r["package"]: (r["version"], r["repo"].lower()) for r in releases if r["repo"]}


def projects(discoveries: list[Discovery]) -> set[tuple[str, str]]:
    return {(d.package, d.repo.lower()) for d in discoveries}


def expected_projects(releases: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(package, repo) for package, (_, repo) in newest(releases).items()}


class FailingQueue:
    """A queue whose ``publish`` fails the first ``failures`` times (then, if ``inner`` is given, delivers)."""

    def __init__(self, inner: DiscoveryQueue | None = None, *, failures: int = 1_000_000) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    async def publish(self, discoveries: list[Discovery]) -> None:
        self.calls += 1
        if self.calls <= self.failures or self.inner is None:
            raise QueueError("redis: connection refused")
        await self.inner.publish(discoveries)

    async def stats(self) -> QueueStats:
        return QueueStats(ready=0, in_flight=0, dead=0)

    async def aclose(self) -> None:
        return None


# ---- publish and its helpers ----


class TestPublish:
    async def test_stores_each_package_and_queues_each_discovery(
        self, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        older = Discovery(registry="npm", package="left-pad", version="1.0.0", repo="stevemao/left-pad")
        newer = Discovery(registry="npm", package="left-pad", version="1.1.0", repo="stevemao/left-pad", hint="h")
        other = Discovery(registry="pypi", package="attrs", version="23.1", repo="python-attrs/attrs", directory="d")
        await publish([newer, other, older], records=records, queue=queue)
        stored = await records.get_package("npm", "left-pad")
        assert (stored.version, stored.hint) == ("1.1.0", "h")  # the newest discovery of a package wins
        assert (await records.get_package("pypi", "attrs")).directory == "d"
        assert {(d.package, d.version) for d in await drain(queue)} == {
            ("left-pad", "1.0.0"),
            ("left-pad", "1.1.0"),
            ("attrs", "23.1"),
        }

    async def test_retries_a_failing_queue(self, records: RecordStore, queue: DiscoveryQueue) -> None:
        flaky = FailingQueue(queue, failures=2)
        discovery = Discovery(registry="npm", package="a", version="1", repo="o/a")
        await publish([discovery], records=records, queue=flaky, attempts=3, wait_s=0)
        assert flaky.calls == 3
        assert [d.package for d in await drain(queue)] == ["a"]

    async def test_raises_once_the_attempts_are_spent(self, records: RecordStore) -> None:
        failing = FailingQueue()
        with pytest.raises(QueueError):
            await publish(
                [Discovery(registry="npm", package="a", repo="o/a")],
                records=records,
                queue=failing,
                attempts=3,
                wait_s=0,
            )
        assert failing.calls == 3


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("https://gitlab.com/group/project", "other-host:gitlab", id="gitlab"),
        pytest.param("https://example.org/docs", "unknown-host", id="website"),
        pytest.param("https://user.github.io/site", "github-pages", id="github-pages"),
        pytest.param(None, "missing", id="missing"),
    ],
)
def test_unresolved_reason_names_why_there_is_no_github_repository(value: str | None, reason: str) -> None:
    source = SourceLink(resolve(value))
    assert to_discovery("npm", "x", "1", source) is None
    assert unresolved_reason(source) == reason


async def test_read_document_reads_a_malformed_body_again() -> None:
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise BadResponse("malformed JSON")
        return "ok"

    assert await read_document(fetch, attempts=3, wait_s=0) == "ok"
    calls = -10
    with pytest.raises(BadResponse):
        await read_document(fetch, attempts=3, wait_s=0)


# ---- PyPI ----


class TestPollPypi:
    async def test_first_run_starts_from_the_current_serial_and_queues_nothing(
        self, pypi: PyPIClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        report = await poll_pypi(pypi, records=records, queue=queue)
        last = await pypi.last_serial()
        assert report.cursor == str(last)
        assert await records.get_cursor(PYPI_CURSOR) == str(last)
        assert report.discovered == []
        assert await drain(queue) == []

    async def test_new_releases_are_queued_with_their_repository_directory_and_hint(
        self,
        world: Sandbox,
        http: httpx.AsyncClient,
        pypi: PyPIClient,
        records: RecordStore,
        queue: DiscoveryQueue,
    ) -> None:
        await poll_pypi(pypi, records=records, queue=queue)
        releases = released(world, "pypi", 12)
        report = await poll_pypi(pypi, records=records, queue=queue, chunk=5)
        queued = await drain(queue)
        assert {d.package: (d.version, d.repo.lower()) for d in queued} == newest(releases)
        assert len(queued) == len(newest(releases))
        assert report.discovered == queued
        assert report.cursor == str(await pypi.last_serial())
        assert report.rate_limited_until is None
        for discovery in queued:
            stored = await records.get_package("pypi", discovery.package)
            assert (stored.repo, stored.directory, stored.hint) == (discovery.repo, discovery.directory, discovery.hint)
            url = f"{world.env['CHANGELOGS_PYPI_URL']}/pypi/{discovery.package}/json"
            urls = (await http.get(url)).json()["info"]["project_urls"] or {}
            hints = [link for label, link in urls.items() if label.lower() in {"changelog", "changes"}]
            if hints:
                assert discovery.hint == hints[0]
        assert any(d.hint for d in queued)

    async def test_projects_without_a_github_repository_are_recorded_with_why(
        self, world: Sandbox, pypi: PyPIClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        await poll_pypi(pypi, records=records, queue=queue)
        nowhere = [p for items in world.summary()["packages"]["no_github"].values() for p in items]
        names = [p["name"] for p in nowhere if p["registry"] == "pypi"][:6]
        for name in names:
            world.publish("pypi", name)
        report = await poll_pypi(pypi, records=records, queue=queue)
        assert {s.package for s in report.skipped} == set(names)
        assert report.discovered == []
        counts = await records.unresolved_counts()
        assert sum(n for key, n in counts.items() if key.startswith("pypi:")) == len(names)
        assert all(s.reason in {"missing", "unknown-host", "github-pages", "gist"} or s.reason.startswith("other-host:")
                   for s in report.skipped)  # fmt: skip

    async def test_a_rate_limit_stops_the_run_and_the_next_run_resumes(
        self, world: Sandbox, pypi: PyPIClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        await poll_pypi(pypi, records=records, queue=queue)
        before = await records.get_cursor(PYPI_CURSOR)
        releases = released(world, "pypi", 15)
        world.set_faults("pypi", rate_limit_rate=1.0, retry_after_s=7)
        report = await poll_pypi(pypi, records=records, queue=queue)
        assert report.rate_limited_until is not None
        assert report.rate_limited_until > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        assert await records.get_cursor(PYPI_CURSOR) == before
        assert await drain(queue) == []

        # Limited now and then: each run stops somewhere, the serial only moves forward, nothing is lost.
        world.set_faults("pypi", rate_limit_rate=0.15)
        queued: list[Discovery] = []
        serials = [int(before or 0)]
        for _ in range(60):
            report = await poll_pypi(pypi, records=records, queue=queue, chunk=3, concurrency=2)
            queued += await drain(queue)
            serials.append(int(await records.get_cursor(PYPI_CURSOR) or 0))
            if report.rate_limited_until is None:
                break
        assert serials == sorted(serials)
        assert report.rate_limited_until is None
        assert projects(queued) >= expected_projects(releases)

    async def test_a_failing_queue_holds_the_serial_before_what_it_could_not_publish(
        self, world: Sandbox, pypi: PyPIClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        await poll_pypi(pypi, records=records, queue=queue)
        before = await records.get_cursor(PYPI_CURSOR)
        releases = released(world, "pypi", 8)
        with pytest.raises(QueueError):
            await poll_pypi(pypi, records=records, queue=FailingQueue())
        assert await records.get_cursor(PYPI_CURSOR) == before
        await poll_pypi(pypi, records=records, queue=queue)
        assert projects(await drain(queue)) == expected_projects(releases)

    @pytest.mark.parametrize(
        "faults",
        [
            pytest.param({"malformed_rate": 0.25}, id="malformed-json"),
            pytest.param({"truncate_rate": 0.25}, id="cut-bodies"),
            pytest.param({"error_rate": 0.25, "error_statuses": [500, 502, 503]}, id="http-5xx"),
            pytest.param({"stall_rate": 0.15, "stall_s": 3}, id="timeouts"),
            pytest.param({"rate_limit_rate": 0.1, "retry_after_s": 0}, id="http-429"),
        ],
    )
    async def test_bad_input_is_retried_and_nothing_is_lost(
        self, world: Sandbox, pypi: PyPIClient, records: RecordStore, queue: DiscoveryQueue, faults: dict[str, Any]
    ) -> None:
        await poll_pypi(pypi, records=records, queue=queue)
        releases = released(world, "pypi", 10)
        world.set_faults("pypi", **faults)
        queued: list[Discovery] = []
        reports: list[PollReport] = []
        for _ in range(30):  # a run stopped by a rate limit or an outage is resumed by the next
            try:
                reports.append(await poll_pypi(pypi, records=records, queue=queue, read_attempts=8))
            except Unavailable:
                continue
            finally:
                queued += await drain(queue)
            if reports[-1].rate_limited_until is None:
                break
        world.set_faults("pypi", clear=True)
        assert reports[-1].rate_limited_until is None
        assert projects(queued) >= expected_projects(releases)
        assert not [s for r in reports for s in r.skipped if s.reason == "unreadable"]
        assert sum(world.stats()["pypi"]["faults"].values()) > 0

    @pytest.mark.e2e
    async def test_every_batch_of_the_change_log_is_read(
        self, settings: Settings, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        with Sandbox(seed=5, packages=300, pypi_events=60_000) as sandbox:
            async with open_http(settings) as http:
                pypi = PyPIClient(http, base_url=sandbox.env["CHANGELOGS_PYPI_URL"])
                last = await pypi.last_serial()
                await records.set_cursor(PYPI_CURSOR, str(last - 60_000))
                report = await poll_pypi(pypi, records=records, queue=queue)
            calls = sandbox.stats()["pypi"]["routes"]["xmlrpc.changelog_since_serial"]
            summary = sandbox.summary()
        assert calls == 2  # 50,000 rows, then the 10,000 left: a short page is the end
        assert report.cursor == str(last)
        expected = {p["name"] for p in summary["packages"]["github"] if p["registry"] == "pypi"}
        assert {d.package for d in report.discovered} <= expected
        assert len(report.discovered) > 50


# ---- RubyGems ----


class TestPollRubygems:
    async def test_first_poll_queues_the_feeds_and_the_next_only_what_is_new(
        self, world: Sandbox, rubygems: RubyGemsClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        first = await poll_rubygems(rubygems, records=records, queue=queue)
        assert len(first.discovered) + len(first.skipped) > 50
        assert found(await drain(queue)) == found(first.discovered)
        releases = released(world, "rubygems", 3)
        second = await poll_rubygems(rubygems, records=records, queue=queue)
        assert found(await drain(queue)) == with_repo(releases)
        assert {(s.package, s.version) for s in second.skipped} == {
            (r["package"], r["version"]) for r in releases if not r["repo"]
        }
        assert second.gaps == 0
        third = await poll_rubygems(rubygems, records=records, queue=queue)
        assert (third.discovered, third.skipped) == ([], [])

    async def test_the_changelog_uri_is_kept_as_the_hint(
        self,
        world: Sandbox,
        http: httpx.AsyncClient,
        rubygems: RubyGemsClient,
        records: RecordStore,
        queue: DiscoveryQueue,
    ) -> None:
        report = await poll_rubygems(rubygems, records=records, queue=queue)
        base = world.env["CHANGELOGS_RUBYGEMS_URL"]
        with_hint = 0
        for discovery in report.discovered[:20]:
            await asyncio.sleep(0.12)  # RubyGems answers 429 beyond 10 requests/s
            payload = (await http.get(f"{base}/api/v1/gems/{discovery.package}.json")).json()
            assert discovery.hint == payload.get("changelog_uri")
            with_hint += discovery.hint is not None
        assert with_hint > 0

    @pytest.mark.parametrize(
        "faults",
        [
            pytest.param({"malformed_rate": 0.3}, id="malformed-json"),
            pytest.param({"truncate_rate": 0.3}, id="cut-bodies"),
            pytest.param({"error_rate": 0.3, "error_statuses": [500]}, id="http-500"),
            pytest.param({"stall_rate": 0.3, "stall_s": 3}, id="timeouts"),
            pytest.param({"rate_limit_rate": 0.3, "retry_after_s": 0}, id="http-429"),
        ],
    )
    async def test_bad_feed_answers_are_ridden_out_and_nothing_is_lost(
        self,
        world: Sandbox,
        rubygems: RubyGemsClient,
        records: RecordStore,
        queue: DiscoveryQueue,
        faults: dict[str, Any],
    ) -> None:
        await poll_rubygems(rubygems, records=records, queue=queue)
        await drain(queue)
        releases = released(world, "rubygems", 4)
        world.reset_stats()
        world.set_faults("rubygems", **faults)
        reports: list[PollReport] = []
        # A poll stopped by a rate limit or an outage changes nothing: the next reads again. Polls go on (finding
        # nothing more) until the faults have struck at least once: two requests a poll may all go through.
        for _ in range(30):
            try:
                reports.append(await poll_rubygems(rubygems, records=records, queue=queue))
            except (Unavailable, BadResponse):
                continue
            struck = sum(world.stats()["rubygems"]["faults"].values())
            if reports[-1].rate_limited_until is None and struck:
                break
        world.set_faults("rubygems", clear=True)
        assert struck > 0
        assert reports[-1].rate_limited_until is None
        assert found(await drain(queue)) == with_repo(releases)
        assert sum(r.gaps for r in reports) == 0

    async def test_a_failing_queue_leaves_the_cursor_for_the_next_poll(
        self, world: Sandbox, rubygems: RubyGemsClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        await poll_rubygems(rubygems, records=records, queue=queue)
        await drain(queue)
        before = await records.get_cursor(RUBYGEMS_CURSOR)
        releases = released(world, "rubygems", 3)
        with pytest.raises(QueueError):
            await poll_rubygems(rubygems, records=records, queue=FailingQueue())
        assert await records.get_cursor(RUBYGEMS_CURSOR) == before
        await poll_rubygems(rubygems, records=records, queue=queue)
        assert found(await drain(queue)) == with_repo(releases)

    @pytest.mark.e2e
    async def test_a_burst_larger_than_the_feed_is_detected_and_filled_under_10_requests_per_second(
        self, settings: Settings, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        # 200 packages: about 40 gems, all in latest.json at the first poll, so every gem is known.
        with Sandbox(seed=3, packages=200) as sandbox:
            async with open_http(settings) as http:
                rubygems = RubyGemsClient(http, base_url=sandbox.env["CHANGELOGS_RUBYGEMS_URL"])
                await poll_rubygems(rubygems, records=records, queue=queue)
                await drain(queue)
                releases = released(sandbox, "rubygems", 130)
                sandbox.reset_stats()
                started = time.monotonic()
                report = await poll_rubygems(rubygems, records=records, queue=queue)
                elapsed = time.monotonic() - started
                stats = sandbox.stats()["rubygems"]
        assert report.gaps == 1
        assert found(await drain(queue)) == with_repo(releases)
        assert {(s.package, s.version) for s in report.skipped} >= {
            (r["package"], r["version"]) for r in releases if not r["repo"]
        }
        assert stats.get("throttled", 0) == stats["statuses"].get("429", 0) == 0
        assert stats["requests"] / elapsed < 10
        assert stats["requests"] > 40  # the fill read the versions of every known gem

    @pytest.mark.e2e
    async def test_a_gap_fill_cut_short_is_resumed_by_the_next_poll(
        self, settings: Settings, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        class Outage(RubyGemsClient):
            """Answers a few ``versions`` calls, then is down."""

            calls = 0

            async def versions(self, name: str) -> list[GemVersion]:
                self.calls += 1
                if self.calls > 5:
                    raise Unavailable("RubyGems failed", status=503)
                return await super().versions(name)

        with Sandbox(seed=3, packages=200) as sandbox:
            async with open_http(settings) as http:
                base = sandbox.env["CHANGELOGS_RUBYGEMS_URL"]
                await poll_rubygems(RubyGemsClient(http, base_url=base), records=records, queue=queue)
                await drain(queue)
                releases = released(sandbox, "rubygems", 130)
                cut = await poll_rubygems(Outage(http, base_url=base), records=records, queue=queue)
                cursor = json.loads(await records.get_cursor(RUBYGEMS_CURSOR) or "{}")
                resumed = await poll_rubygems(RubyGemsClient(http, base_url=base), records=records, queue=queue)
        assert (cut.gaps, cut.errors) == (1, 1)
        assert "fill_from" in cursor
        assert resumed.gaps == 0  # the feed did not move; the fill went on from where it was
        assert found(await drain(queue)) == with_repo(releases)
        assert "fill_from" not in json.loads(await records.get_cursor(RUBYGEMS_CURSOR) or "{}")


# ---- a poll killed mid-way ----

_POLL = """
import asyncio
from core.clients import PyPIClient, open_http
from core.discovery import poll_pypi
from core.queue import open_queue
from core.settings import load_settings
from core.store import open_records

async def main():
    settings = load_settings()
    records, queue = open_records(settings), open_queue(settings)
    async with open_http(settings) as http:
        pypi = PyPIClient(http, base_url=settings.pypi_url)
        await poll_pypi(pypi, records=records, queue=queue, chunk=4, concurrency=2)

asyncio.run(main())
"""


@pytest.mark.e2e
async def test_a_pypi_poll_killed_mid_way_loses_nothing(
    world: Sandbox, settings: Settings, pypi: PyPIClient, records: RecordStore, queue: DiscoveryQueue
) -> None:
    env = {
        **os.environ,
        "CHANGELOGS_DATA_DIR": str(settings.data_dir),
        "REDIS_URL": settings.redis_url or "",
        "CHANGELOGS_PYPI_URL": world.env["CHANGELOGS_PYPI_URL"],
    }

    async def serial() -> int:
        return int(await records.get_cursor(PYPI_CURSOR) or 0)

    async def progress(start: int) -> None:
        while await serial() == start:  # noqa: ASYNC110 - the cursor is in SQLite: nothing to wait on but a poll
            await asyncio.sleep(0.05)

    async def poll(*, kill_within_s: float | None = None) -> int:
        """One poll in its own process; killed (SIGKILL) within ``kill_within_s`` of its first progress."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _POLL, env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE
        )
        try:
            if kill_within_s is not None:
                moved = asyncio.create_task(progress(await serial()))
                exited = asyncio.create_task(process.wait())
                await asyncio.wait([moved, exited], timeout=60, return_when=asyncio.FIRST_COMPLETED)
                moved.cancel()
                await asyncio.sleep(rng.uniform(0, kill_within_s))
                if process.returncode is None:
                    process.send_signal(signal.SIGKILL)
            _, err = await asyncio.wait_for(process.communicate(), timeout=60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode in (0, -signal.SIGKILL), err.decode()
        return process.returncode

    rng = random.Random(4)
    assert await poll() == 0  # the first run only stores the serial
    first = await serial()
    releases = released(world, "pypi", 80)
    last = await pypi.last_serial()
    world.set_faults("pypi", latency_ms=150)  # several seconds of reading: time to be killed in the middle
    positions = [first]
    for _ in range(3):
        assert await poll(kill_within_s=1.0) == -signal.SIGKILL
        positions.append(await serial())
    assert positions == sorted(positions)
    assert first < positions[-1] < last  # killed in the middle, having got somewhere
    world.set_faults("pypi", latency_ms=0)
    assert await poll() == 0
    assert await serial() == last
    assert projects(await drain(queue)) >= expected_projects(releases)
