"""Tasks of the search index: rebuild it from the store and store its snapshot."""

from __future__ import annotations

from prefect import get_run_logger, task

from core.search import build_index, write_snapshot
from tasks._retry import transient_failure
from tasks._services import get_services


@task(name="rebuild_search_index", retries=2, retry_delay_seconds=30, retry_condition_fn=transient_failure)
async def rebuild_search_index_task() -> dict[str, object]:
    """Build the search index of every repository and package in the store and store its snapshot, which api
    processes load at start and swap in within minutes."""
    logger = get_run_logger()
    services = await get_services()
    # The feed position is taken before reading the store: the api replays the crawls after it.
    feed_id = await services.feed.last_id() if services.feed is not None else "0-0"
    index = await build_index(services.records, feed_id=feed_id)
    info = await write_snapshot(index, services.artifacts)
    counts = index.counts()
    logger.info("search index: %d names, %d bytes, feed position %s", info.names, info.size, info.feed_id)
    return {
        "built_at": info.built_at,
        "names": info.names,
        "bytes": info.size,
        "feed_id": info.feed_id,
        "repos": counts.repos,
        "packages": counts.packages,
        "versions": counts.versions,
    }
