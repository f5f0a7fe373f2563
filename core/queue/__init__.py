"""The discovery queue. The backend is picked by the scheme of ``CHANGELOGS_QUEUE``, in this one place."""

from __future__ import annotations

from core._backends import load_backend
from core.queue.base import DiscoveryQueue, Message, QueueStats
from core.settings import Settings

__all__ = ["DiscoveryQueue", "Message", "QueueStats", "open_queue"]

_BACKENDS = {
    "redis": "core.queue.redis_stream:RedisStreamQueue",
    "rediss": "core.queue.redis_stream:RedisStreamQueue",
    "unix": "core.queue.redis_stream:RedisStreamQueue",
    "sqs": "core.queue.sqs:SqsQueue",
}


def open_queue(settings: Settings) -> DiscoveryQueue:
    """The queue named by ``CHANGELOGS_QUEUE``."""
    queue: DiscoveryQueue = load_backend("CHANGELOGS_QUEUE", settings.queue, _BACKENDS, settings)
    return queue
