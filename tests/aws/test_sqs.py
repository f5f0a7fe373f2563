"""What the SNS -> SQS queue does beyond the contract: the envelope, dead letters with a reason, big receives."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from core.errors import ConfigError, QueueError
from core.models import Discovery
from core.queue import open_queue
from core.queue.sqs import SqsQueue
from core.settings import Settings
from tests.aws.moto import MotoServer

# moto runs as a process of its own (tests/aws/moto.py).
pytestmark = [pytest.mark.aws, pytest.mark.e2e]


def _discovery(package: str) -> Discovery:
    return Discovery(registry="pypi", package=package, version="2.0", repo="owner/repo")


@pytest.fixture
async def queue(aws_settings: Settings) -> AsyncIterator[SqsQueue]:
    opened = open_queue(aws_settings)
    assert isinstance(opened, SqsQueue)
    yield opened
    await opened.aclose()


async def test_discoveries_are_published_to_the_topic_and_arrive_in_its_envelope(
    queue: SqsQueue, moto_server: MotoServer
) -> None:
    await queue.publish([_discovery("httpx")])
    (raw,) = moto_server.client("sqs").receive_message(QueueUrl=queue.queue_url, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(raw["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == queue.topic_arn
    assert Discovery.model_validate_json(envelope["Message"]).package == "httpx"


async def test_a_malformed_message_is_logged_and_dead_lettered_with_its_reason(
    queue: SqsQueue, moto_server: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    sqs = moto_server.client("sqs")
    sqs.send_message(QueueUrl=queue.queue_url, MessageBody='{"Type": "Notification"}')
    with caplog.at_level(logging.WARNING, logger="core.queue.sqs"):
        assert await queue.receive(max_messages=10, wait_s=1) == []
    assert "dead-lettering" in caplog.text
    dead_url = sqs.get_queue_url(QueueName=queue.queue_url.rsplit("/", 1)[1] + "-dead")["QueueUrl"]
    (dead,) = sqs.receive_message(QueueUrl=dead_url, MessageAttributeNames=["All"])["Messages"]
    assert dead["Body"] == '{"Type": "Notification"}'
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith("not an SNS notification")
    assert (await queue.stats()).ready == 0


async def test_receive_takes_more_than_sqs_gives_in_one_call(queue: SqsQueue) -> None:
    await queue.publish([_discovery(f"p{i}") for i in range(23)])
    got = await queue.receive(max_messages=23, wait_s=1)
    assert sorted(m.discovery.package for m in got) == sorted(f"p{i}" for i in range(23))
    await queue.ack(got)
    assert (await queue.stats()).in_flight == 0


async def test_a_missing_queue_is_a_queue_error(aws_settings: Settings) -> None:
    gone = aws_settings.queue.rsplit("/", 1)[0] + "/no-such-queue"
    queue = open_queue(aws_settings.model_copy(update={"queue": gone}))
    with pytest.raises(QueueError):
        await queue.receive(max_messages=1, wait_s=0)
    await queue.aclose()


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param(None, id="missing"),
        pytest.param("arn:aws:sns:us-east-1:1:t", id="no-scheme"),
        pytest.param("sns://not-an-arn", id="not-an-arn"),
    ],
)
def test_the_queue_needs_the_topic_it_is_subscribed_to(settings: Settings, topic: str | None) -> None:
    configured = settings.model_copy(update={"queue": "sqs://https://sqs.us-east-1.amazonaws.com/1/q", "topic": topic})
    with pytest.raises(ConfigError, match="CHANGELOGS_TOPIC"):
        open_queue(configured)
