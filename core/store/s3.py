"""Artifacts in an S3 bucket, under the seed's keys, read by CloudFront through origin access control.

``CHANGELOGS_ARTIFACTS=s3://BUCKET/PREFIX``. The bucket stays private: CloudFront is the only reader of the
public pages, and the api reads through this class with the task role.
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from core import _aws
from core.errors import ConfigError, StoreError
from core.settings import Settings

# What CloudFront and browsers may keep: a recrawl replaces a page, and invalidating every crawled path would
# cost more than the origin requests a one-minute TTL causes.
CACHE_CONTROL = "public, max-age=60"


class S3ArtifactStore:
    """``ArtifactStore`` on S3. Blocking boto3 calls run in worker threads."""

    def __init__(self, s3: Any, *, bucket: str, prefix: str = "") -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> S3ArtifactStore:
        parts = urlsplit(url)
        if not parts.netloc:
            raise ConfigError(f"CHANGELOGS_ARTIFACTS={url!r}: expected s3://BUCKET or s3://BUCKET/PREFIX")
        return cls(_aws.client("s3", settings), bucket=parts.netloc, prefix=parts.path)

    def _key(self, key: str) -> str:
        # The same rule as the file store: a key is a relative path that stays below the prefix.
        pure = PurePosixPath(key)
        if not key or pure.is_absolute() or ".." in pure.parts:
            raise StoreError(f"artifact key {key!r} is not a relative path")
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._put_sync, self._key(key), data, content_type)

    def _put_sync(self, key: str, data: bytes, content_type: str) -> None:
        with _aws.map_errors(StoreError, f"s3 put {key}"):
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, CacheControl=CACHE_CONTROL
            )

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get_sync, self._key(key))

    def _get_sync(self, key: str) -> bytes:
        with _aws.map_errors(StoreError, f"s3 get {key}", not_found=frozenset({"NoSuchKey", "404"})):
            body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete_sync, self._key(key))

    def _delete_sync(self, key: str) -> None:
        # S3 answers a delete of a missing key with success, as the contract wants.
        with _aws.map_errors(StoreError, f"s3 delete {key}"):
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.s3.close)
