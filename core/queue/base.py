"""What a discovery queue promises: at-least-once delivery with redelivery and a dead-letter queue.

``publish`` returns only once the message is durably accepted. ``receive`` hands out messages that are then
invisible to other consumers until acked, or until the visibility timeout passes and they are redelivered. A
message delivered ``max_deliveries`` times without an ack, or one that does not validate, goes to the dead-letter
queue instead of being handed out again. Backends raise ``core.errors.QueueError`` when the queue itself fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.models import Discovery


@dataclass(frozen=True, slots=True)
class Message:
    """A received discovery; ``receipt`` is what ``ack`` needs, ``deliveries`` counts this one."""

    receipt: str
    discovery: Discovery
    deliveries: int


@dataclass(frozen=True, slots=True)
class QueueStats:
    """How many messages wait (``ready``), are being worked on (``in_flight``) or were dead-lettered."""

    ready: int
    in_flight: int
    dead: int


class DiscoveryQueue(Protocol):
    """The queue between discovery (polls, follower) and the crawler."""

    async def publish(self, discoveries: list[Discovery]) -> None:
        """Durably enqueue every discovery, or raise ``QueueError`` having enqueued possibly some of them."""
        ...

    async def receive(self, *, max_messages: int, wait_s: float) -> list[Message]:
        """Up to ``max_messages`` messages, waiting up to ``wait_s`` seconds for the first."""
        ...

    async def ack(self, messages: list[Message]) -> None:
        """Remove these messages for good."""
        ...

    async def stats(self) -> QueueStats:
        """Counts for operators."""
        ...

    async def dead_letters(self, *, limit: int) -> list[str]:
        """The raw bodies of the newest dead-lettered messages, for inspection."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
