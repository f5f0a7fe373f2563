"""Tasks of discovery: one poll of a registry's change source."""

from __future__ import annotations

from prefect import get_run_logger, task

from core.clients import PyPIClient, RubyGemsClient, open_http
from core.discovery import PollReport, poll_pypi, poll_rubygems
from tasks._retry import transient_failure
from tasks._services import get_services


def _report_fields(report: PollReport) -> dict[str, object]:
    return {
        "source": report.source,
        "discovered": [d.model_dump(mode="json") for d in report.discovered],
        "unresolved": report.unresolved,
        "errors": report.errors,
        "gaps": report.gaps,
        "cursor": report.cursor,
        "rate_limited": report.rate_limited,
    }


@task(
    name="poll_pypi",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient_failure,
)
async def poll_pypi_task() -> dict[str, object]:
    """Follow PyPI's change log from the stored serial and queue every new release with a GitHub repository."""
    logger = get_run_logger()
    services = await get_services()
    async with open_http(services.settings) as http:
        pypi = PyPIClient(http, base_url=services.settings.pypi_url)
        report = await poll_pypi(pypi, records=services.records, queue=services.queue)
    logger.info(
        "pypi: %d discovered, unresolved %s, cursor %s", len(report.discovered), report.unresolved, report.cursor
    )
    return _report_fields(report)


@task(
    name="poll_rubygems",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient_failure,
)
async def poll_rubygems_task() -> dict[str, object]:
    """Read RubyGems' activity feeds, detect and fill gaps, and queue every new release with a GitHub repository."""
    logger = get_run_logger()
    services = await get_services()
    async with open_http(services.settings) as http:
        rubygems = RubyGemsClient(http, base_url=services.settings.rubygems_url)
        report = await poll_rubygems(rubygems, records=services.records, queue=services.queue)
    logger.info(
        "rubygems: %d discovered, %d gaps, unresolved %s", len(report.discovered), report.gaps, report.unresolved
    )
    return _report_fields(report)
