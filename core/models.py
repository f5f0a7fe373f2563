"""The domain's nouns.

Anything that crosses a process boundary (queue messages, stored records, artifacts, events) is a pydantic model,
validated on arrival. In-process values are frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Registry = Literal["npm", "pypi", "rubygems"]
REGISTRIES: tuple[Registry, ...] = ("npm", "pypi", "rubygems")

# GitHub's own rules: owner 1-39 of [A-Za-z0-9-]; repository names [A-Za-z0-9._-], not "." or "..".
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_NAME = r"[A-Za-z0-9._-]{1,100}"
FULL_NAME_RE = re.compile(rf"^{_OWNER}/{_NAME}$")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class RepoRef:
    """A GitHub repository, as ``owner/name``. GitHub compares names case-insensitively: use ``key``."""

    owner: str
    name: str

    @classmethod
    def parse(cls, full_name: str) -> RepoRef:
        """Parse ``owner/name``; raises ``ValueError`` when it is not a valid GitHub repository name."""
        text = full_name.strip()
        if not FULL_NAME_RE.match(text) or text.split("/", 1)[1] in {".", ".."}:
            raise ValueError(f"not a GitHub repository name: {full_name!r}")
        owner, name = text.split("/", 1)
        return cls(owner, name)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def key(self) -> str:
        return self.full_name.lower()

    @property
    def html_url(self) -> str:
        return f"https://github.com/{self.full_name}"

    def __str__(self) -> str:
        return self.full_name


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


SITE: Literal["site"] = "site"
"""The ``registry`` of a ``Discovery`` asked for by a visitor of the site, not seen on a registry."""


class Discovery(_Model):
    """A release seen on a registry, resolved to the GitHub repository that holds its changelog.

    ``registry`` is ``"site"`` (``Discovery.requested``) for a crawl a visitor asked for on a "not crawled yet"
    page: no package and no release are behind it, so it is only queued, never stored as a package.
    """

    registry: Registry | Literal["site"]
    package: str = Field(min_length=1, max_length=214)
    version: str | None = Field(default=None, max_length=256)
    repo: str
    directory: str | None = Field(default=None, max_length=512)
    hint: str | None = Field(default=None, max_length=2048)
    discovered_at: dt.datetime = Field(default_factory=utcnow)

    @field_validator("repo")
    @classmethod
    def _valid_repo(cls, value: str) -> str:
        return RepoRef.parse(value).full_name

    @property
    def ref(self) -> RepoRef:
        return RepoRef.parse(self.repo)

    @classmethod
    def requested(cls, repo: RepoRef) -> Discovery:
        """A crawl of ``repo`` asked for from the site; ``package`` is the repository's name."""
        return cls(registry=SITE, package=repo.full_name, repo=repo.full_name)


class PackageRecord(_Model):
    """A package on a registry and the repository it points at (what search and repository pages show)."""

    registry: Registry
    name: str
    repo: str
    directory: str | None = None
    hint: str | None = None
    version: str | None = None
    updated_at: dt.datetime = Field(default_factory=utcnow)


class Outcome(StrEnum):
    """How the last crawl of a repository ended."""

    OK = "ok"
    NO_CHANGELOG = "no_changelog"
    GONE = "gone"
    EMPTY = "empty"
    FAILED = "failed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


class RepoRecord(_Model):
    """What the store keeps about one repository between crawls."""

    repo: str
    outcome: Outcome
    crawled_at: dt.datetime | None = None
    next_crawl_at: dt.datetime | None = None
    source_path: str | None = None
    source_format: str | None = None
    source_url: str | None = None
    source_sha: str | None = None
    directory: str | None = None
    etags: dict[str, str] = {}
    versions_count: int = 0
    latest_version: str | None = None
    latest_date: dt.date | None = None
    failures: int = 0
    renamed_to: str | None = None
    error: str | None = None

    @property
    def key(self) -> str:
        return self.repo.lower()


@dataclass(frozen=True, slots=True)
class ChangelogEntry:
    """One version's section of a changelog, as parsed: ``body`` is the section's source text."""

    version: str
    date: dt.date | None
    title: str
    body: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class Release:
    """A GitHub Release, the fallback source of notes when a repository keeps no changelog file."""

    tag_name: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    published_at: dt.datetime | None
    html_url: str | None = None


class VersionNotes(_Model):
    """One version in the changelog artifact: the parsed entry plus its sanitized HTML."""

    version: str
    date: dt.date | None = None
    title: str = ""
    body: str = ""
    html: str = ""


class PackageLink(_Model):
    registry: Registry
    name: str


class SourceFile(_Model):
    """Where the changelog came from."""

    path: str
    format: str
    url: str | None = None
    html_url: str | None = None
    truncated: bool = False
    size: int | None = None


class ChangelogDocument(_Model):
    """The JSON artifact at ``api/github/<owner>/<repo>/index.json``.

    Keeps the seed's fields (``crawledAt``, ``href``, ``repo``, ``changelog``, ``contents``) and adds what the
    api needs.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    crawledAt: dt.datetime  # the seed's field name
    href: str
    repo: str
    changelog: str | None
    contents: list[VersionNotes]
    name: str
    packages: list[PackageLink] = []
    source: SourceFile | None = None


class CrawledEvent(_Model):
    """The ``crawled_repo`` event, with the seed's payload fields and an id for catch-up."""

    changelog: str
    crawledAt: dt.datetime
    href: str
    repo: str
    changelogUrl: str | None
    version: str | None
    id: str | None = None
