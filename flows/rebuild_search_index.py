"""``rebuild-search-index``: rebuild the search index from the store, daily and on demand."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from tasks._services import close_services
from tasks.index import rebuild_search_index_task


@flow(name="rebuild-search-index", log_prints=True)
async def rebuild_search_index() -> dict[str, Any]:
    """Rebuild the search index of every repository and package name and store its snapshot.

    Each api process loads the newest snapshot at start and checks for a newer one every five minutes, then
    replays the crawls announced since. Crawled repositories reach search at once anyway; this run brings in the
    packages discovered without a crawl (their repository had been crawled recently) and re-ranks by activity.
    Run it on demand after a bulk import or a restore.
    """
    try:
        result = await rebuild_search_index_task()
    finally:
        await close_services()
    await acreate_markdown_artifact(
        key="search-index",
        markdown=(
            "# Search index\n\n"
            f"- names: **{result['names']:,}** ({result['bytes'] / 2**20:.1f} MB snapshot)\n"
            f"- repositories with a changelog: {result['repos']:,}; packages: {result['packages']:,}; "
            f"versions: {result['versions']:,}\n"
            f"- built at {result['built_at']}, up to feed event `{result['feed_id']}`\n"
        ),
        description="rebuild-search-index",
    )
    return result
