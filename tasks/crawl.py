"""Tasks of the crawl: one ``crawl_repo`` per repository, plus taking discoveries off the queue."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.tasks import exponential_backoff

from core.crawl import CrawlRequest
from core.models import RepoRef
from core.queue import Message
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
    """Crawl one GitHub repository: find the changelog, parse, render, store, announce."""
    logger = get_run_logger()
    services = await get_services()
    request = CrawlRequest(
        RepoRef.parse(repo), directory=directory, hints=tuple(hints or ()), force=force, discovered=discovered
    )
    result = await services.crawler.crawl(request)
    if result.reason:
        logger.info("%s: %s (%s)", repo, result.outcome.value, result.reason)
    else:
        logger.info("%s: %s, %d versions", repo, result.outcome.value, result.versions)
    return {
        "repo": result.repo,
        "outcome": result.outcome.value,
        "versions": result.versions,
        "latest_version": result.latest_version,
        "requests": result.requests,
        "ms": result.ms,
        "source": result.source,
        "renamed_to": result.renamed_to,
        "reason": result.reason,
    }


async def record_crawl_failure(repo: str, error: BaseException) -> None:
    """Remember a crawl that failed after its retries, so the repository backs off and is retried later."""
    services = await get_services()
    await services.crawler.record_failure(CrawlRequest(RepoRef.parse(repo)), error)


async def receive_discoveries(max_messages: int, wait_s: float) -> list[Message]:
    services = await get_services()
    return await services.queue.receive(max_messages=max_messages, wait_s=wait_s)


async def ack_discoveries(messages: list[Message]) -> None:
    services = await get_services()
    await services.queue.ack(messages)
