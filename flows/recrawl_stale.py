"""``recrawl-stale``: revisit known repositories when they are due, spread over the day."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows._crawl import Tally, crawl_artifacts, crawl_each
from tasks._services import close_services, get_services
from tasks.crawl import budget_pause_s, record_crawl_failure, stale_repositories


@flow(name="recrawl-stale", log_prints=True)
async def recrawl_stale(max_repos: int | None = None, concurrency: int | None = None) -> dict[str, Any]:
    """Revisit the known repositories that are due, most overdue first.

    Every crawl schedules the repository's next visit within a day (at a random point of its last quarter, so
    a burst of new repositories spreads out), a repository discovered again while crawled too recently becomes
    due an hour after its last crawl, and failures, gone and changelog-less repositories come back after their
    back-off. A run takes twice its fair share of what is due (``max_repos`` overrides it), so every repository
    is revisited at least daily while the requests spread over the day. Unchanged repositories cost no charged
    GitHub request (``304``). When the budget is spent the run does nothing: what is due stays due.
    """
    logger = get_run_logger()
    services = await get_services()
    tally = Tally()
    try:
        pause = await budget_pause_s()
        due = [] if pause > 0 else await stale_repositories(max_repos)
        if pause > 0:
            logger.warning("GitHub budget spent for %.0f s: nothing recrawled this run", pause)
        results = await crawl_each(
            [dict(d, discovered=False) for d in due],
            concurrency=concurrency or services.settings.crawl_concurrency,
        )
        for crawled in results:
            tally.add(crawled)
            if crawled.error is not None and not crawled.rate_limited:
                await record_crawl_failure(crawled.row["repo"], crawled.error)
    finally:
        await close_services()
    summary = {
        "due": len(due),
        "outcomes": dict(tally.outcomes),
        "requests": tally.requests,
        "charged": tally.charged,
    }
    logger.info("recrawl-stale: %s", summary)
    await crawl_artifacts("recrawl-stale", tally, title="recrawl-stale", lines=[f"- due repositories: **{len(due)}**"])
    return summary
