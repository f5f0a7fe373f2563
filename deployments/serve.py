"""``python -m deployments.serve``: one Prefect runner serving every deployment from this checkout.

``deployments/prefect.yaml`` declares the same deployments for ``prefect deploy`` to a work pool; both create the
``github-api`` global concurrency limit first (``create_rate_limit``), since a missing limit would otherwise be
skipped without a word.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from prefect import aserve
from prefect.client.orchestration import get_client
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, Interval

from core.settings import Settings, load_settings
from flows.crawl_queue import crawl_queue
from flows.crawl_repo import crawl_repo
from flows.poll_pypi import poll_pypi
from flows.poll_rubygems import poll_rubygems
from flows.rebuild_search_index import rebuild_search_index
from flows.recrawl_stale import recrawl_stale

logger = logging.getLogger(__name__)

FIRST_RUN_AFTER_S = 20


def _every(seconds: float) -> Interval:
    # Anchored so the first run comes soon after start rather than a whole interval later; not at once, because
    # the server's scheduler does not create runs that are already due by the time it sees the deployment.
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=FIRST_RUN_AFTER_S)
    return Interval(dt.timedelta(seconds=seconds), anchor_date=soon - dt.timedelta(seconds=seconds))


async def create_rate_limit(settings: Settings | None = None) -> dict[str, Any]:
    """Create (or bring up to date) the ``github-api`` global concurrency limit with slot decay.

    Every charged GitHub request of every worker takes one slot; the slots decay at
    ``CHANGELOGS_GITHUB_RATE_LIMIT_PER_S`` (1.38/s ≈ 5,000 an hour) up to ``CHANGELOGS_GITHUB_RATE_LIMIT_SLOTS``
    at once. Also a ``prefect deploy`` build step (``deployments/prefect.yaml``), hence the dict it returns.
    """
    settings = settings or load_settings()
    async with get_client() as client:
        await client.upsert_global_concurrency_limit_by_name(
            settings.github_rate_limit,
            settings.github_rate_limit_slots,
            slot_decay_per_second=settings.github_rate_limit_per_s,
        )
    logger.info(
        "global concurrency limit %s: %d slots, decaying %.2f/s",
        settings.github_rate_limit,
        settings.github_rate_limit_slots,
        settings.github_rate_limit_per_s,
    )
    return {"rate_limit": settings.github_rate_limit}


async def deployments(settings: Settings) -> list[RunnerDeployment]:
    """The deployments, named like their flows."""
    common: dict[str, Any] = {"entrypoint_type": EntrypointType.MODULE_PATH, "tags": ["changelogs"]}
    every = _every(settings.schedule_interval_s)
    return [
        await poll_pypi.ato_deployment("poll-pypi", schedule=every, concurrency_limit=1, **common),
        await poll_rubygems.ato_deployment("poll-rubygems", schedule=every, concurrency_limit=1, **common),
        # One run per worker may go at once (the queue hands each message to one of them), plus the next run
        # starting while the last one finishes.
        await crawl_queue.ato_deployment(
            "crawl-queue", schedule=every, concurrency_limit=settings.crawl_workers + 1, **common
        ),
        await recrawl_stale.ato_deployment("recrawl-stale", schedule=every, concurrency_limit=1, **common),
        await crawl_repo.ato_deployment("crawl-repo", **common),
        # Daily at a quiet hour, and on demand from the UI; api processes pick the snapshot up within minutes.
        await rebuild_search_index.ato_deployment(
            "rebuild-search-index", schedule=Cron("0 3 * * *", timezone="UTC"), concurrency_limit=1, **common
        ),
    ]


async def main() -> None:
    settings = load_settings()
    await create_rate_limit(settings)
    await aserve(*await deployments(settings), limit=8, print_starting_message=True)


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
