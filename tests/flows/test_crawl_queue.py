"""``crawl-queue`` end to end: the queue in Redis, the sandbox's GitHub with its faults, a real Prefect server."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from core.crawl import Crawler
from core.models import Discovery, Outcome
from core.queue import QueueStats, open_queue
from core.settings import Settings, load_settings
from flows.crawl_queue import crawl_queue
from sandbox import Sandbox
from tests.flows.conftest import run_artifacts, table_rows

pytestmark = pytest.mark.e2e

COLUMNS = {"repo", "outcome", "versions", "latest_version", "requests", "charged", "ms", "reason"}


def discoveries(sandbox: Sandbox, repos: int, *, skip: int = 0) -> list[Discovery]:
    """Discoveries of the packages of ``repos`` distinct repositories (a monorepo's packages all come along)."""
    summary = sandbox.summary()
    # The 50 MB changelog and its like are the core tests' business: here they would only take time.
    special = {e["repo"].lower() for e in summary["special"].values()}
    packages = [p for p in summary["packages"]["github"] if p["repo"].lower() not in special]
    wanted = list(dict.fromkeys(p["repo"].lower() for p in packages))[skip : skip + repos]
    return [
        Discovery(registry=p["registry"], package=p["name"], repo=p["repo"], directory=p["directory"])
        for p in packages
        if p["repo"].lower() in wanted
    ]


async def publish(settings: Settings, items: list[Discovery]) -> None:
    queue = open_queue(settings)
    try:
        await queue.publish(items)
    finally:
        await queue.aclose()


async def queue_stats(settings: Settings) -> QueueStats:
    queue = open_queue(settings)
    try:
        return await queue.stats()
    finally:
        await queue.aclose()


async def outcomes(settings: Settings, items: list[Discovery]) -> dict[str, Outcome]:
    """The stored outcome of each repository (under its new name when it was renamed)."""
    crawler = Crawler.open(settings, token=None)
    try:
        found = {}
        for repo in {d.repo for d in items}:
            record = await crawler.records.get_repo(repo)
            if record.renamed_to:
                record = await crawler.records.get_repo(record.renamed_to)
            found[repo.lower()] = record.outcome
        return found
    finally:
        await crawler.aclose()


async def test_every_discovery_is_crawled_acknowledged_and_shown_in_the_run_artifacts(
    flow_settings: Settings, world_sandbox: Sandbox
) -> None:
    items = discoveries(world_sandbox, 25)
    items.append(items[0].model_copy(update={"version": "99.0.0"}))  # a second release of one repository
    await publish(flow_settings, items)
    state = await crawl_queue(max_seconds=4, return_state=True)
    result = await state.aresult()
    assert result["messages"] == len(items)
    assert result["repositories"] == 25 and result["failed"] == 0
    assert await queue_stats(flow_settings) == QueueStats(ready=0, in_flight=0, dead=0)
    assert Outcome.FAILED not in (await outcomes(flow_settings, items)).values()

    artifacts = await run_artifacts(state.state_details.flow_run_id)
    rows = table_rows(artifacts["crawl-queue"])
    assert len(rows) == 25
    assert all(set(row) == COLUMNS for row in rows)
    assert sum(row["requests"] for row in rows) == result["requests"] > 25
    summary = artifacts["crawl-queue-summary"].data
    assert f"discoveries taken off the queue: **{len(items)}**" in summary
    assert "0 waiting, 0 in flight, 0 dead-lettered" in summary


async def test_with_5xx_stalls_and_the_budget_run_to_zero_every_repository_is_crawled_once(
    flow_settings: Settings, world_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No reserve kept back: the crawl spends the budget to zero and must send nothing past it.
    monkeypatch.setenv("CHANGELOGS_GITHUB_BUDGET_RESERVE", "0")
    monkeypatch.setenv("CHANGELOGS_HTTP_TIMEOUT_S", "1.5")
    settings = load_settings()
    items = discoveries(world_sandbox, 40, skip=30)
    await publish(settings, items)
    world_sandbox.set_faults("github", error_rate=0.1, stall_rate=0.03, stall_s=4)
    world_sandbox.set_budget(40, reset_in_s=8)  # about half of what 40 new repositories need
    world_sandbox.reset_stats()

    state = await crawl_queue(max_seconds=20, return_state=True)
    result = await state.aresult()

    github = world_sandbox.stats()["github"]
    assert github["faults"].get("error", 0) > 0 and github["faults"].get("stall", 0) > 0
    assert github.get("over_budget", 0) == 0, "a request was sent after the budget hit zero"
    assert await queue_stats(settings) == QueueStats(ready=0, in_flight=0, dead=0)
    stored = await outcomes(settings, items)
    assert len(stored) == 40 and Outcome.FAILED not in stored.values()
    rows = table_rows((await run_artifacts(state.state_details.flow_run_id))["crawl-queue"])
    assert Counter(row["outcome"] for row in rows)["failed"] == 0
    assert len(rows) == result["repositories"] == 40, "a repository was crawled twice"
    crawler = Crawler.open(settings, token=None)
    try:
        assert crawler.feed is not None
        events = Counter(e.changelog.lower() for e in await crawler.feed.recent(limit=1000))
    finally:
        await crawler.aclose()
    assert events and max(events.values()) == 1
    assert len(events) == Counter(row["outcome"] for row in rows)["ok"]


async def test_a_poison_message_is_dead_lettered_after_5_deliveries_and_the_repository_backs_off(
    flow_settings: Settings, world_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHANGELOGS_QUEUE_VISIBILITY_TIMEOUT_S", "1")
    settings = load_settings()
    (item,) = discoveries(world_sandbox, 1, skip=100)[:1]
    await publish(settings, [item])
    world_sandbox.set_faults("github", malformed_rate=1.0)  # every answer unreadable: the crawl always fails

    result = await crawl_queue(max_seconds=14)

    assert result["failed"] == 5
    assert await queue_stats(settings) == QueueStats(ready=0, in_flight=0, dead=1)
    crawler = Crawler.open(settings, token=None)
    try:
        record = await crawler.records.get_repo(item.repo)
    finally:
        await crawler.aclose()
    assert record.failures == 1 and record.error and "BadResponse" in record.error
    assert record.next_crawl_at is not None


async def test_work_the_budget_stopped_goes_back_to_the_queue_and_the_run_ends(
    flow_settings: Settings, world_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHANGELOGS_GITHUB_MAX_WAIT_S", "2")
    settings = load_settings()
    items = discoveries(world_sandbox, 5, skip=150)
    await publish(settings, items)
    world_sandbox.set_budget(0, reset_in_s=600)
    world_sandbox.reset_stats()

    started = time.monotonic()
    result = await crawl_queue(max_seconds=60)

    assert time.monotonic() - started < 30, "the run should end when the budget is spent for longer than it lasts"
    assert set(result["outcomes"]) == {"rate-limited"}
    # One request found the budget spent; nothing was sent after it.
    assert world_sandbox.stats()["github"]["requests"] == 1
    assert await queue_stats(settings) == QueueStats(ready=len(items), in_flight=0, dead=0)
    queue = open_queue(settings)
    try:
        again = await queue.receive(max_messages=50, wait_s=1)
    finally:
        await queue.aclose()
    assert sorted(m.discovery.package for m in again) == sorted(d.package for d in items)
    assert {m.deliveries for m in again} == {1}, "waiting for the budget must not count as a failed delivery"
