"""Ordering versions as changelogs write them, and what changed between two of them.

PEP 440 and semver each reject strings that real changelogs use (``1.0.5q``, ``3.7c``, ``3.0.0-next.12``,
``0.0.0-658250a96``), so the key here is its own: the numeric release (trailing zeros ignored, so ``1.0`` equals
``1.0.0``), then a phase (dev < alpha < beta < rc < final < post), then the phase's number, then the rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.models import ChangelogEntry

UNRELEASED = "Unreleased"

_LEADING = re.compile(r"^\s*(?:v(?:ersion)?\.?\s*)?(\d+(?:\.\d+)*)(.*)$", re.IGNORECASE)
_TAG = re.compile(r"^[-._+~]?([a-z]+)[-._]?(\d*)(.*)$", re.IGNORECASE)
_PHASES = {
    "dev": -5,
    "snapshot": -5,
    "nightly": -5,
    "canary": -5,
    "next": -5,
    "experimental": -5,
    "insiders": -5,
    "alpha": -4,
    "a": -4,
    "beta": -3,
    "b": -3,
    "pre": -2,
    "preview": -2,
    "c": -2,
    "rc": -2,
    "cr": -2,
    "final": 0,
    "ga": 0,
    "release": 0,
    "stable": 0,
    "post": 1,
    "p": 1,
    "patch": 1,
    "r": 1,
    "rev": 1,
}

VersionKey = tuple[tuple[int, ...], int, int, str]


def version_key(version: str) -> VersionKey | None:
    """A sortable key for ``version``, or None when it does not start with a number.

    ``1.2.3`` < ``1.2.4-beta.1`` < ``1.2.4rc1`` < ``1.2.4`` = ``v1.2.4.0`` < ``1.2.4.post1``; a single letter
    glued to the last number (``3.7c``, ``1.0.5q``) is a letter release after the plain number, as tmux and
    libpng use it.
    """
    m = _LEADING.match(version)
    if m is None:
        return None
    parts = [int(p) for p in m[1].split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    rest = m[2].strip()
    if not rest:
        return (tuple(parts), 0, 0, "")
    tag = _TAG.match(rest)
    if tag is None:
        # A numeric pre-release (semver ``1.2.3-1``, a hash): after dev builds, before named phases.
        return (tuple(parts), -6, 0, rest.lower())
    word, number, tail = tag[1].lower(), tag[2], tag[3]
    if len(word) == 1 and not number and not tail and rest[0].isalpha():
        return (tuple(parts), 2, ord(word), "")
    phase = _PHASES.get(word, -6)
    return (tuple(parts), phase, int(number) if number else 0, tail.lower() if phase != -6 else rest.lower())


def version_range(entries: Sequence[ChangelogEntry], from_version: str, to_version: str) -> list[ChangelogEntry]:
    """What changed upgrading from ``from_version`` to ``to_version``, newest first.

    The entries whose version is after ``from_version`` and up to and including ``to_version``, compared as
    versions (not by their position in the file, which may be oldest-first or interleave release lines).
    Sections without a version (``Unreleased``) are left out, and a version listed twice counts once (its
    first section). The two bounds may be given in either order. Raises ``ValueError`` when a bound is not a
    version.
    """
    low, high = version_key(from_version), version_key(to_version)
    if low is None or high is None:
        bad = from_version if low is None else to_version
        raise ValueError(f"not a version: {bad!r}")
    if high < low:
        low, high = high, low
    seen: set[VersionKey] = set()
    picked: list[tuple[VersionKey, ChangelogEntry]] = []
    for entry in entries:
        key = version_key(entry.version)
        if key is None or key in seen or not low < key <= high:
            continue
        seen.add(key)
        picked.append((key, entry))
    picked.sort(key=lambda pair: pair[0], reverse=True)
    return [entry for _, entry in picked]


def newest(entries: Sequence[ChangelogEntry]) -> ChangelogEntry | None:
    """The entry with the highest version (the first one on a tie), or None when none names a version."""
    best: tuple[VersionKey, ChangelogEntry] | None = None
    for entry in entries:
        key = version_key(entry.version)
        if key is not None and (best is None or key > best[0]):
            best = (key, entry)
    return best[1] if best else None
