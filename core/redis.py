"""The Redis connection shared by the queue, the live feed and the crawl budget."""

from __future__ import annotations

import redis.asyncio as aioredis

from core.errors import ConfigError
from core.settings import Settings


def open_redis(settings: Settings) -> aioredis.Redis:
    """A client for ``REDIS_URL`` (``redis://``, ``rediss://`` or ``unix://``)."""
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set (`changelogs up` starts an embedded Redis and sets it)")
    return aioredis.Redis.from_url(settings.redis_url, decode_responses=False, health_check_interval=30)
