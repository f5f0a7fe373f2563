"""Which file of a repository is its changelog.

The crawler lists the repository's root (one GitHub request per listing), and only when the root holds no
candidate the few sub-directories that ``dirs_to_list`` names. ``find`` ranks the candidates of the listings:
a registry hint first, then the package's own directory in a monorepo, then by name (changelog > changes >
history > news > release notes > releases > what's new > updates), markup (markdown > text > rst > asciidoc) and
depth. Files under 100 bytes, scripts and data files (``.json``, ``.sh``) are never candidates.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from core.changelog.versions import version_key
from core.models import RepoRef

MIN_SIZE = 100

_NAMES = {
    "changelog": 0,
    "changelogs": 0,
    "change-log": 0,
    "change_log": 0,
    "change log": 0,
    "changes": 1,
    "history": 2,
    "news": 3,
    "release-notes": 4,
    "release_notes": 4,
    "release notes": 4,
    "releasenotes": 4,
    "releases": 5,
    "whatsnew": 6,
    "whats-new": 6,
    "whats_new": 6,
    "updates": 7,
}
_MARKUP = {
    ".md": 0,
    ".markdown": 0,
    ".mkd": 0,
    "": 1,
    ".txt": 1,
    ".text": 1,
    ".rdoc": 1,
    ".rst": 2,
    ".adoc": 3,
    ".asciidoc": 3,
}
# CHANGELOG-6.x.md, changelog_12.rst, CHANGES-2.4.txt: one file per release series.
_FAMILY = re.compile(
    r"^(?P<name>changelog|changes|history|news|release[-_]?notes)[-_. ]v?(?P<series>\d+(?:[._]\d+)*(?:[._]x)?)$"
)
# Files inside a changelog directory named after a series: doc/changes/1.7.rst, changelog/v2.md.
_SERIES_FILE = re.compile(r"^v?(?P<series>\d+(?:[._]\d+)*(?:[._]x)?)$")
_CHANGELOG_DIRS = ("changelog", "changelogs", "changes", "history", "news", "release-notes", "releases")
_DOC_DIRS = ("docs", "doc", "documentation")


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a repository listing (GitHub's contents API); ``size`` None when the listing gave none."""

    path: str
    name: str
    size: int | None = None
    type: Literal["file", "dir"] = "file"
    download_url: str | None = None
    sha: str | None = None


def _split(name: str) -> tuple[str, str]:
    stem, ext = posixpath.splitext(name.lower())
    if ext not in _MARKUP:
        return name.lower(), ""  # "CHANGES.1.7" or a name with dots and no known extension
    return stem, ext


def _series_rank(series: str) -> tuple[int, ...]:
    key = version_key(series.replace("_", ".").rstrip(".xX"))
    return tuple(-part for part in key[0]) if key else ()


def _rank(info: FileInfo, hints: set[str], directory: str) -> tuple[object, ...] | None:
    if info.type != "file" or (info.size is not None and info.size < MIN_SIZE):
        return None
    stem, ext = _split(info.name)
    if ext == "" and "." in stem:
        return None  # .json, .sh, .yml, .py…
    parent = posixpath.dirname(info.path.strip("/")).lower()
    family: tuple[int, ...] = ()
    if stem in _NAMES:
        name_rank = _NAMES[stem]
    elif (m := _FAMILY.match(stem)) is not None:
        name_rank, family = _NAMES.get(m["name"].replace("_", "-"), 4), _series_rank(m["series"])
    elif (m := _SERIES_FILE.match(stem)) is not None and posixpath.basename(parent) in _CHANGELOG_DIRS:
        name_rank, family = 8, _series_rank(m["series"])
    else:
        return None
    path = info.path.strip("/").lower()
    in_package = bool(directory) and (parent == directory or parent.startswith(directory + "/"))
    return (
        path not in hints,
        not in_package,
        bool(family),  # a whole-history file before one file per series
        name_rank,
        family,
        _MARKUP[ext],
        path.count("/"),
        path,
    )


def _normalise(path: str | None) -> str:
    return (path or "").strip().strip("/").removeprefix("./").lower()


def find(listing: Sequence[FileInfo], *, hints: Sequence[str] = (), directory: str | None = None) -> list[FileInfo]:
    """The changelog candidates among ``listing`` (files of any listed directories), best first.

    ``hints`` are paths that a registry names as the changelog (see ``changelog_hint_path``); ``directory`` is
    the package's directory in a monorepo, whose own changelog beats the repository's.
    """
    wanted = {_normalise(hint) for hint in hints if hint}
    package = _normalise(directory)
    ranked = []
    for info in listing:
        rank = _rank(info, wanted, package)
        if rank is not None:
            ranked.append((rank, info))
    ranked.sort(key=lambda pair: pair[0])
    return [info for _, info in ranked]


def dirs_to_list(root: Sequence[FileInfo], *, directory: str | None) -> list[str]:
    """Sub-directories worth one more listing request, most promising first.

    The package's own directory in a monorepo always is; ``changelog/``-like directories, then ``docs/`` and
    ``doc/`` are only when the root holds no candidate. Only directories that the root listing shows are named.
    """
    result: list[str] = []
    package = (directory or "").strip().strip("/")
    if package:
        result.append(package)
    if find(root):
        return result
    present = {info.name.lower(): info.path.strip("/") for info in root if info.type == "dir"}
    for name in (*_CHANGELOG_DIRS, *_DOC_DIRS):
        path = present.get(name)
        if path and path not in result:
            result.append(path)
    return result


def changelog_hint_path(hint_url: str, repo: RepoRef | str) -> str | None:
    """The path in ``repo`` of a changelog URL given by a registry, or None when it points elsewhere.

    Understands ``https://github.com/o/r/blob/<ref>/<path>`` (and ``/raw/``), ``https://raw.githubusercontent.com
    /o/r/<ref>/<path>``, with or without a fragment or query. A URL of another repository, of a directory or of
    the releases page gives None.
    """
    full_name = repo.full_name if isinstance(repo, RepoRef) else repo
    try:
        parts = urlsplit(hint_url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if host in ("github.com", "www.github.com"):
        if len(segments) < 5 or segments[2] not in ("blob", "raw"):
            return None
        owner, name, path = segments[0], segments[1], segments[4:]
    elif host == "raw.githubusercontent.com":
        if len(segments) < 4:
            return None
        owner, name, path = segments[0], segments[1], segments[3:]
    else:
        return None
    if f"{owner}/{name.removesuffix('.git')}".lower() != full_name.lower():
        return None
    return "/".join(path) or None
