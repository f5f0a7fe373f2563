"""The one exception tree of the service.

    ChangelogsError
     ├── ConfigError              a setting is missing or wrong (names the variable)
     ├── UpstreamError            a registry or GitHub did not give what we asked for
     │    ├── NotFound            404: no such package, repository or file
     │    ├── Gone                the repository is gone for good (404/451 on the repo itself)
     │    ├── Empty               the repository has no commits (409)
     │    ├── RateLimited         429/403 with a budget spent; carries ``reset_at``
     │    ├── Unavailable         5xx, timeouts, connection errors: worth retrying
     │    └── BadResponse         a body that is not what the API documents (malformed JSON, cut short)
     ├── ChangelogError           a file that cannot be used as a changelog
     │    ├── NotAChangelog       binary, empty, or no version in it
     │    └── TooLarge            over the size cap (the cut is reported, the crawl continues with the head)
     ├── StoreError               a storage backend failed
     │    └── Conflict            a conditional write lost a race
     └── QueueError               the queue failed
          └── MalformedMessage    a message that does not validate; dead-lettered, never crashes a consumer

Vendor exceptions (httpx, redis, sqlite3, botocore) are translated into these at the edge of ``core``
(each backend's ``_map_errors``); nothing above ``core`` catches a vendor exception.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class ChangelogsError(Exception):
    """Root of every error the service raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling rebuilds an exception from its args alone, which loses keyword-only data (``reset_at``…) and
        # fails; Prefect pickles the error of a failed task.
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[ChangelogsError], args: tuple[Any, ...], state: dict[str, Any]) -> ChangelogsError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(ChangelogsError):
    """A setting is missing or has a bad value; the message names the variable."""


class UpstreamError(ChangelogsError):
    """An outside service (a registry, GitHub) failed or refused."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status

    def __str__(self) -> str:
        parts = [self.args[0] if self.args else type(self).__name__]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.url:
            parts.append(f"url={self.url}")
        return " ".join(str(p) for p in parts)


class NotFound(UpstreamError):
    """The thing asked for does not exist (HTTP 404)."""


class Gone(UpstreamError):
    """The repository is gone for good: deleted, private, or blocked (404/451 on the repository)."""


class Empty(UpstreamError):
    """The repository exists but has no commits (GitHub answers 409)."""


class RateLimited(UpstreamError):
    """The budget is spent; do not call again before ``reset_at``."""

    def __init__(self, message: str, *, reset_at: datetime, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message, url=url, status=status)
        self.reset_at = reset_at

    def __str__(self) -> str:
        return f"{super().__str__()} reset_at={self.reset_at.isoformat()}"


class Unavailable(UpstreamError):
    """A transient failure (5xx, timeout, connection reset): retry with back-off."""


class BadResponse(UpstreamError):
    """The response does not have the documented shape (malformed JSON, a cut body)."""


class ChangelogError(ChangelogsError):
    """A file cannot be used as a changelog."""


class NotAChangelog(ChangelogError):
    """The file is binary, empty, or holds no version."""


class TooLarge(ChangelogError):
    """The file is larger than the cap; ``size`` is what it claimed, ``limit`` what we read."""

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class StoreError(ChangelogsError):
    """A storage backend failed."""


class Conflict(StoreError):
    """A conditional write lost a race with another writer."""


class QueueError(ChangelogsError):
    """The queue failed."""


class MalformedMessage(QueueError):
    """A message failed validation; it is dead-lettered, never retried."""

    def __init__(self, message: str, *, raw: str | bytes | None = None) -> None:
        super().__init__(message)
        self.raw = raw
