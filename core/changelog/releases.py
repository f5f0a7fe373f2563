"""Release notes from GitHub Releases, for repositories that keep no changelog file."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from core.models import ChangelogEntry, Release

_TAG = re.compile(
    r"""
    ^(?:refs/tags/)?
    (?P<prefix>(?:.*?[@/_-])?)                   # "@scope/pkg@", "pkg@", "pkg-", "py-", "release/"…
    [vV]?\.?
    (?P<version>\d+(?:\.\d+)*(?:[-.+_]?[0-9A-Za-z]+(?:[-.+][0-9A-Za-z]+)*)?)
    $
    """,
    re.VERBOSE,
)
# Prefixes that name a release channel rather than a package: "py-0.18.0" in a repository that also has
# "rs-0.30.0" tags, "release-1.2.3", "release/1.2.3".
_GENERIC_PREFIXES = frozenset(
    [
        "release",
        "releases",
        "rel",
        "version",
        "ver",
        "tag",
        "stable",
        "py",
        "python",
        "js",
        "node",
        "rs",
        "rust",
        "rb",
        "ruby",
        "go",
        "java",
        "npm",
        "pypi",
        "gem",
        "cli",
        "lib",
        "core",
    ]
)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().strip("-@/")


def tag_to_version(tag: str, *, package: str | None = None) -> str | None:
    """The version a git tag names, or None when it names none, or another package's.

    ``v1.2.3`` and ``1.2.3`` -> ``1.2.3``; ``pkg@1.2.3``, ``@scope/pkg@1.2.3``, ``pkg-v1.2.3``, ``pkg_1.2.3`` ->
    ``1.2.3`` when ``package`` is ``pkg`` (or ``@scope/pkg``) or not given; ``py-0.18.0``, ``release-1.2.3`` ->
    the version whatever the package. Tags such as ``latest`` or ``nightly`` give None.
    """
    m = _TAG.match(tag.strip())
    if m is None:
        return None
    version = m["version"]
    if "." not in version and not re.match(r"^(?:refs/tags/)?[vV]?\d+$", tag.strip()):
        return None  # "build-42", "pkg-2": a counter, not a version
    prefix = _normalise(m["prefix"])
    if not prefix or prefix in _GENERIC_PREFIXES or package is None:
        return version
    wanted = _normalise(package)
    short = _normalise(package.rsplit("/", 1)[-1])
    if prefix in (wanted, short) or prefix.rsplit("/", 1)[-1] == short:
        return version
    return None


def from_releases(releases: Sequence[Release], *, package: str | None = None) -> list[ChangelogEntry]:
    """Changelog entries built from GitHub Releases, newest first.

    Drafts are skipped, and so are tags that name no version or (in a monorepo, given ``package``) another
    package's version. The date is the calendar day of ``published_at`` in UTC; the body is the release's
    markdown; the title is the release's name, or its tag.
    """
    entries: list[tuple[dt.date | None, int, ChangelogEntry]] = []
    for index, release in enumerate(releases):
        if release.draft:
            continue
        version = tag_to_version(release.tag_name, package=package)
        if version is None:
            continue
        published = release.published_at
        if published is not None and published.tzinfo is not None:
            published = published.astimezone(dt.UTC)
        date = published.date() if published is not None else None
        title = (release.name or "").strip() or release.tag_name
        entry = ChangelogEntry(version=version, date=date, title=title, body=release.body or "", line=0)
        entries.append((date, index, entry))
    # Newest first by publication day; releases of the same day (or undated) keep GitHub's order.
    entries.sort(key=lambda item: (-(item[0].toordinal() if item[0] else 0), item[1]))
    return [entry for _, _, entry in entries]
