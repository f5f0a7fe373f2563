"""The changelog engine: find a repository's changelog, decode it, split it into versions, render them.

Everything here is synchronous and does no I/O: the crawler fetches, the engine computes.
"""

from __future__ import annotations

from core.changelog.decode import Decoded, decode
from core.changelog.find import FileInfo, changelog_hint_path, dirs_to_list, find
from core.changelog.parse import FORMATS, detect_format, parse
from core.changelog.releases import from_releases, tag_to_version
from core.changelog.render import link_definitions, render, sanitize
from core.changelog.versions import UNRELEASED, newest, version_key, version_range

__all__ = [
    "FORMATS",
    "UNRELEASED",
    "Decoded",
    "FileInfo",
    "changelog_hint_path",
    "decode",
    "detect_format",
    "dirs_to_list",
    "find",
    "from_releases",
    "link_definitions",
    "newest",
    "parse",
    "render",
    "sanitize",
    "tag_to_version",
    "version_key",
    "version_range",
]
