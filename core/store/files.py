"""Artifacts as files under a directory: the laptop's stand-in for the S3 bucket."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from core.errors import NotFound, StoreError
from core.settings import Settings


class FileArtifactStore:
    """``ArtifactStore`` on a local directory. Writes are atomic (write to a temporary file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> FileArtifactStore:
        parts = urlsplit(url)
        # file://data/artifacts is relative (netloc "data"), file:///srv/artifacts absolute.
        return cls(Path(parts.netloc + parts.path))

    def _path(self, key: str) -> Path:
        pure = PurePosixPath(key)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise StoreError(f"artifact key {key!r} is not a relative path")
        return self.root.joinpath(*pure.parts)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._put_sync, self._path(key), data)

    @staticmethod
    def _put_sync(path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc}") from exc

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"no artifact {key}") from None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def aclose(self) -> None:
        return None
