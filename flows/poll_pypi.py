"""``poll-pypi``: queue PyPI's new releases."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._artifacts import poll_table
from tasks._services import close_services
from tasks.discover import poll_pypi_task


@flow(name="poll-pypi", log_prints=True)
async def poll_pypi() -> dict[str, Any]:
    """Follow PyPI's change log (XML-RPC ``changelog_since_serial``) from the stored serial.

    Each new release whose project names a GitHub repository is stored and queued for ``crawl-queue``; projects
    that point nowhere are recorded with why. The serial moves only past what was queued, so a killed run loses
    nothing, and a rate limit ends the run early: the next run continues from there. The run's table artifact
    (``poll-pypi``) lists every release it queued or skipped, and why.
    """
    try:
        summary = await poll_pypi_task()
    finally:
        await close_services()
    await poll_table("poll-pypi", summary)
    return {k: v for k, v in summary.items() if k not in {"discoveries", "skips"}}
