"""``poll-rubygems``: queue RubyGems' new releases."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._artifacts import discovery_table
from tasks._services import close_services
from tasks.discover import poll_rubygems_task


@flow(name="poll-rubygems", log_prints=True)
async def poll_rubygems() -> dict[str, Any]:
    """Read RubyGems' ``just_updated`` and ``latest`` feeds (50 gems each) and queue what is new.

    When nothing seen by the previous poll is left in the feed, more was released than the feed can show: the
    gap is logged, counted, and filled from the versions of the gems known to be active.
    """
    try:
        report = await poll_rubygems_task()
    finally:
        await close_services()
    await discovery_table("poll-rubygems", report)
    return {k: v for k, v in report.items() if k != "discovered"} | {"discovered": len(report["discovered"])}
