"""``python -m deployments.serve``: one Prefect runner serving every deployment from this checkout.

``deployments/prefect.yaml`` declares the same deployments for ``prefect deploy`` to a work pool.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import aserve
from prefect.deployments.runner import EntrypointType, RunnerDeployment

from flows.crawl_queue import crawl_queue
from flows.crawl_repo import crawl_repo
from flows.poll_pypi import poll_pypi
from flows.poll_rubygems import poll_rubygems

EVERY_5_MINUTES = timedelta(minutes=5)


def deployments() -> list[RunnerDeployment]:
    """The deployments, named like their flows."""
    common = {"entrypoint_type": EntrypointType.MODULE_PATH, "tags": ["changelogs"]}
    return [
        poll_pypi.to_deployment("poll-pypi", interval=EVERY_5_MINUTES, concurrency_limit=1, **common),
        poll_rubygems.to_deployment("poll-rubygems", interval=EVERY_5_MINUTES, concurrency_limit=1, **common),
        crawl_queue.to_deployment("crawl-queue", interval=EVERY_5_MINUTES, concurrency_limit=1, **common),
        crawl_repo.to_deployment("crawl-repo", **common),
    ]


async def main() -> None:
    await aserve(*deployments(), limit=8, print_starting_message=True)


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
