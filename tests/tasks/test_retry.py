"""Which failures of a task are worth a retry."""

from __future__ import annotations

import datetime as dt

import pytest
from prefect.states import Failed

from core.errors import BadResponse, Gone, NotAChangelog, NotFound, RateLimited, Unavailable
from tasks._retry import transient_failure
from tasks.crawl import crawl_repo


def _in(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(**delta)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        pytest.param(Unavailable("GitHub failed", status=502), True, id="5xx"),
        pytest.param(Unavailable("timed out (ReadTimeout)"), True, id="timeout"),
        pytest.param(RateLimited("secondary", reset_at=_in(seconds=30)), True, id="rate-limited-30-s"),
        pytest.param(RateLimited("spent", reset_at=_in(minutes=40)), False, id="rate-limited-40-min"),
        pytest.param(NotFound("Not Found", status=404), False, id="404"),
        pytest.param(Gone("Not Found", status=404), False, id="gone"),
        pytest.param(BadResponse("malformed JSON"), False, id="bad-response"),
        pytest.param(NotAChangelog("binary"), False, id="not-a-changelog"),
        pytest.param(KeyError("bug"), False, id="bug"),
    ],
)
async def test_network_5xx_and_short_rate_limits_are_retried_and_nothing_else(error: Exception, retried: bool) -> None:
    assert await transient_failure(crawl_repo, None, Failed(data=error)) is retried  # type: ignore[arg-type]
