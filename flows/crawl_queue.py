"""``crawl-queue``: drain the discovered queue, one ``crawl_repo`` task per repository."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from core.queue import Message
from tasks._services import close_services, get_services
from tasks.crawl import ack_discoveries, crawl_repo, receive_discoveries, record_crawl_failure

TABLE_COLUMNS = ["repo", "outcome", "versions", "latest_version", "requests", "ms", "reason"]


@flow(name="crawl-queue", log_prints=True)
async def crawl_queue(
    max_seconds: float | None = None, batch_size: int | None = None, concurrency: int | None = None
) -> dict[str, Any]:
    """Crawl what discovery queued.

    Takes batches of discoveries off the queue, as they arrive, for ``max_seconds`` (default: the
    ``CHANGELOGS_CRAWL_DRAIN_SECONDS`` setting, ~4.5 minutes, so runs scheduled every 5 minutes do not overlap),
    crawls each repository once per batch with at most ``concurrency`` crawls at a time, and acknowledges the
    messages of every crawl that ended (crawled, unchanged, skipped, gone, no changelog). Messages of failed
    crawls stay on the queue and come back after the visibility timeout; after 5 deliveries they go to the
    dead-letter stream. The run's table artifact lists every repository with its outcome.
    """
    logger = get_run_logger()
    services = await get_services()
    settings = services.settings
    deadline = time.monotonic() + (max_seconds if max_seconds is not None else settings.crawl_drain_seconds)
    size = batch_size or settings.crawl_batch_size
    limit = asyncio.Semaphore(concurrency or settings.crawl_concurrency)
    rows: list[dict[str, Any]] = []
    received = 0
    failed = 0

    async def crawl_group(messages: list[Message]) -> bool:
        newest = messages[-1].discovery
        hints = sorted({m.discovery.hint for m in messages if m.discovery.hint})
        directory = next((m.discovery.directory for m in reversed(messages) if m.discovery.directory), None)
        async with limit:
            state = await crawl_repo(newest.repo, directory=directory, hints=hints, return_state=True)
        if state.is_completed():
            rows.append(await state.aresult())
            return True
        error = state.result(raise_on_failure=False)
        await record_crawl_failure(newest.repo, error if isinstance(error, BaseException) else RuntimeError(state))
        rows.append({"repo": newest.repo, "outcome": "failed", "reason": str(error)[:200]})
        return False

    try:
        while time.monotonic() < deadline:
            # Wait for work until the deadline: a run keeps consuming what discovery queues meanwhile.
            wait = min(2.0, max(deadline - time.monotonic(), 0.0))
            messages = await receive_discoveries(size, wait_s=wait)
            if not messages:
                continue
            received += len(messages)
            groups: dict[str, list[Message]] = defaultdict(list)
            for message in messages:
                groups[message.discovery.repo.lower()].append(message)
            done = await asyncio.gather(*(crawl_group(g) for g in groups.values()))
            finished = [m for ok, group in zip(done, groups.values(), strict=True) if ok for m in group]
            failed += sum(1 for ok in done if not ok)
            await ack_discoveries(finished)
        stats = await services.queue.stats()
    finally:
        await close_services()

    outcomes: dict[str, int] = defaultdict(int)
    for row in rows:
        outcomes[row["outcome"]] += 1
    summary = {"messages": received, "repositories": len(rows), "failed": failed, "outcomes": dict(outcomes)}
    logger.info("crawl-queue: %s; queue now %s", summary, stats)
    if rows:
        await acreate_table_artifact(
            key="crawl-queue",
            table=[{c: row.get(c) for c in TABLE_COLUMNS} for row in rows],
            description=f"{len(rows)} repositories crawled from {received} discoveries",
        )
    await acreate_markdown_artifact(
        key="crawl-queue-summary",
        markdown=_summary_markdown(summary, stats.ready, stats.in_flight, stats.dead),
        description="crawl-queue summary",
    )
    return summary


def _summary_markdown(summary: dict[str, Any], ready: int, in_flight: int, dead: int) -> str:
    lines = [
        "# crawl-queue",
        "",
        f"- discoveries taken off the queue: **{summary['messages']}**",
        f"- repositories: **{summary['repositories']}** (failed: {summary['failed']})",
        "",
        "| outcome | repositories |",
        "| --- | ---: |",
        *(f"| {k} | {v} |" for k, v in sorted(summary["outcomes"].items())),
        "",
        f"Queue after the run: {ready} waiting, {in_flight} in flight, {dead} dead-lettered.",
    ]
    return "\n".join(lines)
