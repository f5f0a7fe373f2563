"""``crawl-queue``: drain the discovered queue, one ``crawl_repo`` task per repository."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import defaultdict
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from core.queue import Message
from core.settings import Settings
from flows._crawl import Tally, crawl_artifacts, crawl_each
from tasks._services import close_services, get_services
from tasks.crawl import (
    ack_discoveries,
    budget_pause_s,
    queue_stats,
    receive_discoveries,
    record_crawl_failure,
    requeue_discoveries,
)


def _drain_seconds(settings: Settings, max_seconds: float | None) -> float:
    if max_seconds is not None:
        return max_seconds
    planned = settings.crawl_drain_seconds * settings.crawl_workers
    scheduled = flow_run.scheduled_start_time
    late = (dt.datetime.now(dt.UTC) - scheduled).total_seconds() if scheduled else 0.0
    return max(planned - max(late, 0.0), 0.0)


@flow(name="crawl-queue", log_prints=True)
async def crawl_queue(
    max_seconds: float | None = None, batch_size: int | None = None, concurrency: int | None = None
) -> dict[str, Any]:
    """Crawl what discovery queued.

    Takes batches of discoveries off the queue as they arrive, for ``max_seconds`` (default: the
    ``CHANGELOGS_CRAWL_DRAIN_SECONDS`` setting times ``CHANGELOGS_CRAWL_WORKERS``, counted from the run's scheduled
    start, so that with N workers about N runs overlap and a late run does not push the next ones later), and
    crawls each repository once per batch, at most ``concurrency`` at a time.

    - A crawl that ended (crawled, unchanged, skipped, gone, no changelog) acknowledges its messages.
    - A failed crawl leaves them on the queue: they come back after the visibility timeout, and after 5
      deliveries go to the dead-letter stream (the repository then backs off).
    - Work the GitHub budget stopped goes back to the queue as new messages, and the run takes no more until the
      budget resets (or ends, if that is later than the run would).

    The run's table artifact lists every repository (outcome, versions, latest version, GitHub requests, ms);
    the summary artifact counts them and shows the queue afterwards.
    """
    logger = get_run_logger()
    services = await get_services()
    settings = services.settings
    deadline = time.monotonic() + _drain_seconds(settings, max_seconds)
    size = batch_size or settings.crawl_batch_size
    tally = Tally()
    received = 0
    try:
        while (left := deadline - time.monotonic()) > 0:
            pause = await budget_pause_s()
            if pause >= left:
                logger.warning("GitHub budget spent for %.0f s: ending the run, the queue keeps the rest", pause)
                break
            if pause > 0:
                logger.info("GitHub budget spent: pausing %.0f s", pause)
                await asyncio.sleep(pause)
                continue
            # Wait for work until the deadline: a run keeps consuming what discovery queues meanwhile.
            messages = await receive_discoveries(size, wait_s=min(2.0, left))
            received += len(messages)
            await _crawl_batch(
                messages,
                tally,
                concurrency=concurrency or settings.crawl_concurrency,
                max_deliveries=settings.queue_max_deliveries,
            )
        stats = await queue_stats()
    finally:
        await close_services()

    summary = {
        "messages": received,
        "repositories": len(tally.rows),
        "failed": tally.outcomes["failed"],
        "outcomes": dict(tally.outcomes),
        "requests": tally.requests,
        "charged": tally.charged,
    }
    logger.info("crawl-queue: %s; queue now %s", summary, stats)
    await crawl_artifacts(
        "crawl-queue",
        tally,
        title="crawl-queue",
        lines=[
            f"- discoveries taken off the queue: **{received}**",
            f"- queue after the run: {stats.ready} waiting, {stats.in_flight} in flight, {stats.dead} dead-lettered",
        ],
    )
    return summary


async def _crawl_batch(messages: list[Message], tally: Tally, *, concurrency: int, max_deliveries: int) -> None:
    """Crawl each repository of the batch once (with every hint its discoveries carry) and settle its messages."""
    if not messages:
        return
    groups: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        groups[message.discovery.repo.lower()].append(message)
    requests = []
    for group in groups.values():
        newest = group[-1].discovery
        requests.append(
            {
                "repo": newest.repo,
                "directory": next((m.discovery.directory for m in reversed(group) if m.discovery.directory), None),
                "hints": sorted({m.discovery.hint for m in group if m.discovery.hint}),
            }
        )
    results = await crawl_each(requests, concurrency=concurrency)
    done: list[Message] = []
    budget_stopped: list[Message] = []
    for crawled, group in zip(results, groups.values(), strict=True):
        tally.add(crawled)
        if crawled.ok:
            done += group
        elif crawled.rate_limited:
            budget_stopped += group
        elif crawled.error is not None and max(m.deliveries for m in group) >= max_deliveries:
            # The queue dead-letters these next time; the repository backs off and is revisited later.
            await record_crawl_failure(group[-1].discovery.repo, crawled.error)
    await ack_discoveries(done)
    if budget_stopped:
        await requeue_discoveries(budget_stopped)
