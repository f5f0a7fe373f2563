"""The backends a flow-run process uses, built once per event loop from ``Settings``.

Task parameters are data (names, ids), never clients: Prefect hashes and records parameters. Connections are
bound to the event loop that opened them, hence one set per loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prefect.blocks.system import Secret
from prefect.concurrency.asyncio import rate_limit

from core.crawl import Crawler
from core.feed import CrawlFeed
from core.queue import DiscoveryQueue, open_queue
from core.settings import Settings, load_settings
from core.store import ArtifactStore, RecordStore


@dataclass(slots=True)
class Services:
    settings: Settings
    queue: DiscoveryQueue
    crawler: Crawler

    @property
    def records(self) -> RecordStore:
        return self.crawler.records

    @property
    def artifacts(self) -> ArtifactStore:
        return self.crawler.artifacts

    @property
    def feed(self) -> CrawlFeed | None:
        return self.crawler.feed

    async def aclose(self) -> None:
        await self.crawler.aclose()
        await self.queue.aclose()


_by_loop: dict[int, asyncio.Future[Services]] = {}
_PACE_CHUNK = 20


async def github_token(settings: Settings) -> str | None:
    """``GITHUB_TOKEN``, or the value of the Prefect Secret block named by ``CHANGELOGS_GITHUB_TOKEN_BLOCK``.

    Read inside the flow run, so the token never sits in a deployment's job variables (stored in plain text).
    """
    if settings.github_token is not None:
        return settings.github_token.get_secret_value()
    if settings.github_token_block:
        secret = await Secret.aload(settings.github_token_block)
        return str(secret.get())
    return None


def github_pace(settings: Settings) -> Callable[[], Awaitable[None]]:
    """One slot of the ``github-api`` global concurrency limit per charged request (its slot decay paces every
    worker), taken from Prefect ``_PACE_CHUNK`` at a time. One call to the server per request made the crawls
    queue in Prefect's one-at-a-time slot acquisition: 25 new repositories took 19 s instead of 4 s."""
    lock = asyncio.Lock()
    left = 0

    async def pace() -> None:
        nonlocal left
        async with lock:
            if left == 0:
                strict = settings.github_rate_limit_strict
                await rate_limit(settings.github_rate_limit, occupy=_PACE_CHUNK, strict=strict)
                left = _PACE_CHUNK
            left -= 1

    return pace


async def _build(settings: Settings) -> Services:
    token = await github_token(settings)
    crawler = Crawler.open(settings, token=token, pace=github_pace(settings))
    return Services(settings, open_queue(settings), crawler)


async def get_services() -> Services:
    """The services of the running event loop, built on first use (once, however many tasks ask at once)."""
    key = id(asyncio.get_running_loop())
    building = _by_loop.get(key)
    if building is None:
        building = _by_loop[key] = asyncio.ensure_future(_build(load_settings()))
    try:
        return await building
    except Exception:
        _by_loop.pop(key, None)  # the next call tries again
        raise


async def close_services() -> None:
    """Close the services of the running event loop (a flow calls this when it ends)."""
    building = _by_loop.pop(id(asyncio.get_running_loop()), None)
    if building is None or (building.done() and building.exception() is not None):
        return  # nothing was opened; get_services raised the error
    await (await building).aclose()
