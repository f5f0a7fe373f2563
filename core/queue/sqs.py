"""The discovery queue on AWS: publish to an SNS topic, consume from the SQS queue subscribed to it.

``CHANGELOGS_QUEUE=sqs://QUEUE_URL`` and ``CHANGELOGS_TOPIC=sns://TOPIC_ARN`` (both created by
``infra/data.yaml``). The queue's redrive policy moves a message received ``maxReceiveCount`` times without a
delete to the dead-letter queue; a message that does not validate (not an SNS notification, from another topic,
not a ``Discovery``) is copied to the dead-letter queue here, logged, and deleted, so it never reaches a crawler.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
from collections.abc import Callable
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from core import _aws
from core.errors import ConfigError, MalformedMessage, QueueError
from core.models import Discovery
from core.queue.base import Message, QueueStats
from core.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# SQS's own limits: 10 messages per receive or delete, 10 entries per SNS batch, 20 s of long poll.
_BATCH = 10
_MAX_WAIT_S = 20


class _Notification(BaseModel):
    """The JSON envelope SNS wraps around a message it delivers to SQS (raw delivery is off)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Type: Literal["Notification"]
    MessageId: str
    TopicArn: str
    Message: str


def _region(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[:3] != ["arn", "aws", "sns"] or not parts[3]:
        raise ConfigError(f"CHANGELOGS_TOPIC=sns://{arn}: not an SNS topic ARN")
    return parts[3]


class SqsQueue:
    """``DiscoveryQueue`` on SNS → SQS. Blocking boto3 calls run in worker threads."""

    def __init__(
        self,
        *,
        sns: Any,
        sqs: Any,
        topic_arn: str,
        queue_url: str,
        visibility_timeout_s: float = 600,
    ) -> None:
        self.sns = sns
        self.sqs = sqs
        self.topic_arn = topic_arn
        self.queue_url = queue_url
        # SQS counts visibility in whole seconds.
        self.visibility_timeout_s = max(0, math.ceil(visibility_timeout_s))
        self._dead_url: str | None = None

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> SqsQueue:
        queue_url = url.removeprefix("sqs://")
        if not urlsplit(queue_url).scheme:
            queue_url = f"https://{queue_url}"
        if not settings.topic or not settings.topic.startswith("sns://"):
            raise ConfigError("CHANGELOGS_TOPIC must be sns://TOPIC_ARN when CHANGELOGS_QUEUE is sqs://")
        topic_arn = settings.topic.removeprefix("sns://")
        region = _region(topic_arn)
        return cls(
            sns=_aws.client("sns", settings, region=region),
            sqs=_aws.client("sqs", settings, region=region),
            topic_arn=topic_arn,
            queue_url=queue_url,
            visibility_timeout_s=settings.queue_visibility_timeout_s,
        )

    async def _run(self, what: str, fn: Callable[[], T]) -> T:
        def call() -> T:
            with _aws.map_errors(QueueError, what):
                return fn()

        return await asyncio.to_thread(call)

    async def publish(self, discoveries: list[Discovery]) -> None:
        chunks = [discoveries[i : i + _BATCH] for i in range(0, len(discoveries), _BATCH)]
        await asyncio.gather(*(self._run("sns publish", functools.partial(self._publish_sync, c)) for c in chunks))

    def _publish_sync(self, chunk: list[Discovery]) -> None:
        entries = [{"Id": str(i), "Message": d.model_dump_json()} for i, d in enumerate(chunk)]
        failed = self.sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries).get("Failed")
        if failed:
            raise QueueError(f"sns publish: {len(failed)} of {len(entries)} refused: {failed[0].get('Message')}")

    async def receive(self, *, max_messages: int, wait_s: float) -> list[Message]:
        return await self._run("sqs receive", lambda: self._receive_sync(max_messages, wait_s))

    def _receive_sync(self, max_messages: int, wait_s: float) -> list[Message]:
        messages: list[Message] = []
        # Long-poll for the first messages only; then take what is already there, up to max_messages.
        wait = min(_MAX_WAIT_S, math.ceil(wait_s)) if wait_s > 0 else 0
        while len(messages) < max_messages:
            reply = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(_BATCH, max_messages - len(messages)),
                WaitTimeSeconds=wait,
                VisibilityTimeout=self.visibility_timeout_s,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
            received = reply.get("Messages", [])
            if not received:
                break
            messages += [m for m in (self._decode(raw) for raw in received) if m]
            wait = 0
        return messages

    def _decode(self, raw: dict[str, Any]) -> Message | None:
        try:
            discovery = self._validate(raw.get("Body", ""))
        except MalformedMessage as exc:
            self._dead_letter(raw, reason=str(exc))
            return None
        deliveries = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        return Message(receipt=raw["ReceiptHandle"], discovery=discovery, deliveries=deliveries)

    def _validate(self, body: str) -> Discovery:
        """The discovery in an SNS notification from our topic; raises ``MalformedMessage`` for anything else."""
        try:
            envelope = _Notification.model_validate_json(body)
        except ValidationError as exc:
            raise MalformedMessage(f"not an SNS notification: {exc.errors()[0]['msg']}", raw=body) from exc
        if envelope.TopicArn != self.topic_arn:
            raise MalformedMessage(f"sent by {envelope.TopicArn}, not by {self.topic_arn}", raw=body)
        try:
            return Discovery.model_validate_json(envelope.Message)
        except ValidationError as exc:
            raise MalformedMessage(f"not a discovery: {exc.errors()[0]['msg']}", raw=body) from exc

    def _dead_letter(self, raw: dict[str, Any], *, reason: str) -> None:
        logger.warning("dead-lettering message %s: %s", raw.get("MessageId"), reason)
        self.sqs.send_message(
            QueueUrl=self._dead_letter_url(),
            MessageBody=raw.get("Body") or "(empty)",
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}},
        )
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=raw["ReceiptHandle"])

    def _dead_letter_url(self) -> str:
        # The queue's redrive policy names its dead-letter queue: one lookup, then remembered.
        if self._dead_url is None:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"])
            policy = attributes.get("Attributes", {}).get("RedrivePolicy")
            if not policy:
                raise QueueError(f"sqs queue {self.queue_url} has no redrive policy (no dead-letter queue)")
            arn = json.loads(policy)["deadLetterTargetArn"]
            _, _, _, _, account, name = arn.split(":", 5)
            self._dead_url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        return self._dead_url

    async def ack(self, messages: list[Message]) -> None:
        chunks = [messages[i : i + _BATCH] for i in range(0, len(messages), _BATCH)]
        await asyncio.gather(*(self._run("sqs delete", functools.partial(self._ack_sync, c)) for c in chunks))

    def _ack_sync(self, chunk: list[Message]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)]
        failed = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed")
        for failure in failed or []:
            # The message comes back after its visibility timeout and is crawled again: harmless, so say it.
            logger.warning("sqs delete failed (%s): %s", failure.get("Code"), failure.get("Message"))

    async def stats(self) -> QueueStats:
        return await self._run("sqs stats", self._stats_sync)

    def _stats_sync(self) -> QueueStats:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        main = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        dead = self.sqs.get_queue_attributes(QueueUrl=self._dead_letter_url(), AttributeNames=names[:1])["Attributes"]
        return QueueStats(
            ready=int(main[names[0]]), in_flight=int(main[names[1]]), dead=int(dead["ApproximateNumberOfMessages"])
        )

    async def dead_letters(self, *, limit: int) -> list[str]:
        return await self._run("sqs dead letters", lambda: self._dead_letters_sync(limit))

    def _dead_letters_sync(self, limit: int) -> list[str]:
        # A peek: received with no visibility timeout, so they stay where they are for the next look.
        seen: dict[str, tuple[int, str]] = {}
        while len(seen) < limit:
            reply = self.sqs.receive_message(
                QueueUrl=self._dead_letter_url(),
                MaxNumberOfMessages=min(_BATCH, limit - len(seen)),
                VisibilityTimeout=0,
                MessageSystemAttributeNames=["SentTimestamp"],
            )
            fresh = [m for m in reply.get("Messages", []) if m["MessageId"] not in seen]
            if not fresh:
                break
            for m in fresh:
                seen[m["MessageId"]] = (int(m.get("Attributes", {}).get("SentTimestamp", "0")), m.get("Body", ""))
        return [body for _, body in sorted(seen.values(), reverse=True)][:limit]

    async def aclose(self) -> None:
        await asyncio.to_thread(self.sqs.close)
        await asyncio.to_thread(self.sns.close)
