"""boto3 plumbing shared by the AWS backends: how a client is built, and botocore errors mapped at the edge.

Only the AWS backends import this module (lazily, through the scheme tables), so a laptop run never imports boto3.
Credentials and the default region come from boto3's own chain (the ECS task role and ``AWS_REGION`` on AWS);
``CHANGELOGS_AWS_ENDPOINT_URL`` points every client at a stand-in such as moto.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import ChangelogsError, NotFound
from core.settings import Settings

# Standard retry mode backs off on throttling (DynamoDB, SQS) and 5xx; the read timeout outlasts SQS's 20-second
# long poll. The pool matches the threads that may call one client at once.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=32,
)


def client(service: str, settings: Settings, *, region: str | None = None) -> Any:
    """A boto3 client of ``service`` (thread-safe, so one per backend instance is shared by worker threads)."""
    # A session of its own: creating clients from boto3's default session is not thread-safe.
    session = boto3.session.Session()
    return session.client(service, region_name=region, endpoint_url=settings.aws_endpoint_url, config=_CONFIG)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ``ClientError`` (``ConditionalCheckFailedException``, ``NoSuchKey``…)."""
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code


@contextlib.contextmanager
def map_errors(error: type[ChangelogsError], what: str, *, not_found: frozenset[str] = frozenset()) -> Iterator[None]:
    """Turn botocore's exceptions into ``error`` (or ``NotFound`` for the codes in ``not_found``)."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        if code in not_found:
            raise NotFound(f"{what}: {code}") from exc
        raise error(f"{what}: {code}: {message}") from exc
    except BotoCoreError as exc:
        raise error(f"{what}: {exc}") from exc
