"""Tasks of the crawl: one ``crawl_repo`` per repository, plus the queue and schedule calls the crawl flows make."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.tasks import exponential_backoff

from core.crawl import CrawlRequest, due_for_recrawl
from core.models import RepoRef, utcnow
from core.queue import Message, QueueStats
from tasks._retry import transient_failure
from tasks._services import get_services


@task(
    name="crawl_repo",
    task_run_name="crawl-{repo}",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=transient_failure,
)
async def crawl_repo(
    repo: str,
    directory: str | None = None,
    hints: list[str] | None = None,
    force: bool = False,
    discovered: bool = True,
) -> dict[str, Any]:
    """Crawl one GitHub repository: find the changelog, parse, render, store, announce.

    Network failures, GitHub's 5xx and rate limits are retried; a missing repository is an outcome (gone), not
    a failure. The logs say why a repository was skipped.
    """
    logger = get_run_logger()
    services = await get_services()
    request = CrawlRequest(
        RepoRef.parse(repo), directory=directory, hints=tuple(hints or ()), force=force, discovered=discovered
    )
    result = await services.crawler.crawl(request)
    if result.reason:
        logger.info("%s: %s (%s)", repo, result.outcome.value, result.reason)
    else:
        logger.info(
            "%s: %s, %d versions, %d GitHub requests", repo, result.outcome.value, result.versions, result.requests
        )
    return {
        "repo": result.repo,
        "outcome": result.outcome.value,
        "versions": result.versions,
        "latest_version": result.latest_version,
        "requests": result.requests,
        "charged": result.charged,
        "ms": result.ms,
        "source": result.source,
        "renamed_to": result.renamed_to,
        "reason": result.reason,
    }


async def record_crawl_failure(repo: str, error: BaseException) -> None:
    """Remember a crawl that failed for good, so the repository backs off and is retried later."""
    services = await get_services()
    await services.crawler.record_failure(CrawlRequest(RepoRef.parse(repo)), error)


async def receive_discoveries(max_messages: int, wait_s: float) -> list[Message]:
    """Up to ``max_messages`` discoveries off the queue, waiting up to ``wait_s`` for the first."""
    services = await get_services()
    return await services.queue.receive(max_messages=max_messages, wait_s=wait_s)


async def ack_discoveries(messages: list[Message]) -> None:
    """Remove these discoveries from the queue for good."""
    services = await get_services()
    await services.queue.ack(messages)


async def requeue_discoveries(messages: list[Message]) -> None:
    """Give discoveries back as new messages (their delivery count starts over), then drop the old ones.

    For work the budget stopped: waiting for GitHub's reset is no fault of the message and must not bring it
    closer to the dead-letter stream. Published before the ack, so a crash in between duplicates, never loses.
    """
    services = await get_services()
    await services.queue.publish([m.discovery for m in messages])
    await services.queue.ack(messages)


async def queue_stats() -> QueueStats:
    """The queue's counts, for the run's summary."""
    services = await get_services()
    return await services.queue.stats()


async def budget_pause_s() -> float:
    """Seconds until GitHub may be asked again, as every worker sees it (0 when now)."""
    services = await get_services()
    return await services.crawler.github.gate.paused_for()


async def stale_repositories(limit: int | None) -> list[dict[str, Any]]:
    """The known repositories due for a revisit, most overdue first (see ``core.crawl.due_for_recrawl``)."""
    services = await get_services()
    due = await due_for_recrawl(services.records, now=utcnow(), settings=services.settings, limit=limit)
    return [{"repo": r.repo, "directory": r.directory} for r in due]
