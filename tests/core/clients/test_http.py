"""The shared HTTP plumbing: the pooled client's settings, retries, Retry-After and error translation."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

import httpx
import pytest

from core.clients import RetryPolicy, open_http
from core.clients._http import map_transport_errors, retry_after
from core.errors import BadResponse, NotFound, Unavailable
from core.models import utcnow
from core.settings import Settings


async def test_open_http_sets_timeouts_and_user_agent() -> None:
    settings = Settings(http_timeout_s=12.5, user_agent="changelogs-test/1.0")
    async with open_http(settings) as http:
        assert http.timeout == httpx.Timeout(12.5, connect=10.0)
        assert http.headers["User-Agent"] == "changelogs-test/1.0"
        assert not http.follow_redirects


async def test_retry_policy_retries_only_unavailable() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise Unavailable("503")
        return "ok"

    assert await RetryPolicy(attempts=3, initial_s=0, max_s=0, jitter_s=0).call(flaky) == "ok"
    assert calls == 3


async def test_retry_policy_gives_up_after_its_attempts() -> None:
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise Unavailable("503")

    with pytest.raises(Unavailable):
        await RetryPolicy(attempts=2, initial_s=0, max_s=0, jitter_s=0).call(down)
    assert calls == 2


async def test_retry_policy_never_retries_other_errors() -> None:
    calls = 0

    async def missing() -> None:
        nonlocal calls
        calls += 1
        raise NotFound("404")

    with pytest.raises(NotFound):
        await RetryPolicy(attempts=5, initial_s=0, max_s=0, jitter_s=0).call(missing)
    assert calls == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = utcnow()
    assert retry_after(httpx.Headers({"Retry-After": "30"}), default_s=60) >= now + dt.timedelta(seconds=29)
    when = (now + dt.timedelta(minutes=5)).replace(microsecond=0)
    assert retry_after(httpx.Headers({"Retry-After": format_datetime(when, usegmt=True)}), default_s=60) == when
    fallback = retry_after(httpx.Headers({"Retry-After": "soon"}), default_s=60)
    assert now + dt.timedelta(seconds=59) <= fallback <= utcnow() + dt.timedelta(seconds=61)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        pytest.param(httpx.ReadTimeout("slow"), Unavailable, id="timeout"),
        pytest.param(httpx.ConnectError("refused"), Unavailable, id="connect"),
        pytest.param(httpx.RemoteProtocolError("peer closed connection"), Unavailable, id="cut-body"),
        pytest.param(httpx.DecodingError("bad gzip"), BadResponse, id="undecodable"),
    ],
)
def test_transport_errors_are_translated(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught, map_transport_errors("https://x.test/"):
        raise raised
    assert caught.value.__cause__ is raised
