"""The follower in-process: the whole feed reaches the queue, the cursor only passes what was published, opaque
sequences keep their type, bad input and failures are ridden out, ``stop()`` saves what was done."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.clients import NpmClient
from core.errors import QueueError
from core.models import Discovery
from core.queue import DiscoveryQueue, QueueStats
from core.store import RecordStore
from follower import NPM_CURSOR, STATUS, FollowerStats, parse_start
from sandbox import Sandbox
from tests.follower.conftest import CouchFeed, Row, cursor, drain, fast_follower, follow_to, wait_for

MakeNpm = Callable[[CouchFeed], NpmClient]


def expected_packages(summary: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """npm package → (repository, directory) as the sandbox's world says."""
    return {
        p["name"]: (p["repo"].lower(), p["directory"]) for p in summary["packages"]["github"] if p["registry"] == "npm"
    }


def assert_whole_feed(queued: list[Discovery], summary: dict[str, Any]) -> None:
    """One discovery per feed row naming a GitHub repository at least, every package with the right repository."""
    feed = summary["counts"]["npm_feed"]
    expected = expected_packages(summary)
    assert len(queued) >= feed["with_github_repo"]
    assert len({d.package for d in queued}) == feed["packages_with_github_repo"]
    for discovery in queued:
        assert (discovery.repo.lower(), discovery.directory) == expected[discovery.package], discovery


class FailingQueue:
    """Fails ``publish`` the first ``failures`` times, then delivers to ``inner``."""

    def __init__(self, inner: DiscoveryQueue, *, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    async def publish(self, discoveries: list[Discovery]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise QueueError("redis: connection refused")
        await self.inner.publish(discoveries)

    async def stats(self) -> QueueStats:
        return await self.inner.stats()

    async def aclose(self) -> None:
        return None


class CancelSwallowingQueue(FailingQueue):
    """A queue whose ``publish`` swallows the cancellation that lands in it and finishes the publish, as redis-py
    8.1 does for about a third of the cancellations that arrive mid-command on Python 3.11 (measured)."""

    def __init__(self, inner: DiscoveryQueue, *, then_fail: bool) -> None:
        super().__init__(inner, failures=0)
        self.then_fail = then_fail  # after swallowing it, fail every publish (the follower would retry forever)
        self.publishing = asyncio.Event()
        self.swallowed = 0

    async def publish(self, discoveries: list[Discovery]) -> None:
        self.publishing.set()
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            self.swallowed += 1
        if self.swallowed and self.then_fail:
            raise QueueError("redis: connection reset")
        await self.inner.publish(discoveries)


class TestFeed:
    async def test_every_change_with_a_github_repository_reaches_the_queue(
        self, world: Sandbox, sandbox_npm: NpmClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        summary = world.summary()
        follower = fast_follower(sandbox_npm, records, queue)
        await follow_to(follower, records, summary["counts"]["npm_update_seq"])
        queued = await drain(queue)
        assert_whole_feed(queued, summary)
        feed = summary["counts"]["npm_feed"]
        assert len(queued) == feed["with_github_repo"] == follower.stats.discoveries
        assert follower.stats.changes == feed["rows"]
        # Deleted rows and design documents are never fetched; packages with no repository are recorded.
        assert follower.stats.skipped == feed["deleted"] + feed["design"]
        routes = world.stats()["npm"]["routes"]
        assert routes["manifest"] <= feed["rows"] - feed["deleted"] - feed["design"]
        unresolved = await records.unresolved_counts()
        assert sum(n for key, n in unresolved.items() if key.startswith("npm:")) > 0
        # The 4 MB documents were read like any other.
        huge = set(summary["packages"]["huge_documents"]) & set(expected_packages(summary))
        assert huge & {d.package for d in queued}

    async def test_the_cursor_is_json_and_keeps_an_integer_seq_an_integer(
        self, world: Sandbox, sandbox_npm: NpmClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        end = await sandbox_npm.update_seq()
        await follow_to(fast_follower(sandbox_npm, records, queue), records, end)
        assert await records.get_cursor(NPM_CURSOR) == json.dumps(end)
        assert isinstance(await cursor(records), int)

    async def test_an_opaque_string_seq_stays_a_string(
        self, couch_http: MakeNpm, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        feed = CouchFeed.of(["a", "b", "c"])
        await follow_to(fast_follower(couch_http(feed), records, queue), records, feed.update_seq)
        assert await records.get_cursor(NPM_CURSOR) == json.dumps(feed.update_seq)
        assert {d.package for d in await drain(queue)} == {"a", "b", "c"}
        # A restart resumes from the stored string: the feed is asked for what follows it, nothing else.
        feed.rows.append(Row(CouchFeed.seq(4), "d"))
        feed.paths.clear()
        await follow_to(fast_follower(couch_http(feed), records, queue), records, feed.update_seq)
        assert [d.package for d in await drain(queue)] == ["d"]
        assert f"since={feed.rows[2].seq}" in feed.paths[0]

    async def test_deleted_rows_and_design_documents_are_never_fetched(
        self, couch_http: MakeNpm, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        feed = CouchFeed.of(["a", "gone", "_design/app", "b"], deleted=frozenset({"gone"}))
        follower = fast_follower(couch_http(feed), records, queue)
        await follow_to(follower, records, feed.update_seq)
        assert {d.package for d in await drain(queue)} == {"a", "b"}
        assert not [p for p in feed.paths if "gone" in p or "_design" in p]
        assert follower.stats.skipped == 2

    async def test_scoped_names_are_fetched_with_the_slash_escaped(
        self, couch_http: MakeNpm, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        feed = CouchFeed.of(["@babel/core", "plain"])
        await follow_to(fast_follower(couch_http(feed), records, queue), records, feed.update_seq)
        assert "/@babel%2Fcore/latest" in feed.paths
        assert {(d.package, d.repo) for d in await drain(queue)} == {
            ("@babel/core", "owner/core"),
            ("plain", "owner/plain"),
        }

    async def test_a_first_run_starts_at_the_end_of_the_feed_and_stores_it_at_once(
        self, world: Sandbox, sandbox_npm: NpmClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        end = await sandbox_npm.update_seq()
        follower = fast_follower(sandbox_npm, records, queue, start=None)
        running = asyncio.create_task(follower.run())
        await wait_for(lambda: _equals(records, end))
        release = world.publish("npm")
        await wait_for(lambda: _equals(records, world.summary()["counts"]["npm_update_seq"]))
        follower.stop()
        await running
        # Nothing of what the feed held before the first run; the release published since.
        assert [d.package for d in await drain(queue)] == ([release["package"]] if release["repo"] else [])

    async def test_a_first_run_can_start_at_a_given_seq(
        self, world: Sandbox, sandbox_npm: NpmClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        summary = world.summary()
        middle = (await sandbox_npm.changes(0, 300)).results[-1].seq
        after = (await sandbox_npm.changes(middle, 10_000)).results
        await follow_to(fast_follower(sandbox_npm, records, queue, start=middle), records, after[-1].seq)
        expected = expected_packages(summary)
        assert {d.package for d in await drain(queue)} == {c.id for c in after if c.id in expected}


class TestNothingIsLost:
    async def test_the_cursor_waits_for_the_slowest_change_before_it(
        self, couch_http: MakeNpm, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        feed = CouchFeed.of(["a", "slow", "b", "c", "d"])
        feed.hold["slow"] = asyncio.Event()
        follower = fast_follower(couch_http(feed), records, queue)
        running = asyncio.create_task(follower.run())

        async def all_but_slow_fetched() -> bool:
            return all(f"/{n}/latest" in feed.paths for n in "abcd")

        await wait_for(all_but_slow_fetched)
        await asyncio.sleep(0.3)  # several commits' time
        assert await cursor(records) == feed.rows[0].seq  # "a" only: "slow" is not published yet
        feed.hold["slow"].set()
        await wait_for(lambda: _equals(records, feed.update_seq))
        follower.stop()
        await running
        assert {d.package for d in await drain(queue)} == {"a", "slow", "b", "c", "d"}

    async def test_a_failing_queue_holds_the_cursor_until_it_recovers(
        self, couch_http: MakeNpm, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        feed = CouchFeed.of(["a", "b", "c"])
        failing = FailingQueue(queue, failures=4)
        follower = fast_follower(couch_http(feed), records, failing)
        running = asyncio.create_task(follower.run())

        async def failed_twice() -> bool:
            return failing.calls >= 2

        await wait_for(failed_twice)
        assert await cursor(records) == 0  # where the first run started: nothing was published yet
        await wait_for(lambda: _equals(records, feed.update_seq))
        follower.stop()
        await running
        assert failing.calls > 4
        assert follower.stats.errors >= 4
        assert {d.package for d in await drain(queue)} == {"a", "b", "c"}

    async def test_a_rate_limit_pauses_every_request_for_its_retry_after(
        self, couch_http: MakeNpm, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        feed = CouchFeed.of(["a", "b", "c", "d"])
        feed.answers["a"] = [httpx.Response(429, headers={"Retry-After": "1"}, text="Too Many Requests")]
        follower = fast_follower(couch_http(feed), records, queue, concurrency=1)
        await follow_to(follower, records, feed.update_seq)
        limited = next(t for t, path in feed.times if path == "/a/latest")
        after = [t for t, path in feed.times if path.endswith("/latest") and t > limited]
        assert after and min(after) - limited >= 0.95
        assert follower.stats.rate_limited == 1
        assert {d.package for d in await drain(queue)} == {"a", "b", "c", "d"}

    async def test_a_document_that_never_parses_is_recorded_and_skipped(
        self, couch_http: MakeNpm, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        feed = CouchFeed.of(["a", "broken", "b"])
        feed.answers["broken"] = [httpx.Response(200, content=b'{"name": "broken", "ver') for _ in range(3)]
        follower = fast_follower(couch_http(feed), records, queue, read_attempts=3)
        await follow_to(follower, records, feed.update_seq)
        assert {d.package for d in await drain(queue)} == {"a", "b"}
        assert await records.unresolved_counts() == {"npm:unreadable": 1}
        assert feed.paths.count("/broken/latest") == 3

    @pytest.mark.parametrize(
        "faults",
        [
            pytest.param({"malformed_rate": 0.2}, id="malformed-json"),
            pytest.param({"truncate_rate": 0.2}, id="cut-bodies"),
            pytest.param({"error_rate": 0.2, "error_statuses": [500, 502, 503]}, id="http-5xx"),
            pytest.param({"rate_limit_rate": 0.1, "retry_after_s": 0}, id="http-429"),
            pytest.param({"stall_rate": 0.05, "stall_s": 2}, id="timeouts"),
        ],
    )
    async def test_bad_input_is_ridden_out_and_nothing_is_lost(
        self,
        world: Sandbox,
        sandbox_npm: NpmClient,
        records: RecordStore,
        queue: DiscoveryQueue,
        faults: dict[str, Any],
    ) -> None:
        # The first 150 rows of the feed, read under faults.
        rows = (await sandbox_npm.changes(0, 150)).results
        expected = expected_packages(world.summary())
        world.reset_stats()
        world.set_faults("npm", **faults)
        follower = fast_follower(sandbox_npm, records, queue, concurrency=8)
        await follow_to(follower, records, rows[-1].seq, timeout_s=120)
        world.set_faults("npm", clear=True)
        queued = await drain(queue)
        assert {d.package for d in queued} >= {r.id for r in rows if r.id in expected}
        assert all((d.repo.lower(), d.directory) == expected[d.package] for d in queued)
        assert sum(world.stats()["npm"]["faults"].values()) > 0
        assert follower.stats.errors + follower.stats.rate_limited > 0
        assert "npm:unreadable" not in await records.unresolved_counts()


async def _equals(records: RecordStore, seq: Any) -> bool:
    return await cursor(records) == seq


class TestStop:
    async def test_stop_publishes_what_was_fetched_and_a_restart_resumes(
        self, world: Sandbox, sandbox_npm: NpmClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        summary = world.summary()
        world.set_faults("npm", latency_ms=30)
        follower = fast_follower(sandbox_npm, records, queue)
        running = asyncio.create_task(follower.run())

        async def halfway() -> bool:
            return follower.stats.changes >= 100

        await wait_for(halfway)
        follower.stop()
        await asyncio.wait_for(running, timeout=2)  # abandons what is in flight: no waiting for slow requests
        stopped_at = await cursor(records)
        assert stopped_at == follower.stats.seq != summary["counts"]["npm_update_seq"]
        first = await drain(queue)
        assert len(first) == follower.stats.discoveries
        world.set_faults("npm", clear=True)
        restarted = fast_follower(sandbox_npm, records, queue, start=None)  # a stored cursor wins over "now"
        await follow_to(restarted, records, summary["counts"]["npm_update_seq"])
        assert_whole_feed(first + await drain(queue), summary)

    @pytest.mark.parametrize("then_fail", [False, True], ids=["publish-completes", "publish-fails"])
    async def test_stop_ends_the_follower_even_when_a_library_swallows_its_cancellation(
        self, world: Sandbox, sandbox_npm: NpmClient, records: RecordStore, queue: DiscoveryQueue, then_fail: bool
    ) -> None:
        swallowing = CancelSwallowingQueue(queue, then_fail=then_fail)
        follower = fast_follower(sandbox_npm, records, swallowing)
        running = asyncio.create_task(follower.run())
        await asyncio.wait_for(swallowing.publishing.wait(), timeout=30)
        follower.stop()
        # Not wait_for: it would wait for a task that ignores its cancellation forever.
        done, _ = await asyncio.wait({running}, timeout=5)
        assert done, "the follower did not stop"
        await running
        assert swallowing.swallowed == 1
        # What the swallowed publish delivered is in the queue, and the cursor never passed what was not.
        assert len(await drain(queue)) == follower.stats.discoveries
        assert await cursor(records) == follower.stats.seq

    async def test_the_status_record_gives_position_lag_and_rates(
        self, world: Sandbox, sandbox_npm: NpmClient, records: RecordStore, queue: DiscoveryQueue
    ) -> None:
        end = await sandbox_npm.update_seq()
        follower = fast_follower(sandbox_npm, records, queue)
        await follow_to(follower, records, end)
        status = await records.get_status(STATUS)
        assert status["seq"] == end
        assert status["upstream_seq"] == end
        assert status["lag"] == 0
        assert status["changes"] == follower.stats.changes > 0
        assert status["discoveries"] == follower.stats.discoveries > 0
        assert status["changes_per_s"] > 0
        assert status["state"] == "ok"


@pytest.mark.parametrize(
    ("text", "start"),
    [
        pytest.param("now", None, id="now"),
        pytest.param("NOW", None, id="now-upper"),
        pytest.param("0", 0, id="zero"),
        pytest.param("40000123", 40000123, id="integer"),
        pytest.param('"12-g1AAAA"', "12-g1AAAA", id="json-string"),
        pytest.param("12-g1AAAA", "12-g1AAAA", id="opaque"),
        pytest.param("true", "true", id="not-a-seq"),
    ],
)
def test_parse_start(text: str, start: Any) -> None:
    assert parse_start(text) == start


def test_a_follower_that_has_not_read_the_feed_for_a_while_is_stalled() -> None:
    stats = FollowerStats()
    assert stats.as_status(stale_after_s=60)["state"] == "ok"  # just started
    assert stats.as_status(stale_after_s=0)["state"] == "stalled"  # never read the feed
    stats.last_read = time.monotonic() - 120
    assert stats.as_status(stale_after_s=60)["state"] == "stalled"
    stats.last_read = time.monotonic()
    assert stats.as_status(stale_after_s=60)["state"] == "ok"


@pytest.mark.parametrize(
    ("seq", "upstream", "lag"),
    [
        pytest.param(10, 25, 15, id="integers"),
        pytest.param("10-g1AAAA", "25-g1AAAA", None, id="opaque"),
        pytest.param(None, 25, None, id="not-started"),
    ],
)
def test_lag_needs_integer_sequences(seq: Any, upstream: Any, lag: int | None) -> None:
    assert FollowerStats(seq=seq, upstream_seq=upstream).lag == lag
