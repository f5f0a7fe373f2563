"""Is this heading (or line) a version header, and of which version and date?

A header is read in four steps: markup is stripped (links keep their text, ``<small>``, emphasis and code marks
go), dates are found and masked (so ``29.11.2017`` is never read as a version), the first version token is found,
and the words before and after it are checked. Before it may stand nothing, a keyword phrase (``Version``,
``Release``, ``Changes in``, ``What's new in``), a date, or a product name (``pytest``, ``Gin``, ``pkg@``); after
it only what headers carry: dates, bracketed or quoted notes, commit hashes, more versions, separators, symbols
and a few status words (``TBD``, ``YANKED``). A heading such as ``### 2.0 regressions``, ``#### Python 3.10
support`` or ``### poetry-core (2.4.0)`` fails these checks, and so does prose that starts with a version.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import IntEnum

from core.changelog.dates import DATE_RE, find_date, iter_dates
from core.changelog.versions import UNRELEASED


class Strength(IntEnum):
    """How sure a header reading is: the parser needs more support for weaker ones."""

    BARE = 0  # a plain line holding only a version: a header only in files with no other kind
    NAMED = 1  # a product name before the version ("pytest 8.0.2"): must recur or carry a date
    STRONG = 2


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    """What a version header says."""

    version: str
    date: dt.date | None
    title: str
    strength: Strength
    name: str = ""  # the product name before the version, lower-cased, for NAMED headers
    dated: bool = False  # a date-shaped span was written, even an impossible or placeholder one


_DATE = "\x01"
_DIGIT = re.compile(r"\d")

_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|big|code|del|em|font|i|ins|kbd|mark|s|small|span|strike|strong|sub|sup|tt|u)\b[^>]*>",
    re.IGNORECASE,
)
_LINK = re.compile(r"!?\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_LEADING_BRACKET = re.compile(r"^\[([^\]]+)\]")
_EMPHASIS = re.compile(r"[*`]+|(?<![^\W_])_+|_+(?![^\W_])")
_LEADING_JUNK = re.compile(r"^[^\w\[(@\x01]+")
_RST_ESCAPE = re.compile(r"\\ ?")

VERSION_RE = re.compile(
    r"""
    (?<![\w.])
    (?P<v>[vV]\.?\s?)?
    (?P<num>\d+(?:\.\d+)+)
    (?P<brace>\.\{\d+(?:,\d+)+\})?
    (?P<tag>
        (?:[-.+~_]?[A-Za-z]+\d*|[-.]\d+[A-Za-z][0-9A-Za-z]*|-\d+)
        (?:[-.+][0-9A-Za-z]+)*
    )?
    (?![\w]|\.\d)
    """,
    re.VERBOSE,
)
# Integer versions are versions only when marked as such: "v15", "Version 15", "Release 42".
_INTEGER_VERSION_RE = re.compile(
    r"(?<![\w.])(?:(?P<v>[vV])|(?:version|release|rel\.?)\s+)(?P<num>\d+)(?P<brace>)(?P<tag>)(?![\w.]\w|\w)",
    re.IGNORECASE,
)
_FROM_TO = re.compile(
    r"\b(?:from|since)\s+[vV]?\d[\w.+-]*\s+(?:to|->|→|until)\s+(?=[vV]?\d)",
    re.IGNORECASE,
)
_SERIES = re.compile(r"\.[xX*](?:\.|$)")
# semantic-release and similar tools write a placeholder version (0.0.0-development, 0.0.0-semantic-release)
# where the real one is filled in at publish time; a real pre-release tag carries a number or a known word.
_PLACEHOLDER = re.compile(
    r"^0\.0\.0-(?!(?:alpha|beta|rc|pre|preview|dev|canary|next|nightly|snapshot)\b)[A-Za-z]+(?:-[A-Za-z]+)*$"
)
_UNRELEASED_WORDS = re.compile(
    r"\bun-?released\b|\bupcoming\b|\bnot\s+(?:yet\s+)?released\b|\bunpublished\b|\bin\s+progress\b"
    r"|\bdev(?:elopment)?\s+version\b|\bin\s+development\b"
    r"|^\W*(?:tbd|tba|next|next\s+release|head|vnext|wip|pending|draft)\W*$",
    re.IGNORECASE,
)

_PRIMARY_WORDS = frozenset(
    [
        "version",
        "ver",
        "release",
        "rel",
        "changes",
        "changed",
        "changelog",
        "news",
        "notes",
        "new",
        "v",
        "tag",
        "build",
        "update",
        "updates",
    ]
)
_MINOR_WORDS = frozenset(
    [
        "in",
        "for",
        "of",
        "to",
        "the",
        "a",
        "noteworthy",
        "notable",
        "major",
        "minor",
        "important",
        "user-visible",
        "visible",
        "what's",
        "whats",
        "released",
        "stable",
        "security",
        "hotfix",
        "bugfix",
        "patch",
        "lts",
        "is",
    ]
)
_NAME_TOKEN = re.compile(r"^[\w@][\w.@/+-]*$")

_SUFFIX_PIECE = re.compile(
    r"""
      \s+
    | \x01
    | \([^()]*(?:\([^()]*\)[^()]*)*\)? | \[[^\]]*\]? | \{[^}]*\}? | <[^>]*>?
    | ["“”„«‘’'][^"“”„»‘’']*["“”»‘’']?
    | (?<![\w])[0-9a-fA-F]{7,40}(?![\w])
    | T?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?
    | (?:and|&|or)(?![\w])
    | [vV]?\d[\w.+-]*
    | (?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?(?![\w])
    | (?:tbd|tba|tbc|wip|unreleased|released|release|yanked|deprecated|retracted|withdrawn|stable|unstable|lts
        |pre-?release|draft|security|hotfix|beta|alpha|rc|final|latest|current|breaking|changes?|in\s+development
        |not\s+yet\s+released|upcoming|unpublished|date|releasedate|edition|codename|on|ga)(?![\w])
    | [^\w\s]
    """,
    re.VERBOSE | re.IGNORECASE,
)
_TITLE_SEPARATOR = re.compile(r"\s+[-–—:|]+\s+|:\s+|\s+/\s+")


def clean(text: str) -> str:
    """A heading's text without markup: links become their text, tags, emphasis and leading symbols go."""
    # Each pattern only runs when its trigger character is there: most lines read here are not headers.
    if "<" in text:
        text = _HTML_TAG.sub("", text)
    if "[" in text:
        text = _LINK.sub(r"\1", text)
    if "*" in text or "`" in text or "_" in text:
        text = _EMPHASIS.sub("", text)
    text = text.strip()
    if text.startswith("["):
        text = _LEADING_BRACKET.sub(r"\1", text)
    if "\\" in text:
        text = _RST_ESCAPE.sub("", text)
    if text and not text[0].isalnum():
        text = _LEADING_JUNK.sub("", text)
    return text.rstrip(" \t#")


def _mask_dates(text: str, *, keep: int = -1) -> tuple[str, dt.date | None, bool]:
    """``text`` with its date-shaped spans (but the ``keep``-th) replaced by a marker, and the first real date."""
    if not _DIGIT.search(text):
        return text, None, False
    first: dt.date | None = None
    pieces: list[str] = []
    last = 0
    for index, found in enumerate(iter_dates(text)):
        if index == keep:
            continue
        if first is None:
            first = found.date
        pieces.append(text[last : found.start])
        pieces.append(_DATE)
        last = found.end
    if not pieces:
        return text, first, False
    pieces.append(text[last:])
    return "".join(pieces), first, True


def _calendar_version_index(text: str) -> int:
    """Which date-shaped span is a calendar version (``2023.10.1``: year first, dots), or -1."""
    for index, m in enumerate(DATE_RE.finditer(text)):
        if m["isep"] == ".":
            return index
    return -1


def _prefix_kind(prefix: str) -> tuple[str, str] | None:
    """('', '') for nothing, ('keyword'|'date', '') or ('name', name); None when the words are prose."""
    prefix = prefix.strip(" \t-–—:|,/·•")
    if not prefix:
        return "", ""
    if _DATE in prefix:
        around = prefix.replace(_DATE, " ").strip(" \t-–—:|,/·•()[]")
        if not around or _keyword_phrase(around.split()):
            return "date", ""
        return None
    words = prefix.split()
    if _keyword_phrase(words):
        return "keyword", ""
    # A product name (one token, or two capitalised ones), maybe followed by keywords: "pytest", "Gin",
    # "@scope/pkg@", "less-brunch", "GNU Make", "Sphinx Release".
    size = 2 if len(words) >= 2 and words[0][:1].isupper() and words[1][:1].isupper() else 1
    name, rest = words[:size], words[size:]
    if all(_NAME_TOKEN.match(word) for word in name) and (not rest or _keyword_phrase(rest)):
        return "name", " ".join(name).lower().rstrip("@-_/")
    return None


def _keyword_phrase(words: list[str]) -> bool:
    lowered = [w.lower().strip(":,.-") for w in words]
    return any(w in _PRIMARY_WORDS for w in lowered) and all(
        w in _PRIMARY_WORDS or w in _MINOR_WORDS or not w for w in lowered
    )


def _suffix_ok(suffix: str, *, free_title: bool) -> bool:
    """Whether what follows the version is what headers carry (see the module docstring)."""
    pos, end = 0, len(suffix)
    while pos < end:
        if free_title:
            sep = _TITLE_SEPARATOR.match(suffix, pos)
            if sep is not None:
                return True
        m = _SUFFIX_PIECE.match(suffix, pos)
        if m is None or m.end() == pos:
            return False
        pos = m.end()
    return True


def _version_text(m: re.Match[str]) -> str:
    version = m["num"] + (m["tag"] or "")
    if m["brace"]:
        # "6.5.{10,11,12}" names 6.5.10, 6.5.11 and 6.5.12: the header is listed under the first.
        version = f"{m['num']}.{m['brace'][2:].split(',', 1)[0]}{m['tag'] or ''}"
    return version


def read_header(text: str, *, plain: bool = False, decorated: bool = False) -> HeaderMatch | None:
    """Read ``text`` (a heading's text, or a whole plain line when ``plain``) as a version header.

    ``decorated`` says the plain line was set apart by markup (``**1.2.3**``, ``[1.2.3]``), which makes a bare
    version a header. Returns None when the text is not a version header.
    """
    title = clean(text)
    if not title or len(title) > 200:
        return None
    masked, date, dated = _mask_dates(title)
    span = _FROM_TO.search(masked)
    m = VERSION_RE.search(masked, span.end()) if span else VERSION_RE.search(masked)
    prefix_end = span.start() if span else m.start() if m else 0
    if m is None and dated and (keep := _calendar_version_index(title)) >= 0:
        # No version but a dotted date: a calendar version ("## 2023.10.1 (2023-10-02)"), dated by the other
        # date when there is one, else by itself.
        calendar_masked, other_date, _ = _mask_dates(title, keep=keep)
        m = VERSION_RE.search(calendar_masked)
        if m is not None:
            masked, prefix_end = calendar_masked, m.start()
            date = other_date or find_date(m.group(0))
    if m is None:
        m = _INTEGER_VERSION_RE.search(masked)
        if m is not None:
            # The keyword belongs to the prefix: "Version 15" reads like "Version 1.5".
            prefix_end = m.start() if m["v"] else m.start("num")
    if m is None:
        if not plain and len(masked.split()) <= 8 and _UNRELEASED_WORDS.search(masked):
            return HeaderMatch(UNRELEASED, date, title, Strength.STRONG, dated=dated)
        return None
    version = _version_text(m)
    if _SERIES.search(version) or _PLACEHOLDER.match(version):
        return None
    prefix = masked[:prefix_end]
    kind = _prefix_kind(prefix)
    if kind is None:
        return None
    suffix = masked[m.end() :]
    if suffix.startswith(".") and not suffix[1:2].isalnum():
        suffix = suffix[1:]  # "2.4.2. / 2011-07-06": a stray dot
    if not _suffix_ok(suffix, free_title=not plain or dated):
        return None
    kind_name, name = kind
    if kind_name == "name":
        strength = Strength.NAMED
    elif plain and kind_name == "" and not dated and not decorated:
        strength = Strength.BARE
    else:
        strength = Strength.STRONG
    return HeaderMatch(version, date, title, strength, name=name, dated=dated)
