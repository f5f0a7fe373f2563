"""Tasks of discovery: one poll of a registry's change source."""

from __future__ import annotations

import dataclasses
from typing import Any

from prefect import get_run_logger, task

from core.clients import PyPIClient, RubyGemsClient, open_http
from core.discovery import PollReport, poll_pypi, poll_rubygems
from tasks._retry import transient_failure
from tasks._services import get_services

# Rows of discoveries and of skipped releases handed back for the run's artifact; the counts cover the rest.
MAX_ROWS = 500


def _summary(report: PollReport) -> dict[str, Any]:
    """What a poll found, as JSON: counts, where it stopped and why, and the first ``MAX_ROWS`` of each list."""
    return {
        "source": report.source,
        "discovered": len(report.discovered),
        "skipped": report.skip_counts,
        "errors": report.errors,
        "gaps": report.gaps,
        "cursor": report.cursor,
        "rate_limited_until": report.rate_limited_until.isoformat() if report.rate_limited_until else None,
        "discoveries": [d.model_dump(mode="json") for d in report.discovered[:MAX_ROWS]],
        "skips": [dataclasses.asdict(s) for s in report.skipped[:MAX_ROWS]],
    }


def _log(report: PollReport) -> None:
    logger = get_run_logger()
    logger.info(
        "%s: %d releases queued, %d skipped, %d gaps, %d errors; cursor %s",
        report.source,
        len(report.discovered),
        len(report.skipped),
        report.gaps,
        report.errors,
        report.cursor,
    )
    for reason, count in sorted(report.skip_counts.items()):
        logger.info("%s: %d skipped: %s", report.source, count, reason)
    if report.rate_limited_until is not None:
        logger.warning("%s: rate limited until %s; the next run resumes", report.source, report.rate_limited_until)


@task(
    name="poll_pypi",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient_failure,
)
async def poll_pypi_task() -> dict[str, Any]:
    """Follow PyPI's change log from the stored serial and queue every new release with a GitHub repository."""
    services = await get_services()
    async with open_http(services.settings) as http:
        pypi = PyPIClient(http, base_url=services.settings.pypi_url)
        report = await poll_pypi(pypi, records=services.records, queue=services.queue)
    _log(report)
    return _summary(report)


@task(
    name="poll_rubygems",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient_failure,
)
async def poll_rubygems_task() -> dict[str, Any]:
    """Read RubyGems' activity feeds, detect and fill gaps, and queue every new release with a GitHub repository."""
    services = await get_services()
    async with open_http(services.settings) as http:
        rubygems = RubyGemsClient(http, base_url=services.settings.rubygems_url)
        report = await poll_rubygems(rubygems, records=services.records, queue=services.queue)
    _log(report)
    return _summary(report)
