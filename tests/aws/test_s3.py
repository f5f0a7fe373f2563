"""What the S3 artifact store does beyond the contract: headers CloudFront relies on, the prefix, errors."""

from __future__ import annotations

import pytest

from core.errors import ConfigError, NotFound, StoreError
from core.settings import Settings
from core.store import changelog_html_key, open_artifacts
from core.store.s3 import CACHE_CONTROL
from tests.aws.moto import MotoServer

# moto runs as a process of its own (tests/aws/moto.py).
pytestmark = [pytest.mark.aws, pytest.mark.e2e]


async def test_artifacts_carry_their_content_type_and_cache_control(
    aws_settings: Settings, moto_server: MotoServer
) -> None:
    store = open_artifacts(aws_settings)
    key = changelog_html_key("Encode/HTTPX")
    await store.put(key, b"<h1>httpx</h1>", content_type="text/html; charset=utf-8")
    await store.aclose()
    bucket = aws_settings.artifacts.removeprefix("s3://")
    head = moto_server.client("s3").head_object(Bucket=bucket, Key="github/encode/httpx/index.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["CacheControl"] == CACHE_CONTROL


async def test_keys_live_below_the_urls_prefix(aws_settings: Settings, moto_server: MotoServer) -> None:
    bucket = aws_settings.artifacts.removeprefix("s3://")
    store = open_artifacts(aws_settings.model_copy(update={"artifacts": f"s3://{bucket}/site/"}))
    await store.put("api/github/a/b/index.json", b"{}", content_type="application/json")
    assert await store.get("api/github/a/b/index.json") == b"{}"
    await store.aclose()
    listed = moto_server.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["site/api/github/a/b/index.json"]


async def test_a_missing_bucket_is_a_store_error(aws_settings: Settings) -> None:
    store = open_artifacts(aws_settings.model_copy(update={"artifacts": "s3://no-such-bucket"}))
    with pytest.raises(StoreError) as raised:
        await store.get("k")
    assert not isinstance(raised.value, NotFound)
    with pytest.raises(StoreError):
        await store.put("k", b"x", content_type="text/plain")
    await store.aclose()


def test_the_url_must_name_a_bucket(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="s3://BUCKET"):
        open_artifacts(settings.model_copy(update={"artifacts": "s3:///prefix"}))
