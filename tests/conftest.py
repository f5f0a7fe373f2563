"""Fixtures shared by every test: a clean environment, an embedded Redis, settings on a temporary data dir."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis

from core.queue import DiscoveryQueue, open_queue
from core.redis import EmbeddedRedis
from core.settings import Settings
from core.store import RecordStore, open_records

if TYPE_CHECKING:
    from tests.aws.moto import MotoServer

_STRIPPED_PREFIXES = ("CHANGELOGS_", "AWS_", "PREFECT_")
_STRIPPED = {"GITHUB_TOKEN", "REDIS_URL", "SANDBOX_CONTROL_URL"}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's settings, tokens or AWS credentials."""
    for name in list(os.environ):
        if name in _STRIPPED or name.startswith(_STRIPPED_PREFIXES):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the whole session; tests isolate themselves with ``redis_db``."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def redis_url(redis_server: str) -> AsyncIterator[str]:
    """The session's Redis, emptied before each test."""
    client = aioredis.Redis.from_url(redis_server)
    await client.flushall()
    await client.aclose()
    yield redis_server


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, redis_url: str) -> Settings:
    """Settings on a temporary data directory and the test Redis."""
    return Settings(data_dir=data_dir, redis_url=redis_url)


@pytest.fixture
async def records(settings: Settings) -> AsyncIterator[RecordStore]:
    """The record store of ``settings``."""
    store = open_records(settings)
    yield store
    await store.aclose()


@pytest.fixture
async def queue(settings: Settings) -> AsyncIterator[DiscoveryQueue]:
    """The discovery queue of ``settings``."""
    discovered = open_queue(settings)
    yield discovered
    await discovered.aclose()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto in server mode (S3, DynamoDB, SNS, SQS, CloudFormation) as a real process, for the whole session."""
    from tests.aws.moto import MotoServer  # boto3 and cfn-lint only for the tests that ask for AWS

    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws_settings(moto_server: MotoServer, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``settings`` on the AWS backends: moto reset, then ``infra/data.yaml`` deployed into it."""
    from tests.aws.moto import CREDENTIALS, deploy_data_stack

    moto_server.reset()
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    outputs = deploy_data_stack(moto_server)
    return settings.model_copy(
        update={
            "store": outputs["Store"],
            "artifacts": outputs["Artifacts"],
            "queue": outputs["Queue"],
            "topic": outputs["Topic"],
            "aws_endpoint_url": moto_server.url,
        }
    )
