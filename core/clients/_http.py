"""HTTP plumbing shared by the registry and GitHub clients: the pooled client, retries, error translation."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.errors import BadResponse, NotFound, RateLimited, Unavailable, UpstreamError
from core.models import utcnow
from core.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# One pool serves every outside service; registries and GitHub answer well under these numbers.
DEFAULT_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32, keepalive_expiry=30.0)
_CONNECT_TIMEOUT_S = 10.0


def open_http(settings: Settings) -> httpx.AsyncClient:
    """The pooled HTTP client every service client shares: explicit timeouts and limits, our User-Agent.

    Redirects are not followed by default: each client decides (PyPI's canonical-name 301 is followed; GitHub's
    301 is followed by hand so every hop is counted against the budget). Close it with ``aclose()``.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_s, connect=min(settings.http_timeout_s, _CONNECT_TIMEOUT_S)),
        limits=DEFAULT_LIMITS,
        headers={"User-Agent": settings.user_agent},
        follow_redirects=False,
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a client retries transient failures (``Unavailable``: 5xx, timeouts, dropped connections).

    Exponential back-off from ``initial_s`` doubling up to ``max_s``, plus up to ``jitter_s`` of random jitter,
    for at most ``attempts`` tries in all. Other errors (4xx, rate limits, bad bodies) are never retried here.
    """

    attempts: int = 4
    initial_s: float = 0.5
    max_s: float = 8.0
    jitter_s: float = 0.5

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` until it succeeds, raises a non-transient error, or the attempts are spent."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Unavailable),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(initial=self.initial_s, max=self.max_s, jitter=self.jitter_s),
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        )
        result: T = await retrying(fn)
        return result


DEFAULT_RETRY = RetryPolicy()


@contextmanager
def map_transport_errors(url: str) -> Iterator[None]:
    """Translate httpx's transport failures into ``Unavailable`` (retried) or ``BadResponse`` (not retried)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise Unavailable(f"timed out ({type(exc).__name__})", url=url) from exc
    except httpx.DecodingError as exc:
        raise BadResponse(f"undecodable body: {exc}", url=url) from exc
    except httpx.TooManyRedirects as exc:
        raise BadResponse(f"too many redirects: {exc}", url=url) from exc
    except httpx.TransportError as exc:
        # Includes a body cut short by the peer (RemoteProtocolError): the next attempt may get all of it.
        raise Unavailable(f"{type(exc).__name__}: {exc}", url=url) from exc


def decode_json(response: httpx.Response) -> Any:
    """The response's JSON body; ``BadResponse`` when it is malformed or cut short."""
    try:
        return json.loads(response.content)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BadResponse(f"malformed JSON: {exc}", url=str(response.url), status=response.status_code) from exc


@contextmanager
def map_shape_errors(url: str) -> Iterator[None]:
    """Turn a body that parses but lacks the documented fields or types into ``BadResponse``."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise BadResponse(f"unexpected shape: {type(exc).__name__}: {exc}", url=url) from exc


def status_check(service: str, missing: str, *, retry_after_s: float) -> Callable[[httpx.Response], None]:
    """The one mapping of a registry's HTTP statuses to our errors (``get_json``'s ``check``): 404 is ``missing``,
    429 a rate limit to wait out (``Retry-After``, else ``retry_after_s``), 5xx transient, the rest refused."""

    def check(response: httpx.Response) -> None:
        status = response.status_code
        if status < 300:
            return
        url = str(response.url)
        if status == 404:
            raise NotFound(missing, url=url, status=status)
        if status == 429:
            reset_at = retry_after(response.headers, default_s=retry_after_s)
            raise RateLimited(f"{service} rate limit", reset_at=reset_at, url=url)
        if status >= 500:
            raise Unavailable(f"{service} failed", url=url, status=status)
        raise UpstreamError(f"{service} refused the request", url=url, status=status)

    return check


def retry_after(headers: httpx.Headers, *, default_s: float) -> dt.datetime:
    """When a ``Retry-After`` header (seconds or an HTTP date) allows the next call; ``default_s`` without one."""
    now = utcnow()
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return now + dt.timedelta(seconds=int(value))
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return now + dt.timedelta(seconds=default_s)


async def get_json(
    http: httpx.AsyncClient,
    url: str,
    *,
    check: Callable[[httpx.Response], None],
    retry: RetryPolicy,
    params: dict[str, str] | None = None,
    follow_redirects: bool = False,
    throttle: AbstractAsyncContextManager[Any] | None = None,
) -> Any:
    """GET ``url`` and decode its JSON, retrying transient failures.

    ``check`` is the client's status mapping (raises for anything but success); ``throttle`` is entered around
    every attempt (a rate limiter).
    """

    async def once() -> Any:
        async with throttle or nullcontext():
            with map_transport_errors(url):
                response = await http.get(url, params=params, follow_redirects=follow_redirects)
        check(response)
        return decode_json(response)

    return await retry.call(once)
