"""``python -m deployments.serve``: one Prefect runner serving every deployment from this checkout.

``deployments/prefect.yaml`` declares the same deployments for ``prefect deploy`` to a work pool.
"""

from __future__ import annotations

import datetime as dt

from prefect import aserve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Interval

from core.settings import load_settings
from flows.crawl_queue import crawl_queue
from flows.crawl_repo import crawl_repo
from flows.poll_pypi import poll_pypi
from flows.poll_rubygems import poll_rubygems


def _every(seconds: float) -> Interval:
    # Anchored a moment ago, so the first run starts now rather than one interval after the runner starts.
    now = dt.datetime.now(dt.UTC)
    return Interval(dt.timedelta(seconds=seconds), anchor_date=now - dt.timedelta(seconds=seconds - 2))


async def deployments() -> list[RunnerDeployment]:
    """The deployments, named like their flows."""
    settings = load_settings()
    common = {"entrypoint_type": EntrypointType.MODULE_PATH, "tags": ["changelogs"]}
    scheduled = {"schedule": _every(settings.schedule_interval_s), "concurrency_limit": 1, **common}
    return [
        await poll_pypi.ato_deployment("poll-pypi", **scheduled),
        await poll_rubygems.ato_deployment("poll-rubygems", **scheduled),
        await crawl_queue.ato_deployment("crawl-queue", **scheduled),
        await crawl_repo.ato_deployment("crawl-repo", **common),
    ]


async def main() -> None:
    await aserve(*await deployments(), limit=8, print_starting_message=True)


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
