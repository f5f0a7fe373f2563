"""Crawls asked for from the site: queued once per repository, and no more than the limit a minute."""

from __future__ import annotations

from api.crawl_requests import CrawlRequests, Requested
from core.models import RepoRef
from core.queue import open_queue
from core.settings import Settings


async def test_requests_are_queued_once_each_and_within_the_limit(settings: Settings) -> None:
    queue = open_queue(settings)
    try:
        requests = CrawlRequests(queue, per_minute=2)
        got = [await requests.request(RepoRef.parse(name)) for name in ("a/one", "a/one", "a/two", "a/three")]
        assert got == [Requested.QUEUED, Requested.ALREADY, Requested.QUEUED, Requested.LIMITED]
        messages = await queue.receive(max_messages=10, wait_s=1)
    finally:
        await queue.aclose()
    assert [(m.discovery.registry, m.discovery.package, m.discovery.repo) for m in messages] == [
        ("site", "a/one", "a/one"),
        ("site", "a/two", "a/two"),
    ]
