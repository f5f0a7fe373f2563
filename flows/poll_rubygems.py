"""``poll-rubygems``: queue RubyGems' new releases."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._artifacts import poll_table
from tasks._services import close_services
from tasks.discover import poll_rubygems_task


@flow(name="poll-rubygems", log_prints=True)
async def poll_rubygems() -> dict[str, Any]:
    """Read RubyGems' ``just_updated`` and ``latest`` feeds (50 gems each) and queue what is new.

    When nothing seen by the previous poll is left in the feed, more was released than the feed can show: the
    gap is logged, counted, and filled from the versions of the gems known to be active. The run's table artifact
    (``poll-rubygems``) lists every release it queued or skipped, and why.
    """
    try:
        summary = await poll_rubygems_task()
    finally:
        await close_services()
    await poll_table("poll-rubygems", summary)
    return {k: v for k, v in summary.items() if k not in {"discoveries", "skips"}}
