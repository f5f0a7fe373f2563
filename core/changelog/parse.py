"""Split a changelog into its versions: version, date, title and body (the section's source text).

One pass over the lines finds candidate headers: markdown ATX (``## 1.2.3``) and setext headings, asciidoc
(``== 1.2.3``) and HTML (``<h2>``) headings, reStructuredText titles with any adornment and optional overline,
Debian ``pkg (1.2.3-1) unstable; urgency=low`` lines, rows of a table of versions, and plain lines that carry a
version with a keyword or a date (``Changes in 1.3.1 (22 Jan 2024)``, ``v10.9.0 - August 21, 2026``,
``2026.03.06, Version 1.52.1``). Fenced code, HTML comments and front matter are skipped, and bullets and
indented lines are never headers. ``core.changelog.headers`` decides whether a candidate's text is a version
header; then the whole document settles what the lines alone cannot: a product-named header (``Gin v1.12.0``)
must recur or carry a date, and a title naming a release series (``Sphinx 1.7`` over ``Release 1.7.9``…) is a
container, not a version.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath

from core.changelog.dates import find_date, iter_dates
from core.changelog.headers import HeaderMatch, Strength, read_header
from core.changelog.versions import UNRELEASED
from core.models import ChangelogEntry

FORMATS = ("markdown", "rst", "text", "asciidoc")

_EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mkd": "markdown",
    ".mdown": "markdown",
    ".mdx": "markdown",
    ".rst": "rst",
    ".rest": "rst",
    ".adoc": "asciidoc",
    ".asciidoc": "asciidoc",
    ".asc": "asciidoc",
}

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?)|([A-Za-z].*?))?(?:[ \t]+#+)?[ \t]*$")
_ASCIIDOC = re.compile(r"^(={1,6})[ \t]+(.*?)(?:[ \t]+=+)?[ \t]*$")
_ORG = re.compile(r"^(\*{1,6})[ \t]+(.*?)[ \t]*$")
_HTML_HEADING = re.compile(r"^\s*<h([1-6])\b[^>]*>(.*?)</h\1>\s*$", re.IGNORECASE)
_ANCHOR = re.compile(r"^\s*<a\s+(?:name|id)=[^>]*>\s*</a>\s*$", re.IGNORECASE)
# "~~~" reaches this test only when _is_underline kept it from being read as a code fence.
_MD_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+|~{3,})[ \t]*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^*+#_.:'\"`<>!$%&,/;?@\\|])\1{2,}[ \t]*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_FENCE_END = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
_TABLE_DELIMITER = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$")
_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])(?:\s|$)")
_HAS_VERSION = re.compile(r"\d\.\d|\d{4}")
_DIGIT = re.compile(r"\d")
_OUTLINE_MODE = re.compile(r"-\*-\s*(?:mode:\s*)?(?:outline|org)\b", re.IGNORECASE)
_DEBIAN = re.compile(r"^([a-z0-9][a-z0-9.+-]+) \(([^()\s]+)\) [^;]+; *urgency=", re.IGNORECASE)
_DEBIAN_TRAILER = re.compile(r"^ -- .*<[^>]*>\s+(.*)$")
_MD_SIGNS = re.compile(r"^#{1,6} \S|^\s*[-*] \[|\]\(https?://", re.MULTILINE)
_RST_SIGNS = re.compile(r"^\.\. \w+::|^\.\. _|:(?:ref|doc|issue|pr|func|class):`", re.MULTILINE)
_BODY_DATE = re.compile(
    r"^[\W_]*(?:(?:released?|release\s+date|date|published|shipped)(?:\s+on)?[\s:\-–—]*)?\x01"
    r"(?:[\W_]*$|\s*[,;(].*$)",
    re.IGNORECASE,
)


def detect_format(filename: str | None, text: str) -> str:
    """The markup of a changelog: "markdown", "rst", "text" or "asciidoc".

    The file name's extension decides when it has a known one; a bare ``CHANGES`` or ``HISTORY.txt`` is read as
    markdown or reStructuredText when its first lines show their signs, and as plain text otherwise.
    """
    if filename:
        suffix = PurePosixPath(filename).suffix.lower()
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    head = text[:20_000]
    if len(_RST_SIGNS.findall(head)) >= 2:
        return "rst"
    if len(_MD_SIGNS.findall(head)) >= 2:
        return "markdown"
    return "text"


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int  # first line of the header block (an anchor or an overline)
    line: int  # the line holding the header's text
    end: int  # last line of the header block (an underline)
    level: int  # 1-6 for headings; 7 for plain lines
    header: HeaderMatch
    markup: bool
    debian: bool = False
    table_body: str | None = None  # a row of a table of versions carries its own notes


def _split_lines(text: str) -> list[str]:
    # Not str.splitlines(): it also breaks at form feeds and U+2028, which changelogs keep inside sections.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _skipped_lines(lines: list[str], fmt: str) -> bytearray:
    """1 for lines that are never headers: fenced code, HTML comments, front matter (markdown and text)."""
    skip = bytearray(len(lines))
    if fmt == "rst":
        return skip
    count = len(lines)
    if count and lines[0].strip() == "---" and fmt == "markdown":
        for j in range(1, min(count, 200)):
            if lines[j].strip() in ("---", "..."):
                skip[0 : j + 1] = b"\x01" * (j + 1)
                break
    # Where fences and comments could close, found once: looking ahead from every opener would be quadratic.
    fence_ends: dict[str, list[tuple[int, int]]] = {"`": [], "~": []}
    comment_ends: list[int] = []
    underlines: set[int] = set()
    for j, line in enumerate(lines):
        if "-->" in line:
            comment_ends.append(j)
        if ("`" in line or "~" in line) and (fence := _FENCE_END.match(line)) is not None:
            if _is_underline(lines, j, fmt):
                underlines.add(j)
            else:
                fence_ends[fence.group(1)[0]].append((j, len(fence.group(1))))
    i = 0
    while i < count:
        line = lines[i]
        if skip[i] or ("`" not in line and "~" not in line and "<!--" not in line):
            i += 1
            continue
        end = None
        fence = _FENCE.match(line) if i not in underlines else None
        if fence is not None:
            mark = fence.group(1)
            closers = fence_ends[mark[0]]
            start = bisect.bisect_right(closers, (i, len(mark) + 1_000_000))
            end = next((closers[k][0] for k in range(start, len(closers)) if closers[k][1] >= len(mark)), None)
        elif line.lstrip().startswith("<!--"):
            if "-->" in line[line.index("<!--") + 4 :]:
                end = i
            else:
                position = bisect.bisect_right(comment_ends, i)
                end = comment_ends[position] if position < len(comment_ends) else None
        if end is not None:  # an unclosed fence or comment hides nothing: better a stray header than a lost file
            skip[i : end + 1] = b"\x01" * (end + 1 - i)
            i = end + 1
            continue
        i += 1
    return skip


def _is_underline(lines: list[str], j: int, fmt: str) -> bool:
    """Whether the bare ``~~~``/````` line ``j`` underlines the title above it (reStructuredText style).

    CommonMark reads it as a code fence, but files written rst-style (``HISTORY.txt``, a few ``.md``) use it as
    an underline: in text files always, in markdown when the line above reads as a version header.
    """
    title = lines[j - 1].strip() if j > 0 else ""
    if not title or _FENCE.match(title) or len(lines[j].strip()) < len(title) - 2:
        return False
    return fmt != "markdown" or read_header(title) is not None


def _underline(line: str, fmt: str) -> bool:
    if fmt == "markdown":
        return bool(_MD_UNDERLINE.match(line)) and len(line.strip()) >= 2
    return bool(_RST_UNDERLINE.match(line))


def _candidates(lines: list[str], fmt: str, *, org: bool) -> list[_Candidate]:
    skip = _skipped_lines(lines, fmt)
    styles: dict[tuple[str, bool], int] = {}  # rst adornment styles get levels in order of appearance
    found: list[_Candidate] = []
    count = len(lines)
    previous_blank = True
    in_table = False
    i = 0
    while i < count:
        line = lines[i]
        if skip[i]:
            previous_blank = True
            i += 1
            continue
        stripped = line.strip()
        if not stripped:
            previous_blank = True
            in_table = False
            i += 1
            continue
        head = stripped[0]
        if head == "|" or in_table:
            if _TABLE_DELIMITER.match(stripped):
                in_table = True
            elif in_table:
                row = _table_row(i, stripped)
                if row is not None:
                    found.append(row)
            previous_blank = False
            i += 1
            continue
        nxt = lines[i + 1] if i + 1 < count and not skip[i + 1] else ""
        # reStructuredText title with an overline: adornment, text, the same adornment.
        if (
            fmt != "markdown"
            and previous_blank
            and i + 2 < count
            and _underline(line, fmt)
            and nxt.strip()
            and lines[i + 2].rstrip() == line.rstrip()
        ):
            candidate = _heading(lines, i + 1, i, i + 2, styles, (line[0], True), fmt)
            if candidate is not None:
                found.append(candidate)
            previous_blank = False
            i += 3
            continue
        # Setext (markdown) or underlined (rst, text) title.
        adornment = nxt.strip()
        if (
            adornment
            and not adornment.strip(adornment[0])  # one character repeated: cheap before the pattern
            and _underline(nxt, fmt)
            and (fmt != "markdown" or not _LIST_ITEM.match(stripped))
            and (fmt == "markdown" or not line[0].isspace())
            and not _underline(line, fmt)
        ):
            style = (nxt.strip()[0], False)
            candidate = _heading(lines, i, i, i + 1, styles, style, fmt)
            if candidate is not None:
                found.append(candidate)
            previous_blank = False
            i += 2
            continue
        candidate = None
        heading = True  # a heading line ends the block above it, like a blank line
        if head == "#" and fmt != "rst":
            atx = _ATX.match(line)
            if atx is not None:
                text = atx.group(2) or atx.group(3) or ""
                candidate = _make(lines, i, i, len(atx.group(1)), text, markup=True)
        elif head == "=" and fmt == "asciidoc":
            adoc = _ASCIIDOC.match(line)
            if adoc is not None:
                candidate = _make(lines, i, i, len(adoc.group(1)), adoc.group(2), markup=True)
        elif head == "<" and stripped[:3].lower() in ("<h1", "<h2", "<h3", "<h4", "<h5", "<h6"):
            html = _HTML_HEADING.match(line)
            if html is not None:
                candidate = _make(lines, i, i, int(html.group(1)), html.group(2), markup=True)
        elif head == "*" and org:
            outline = _ORG.match(line)
            if outline is not None:
                candidate = _make(lines, i, i, len(outline.group(1)), outline.group(2), markup=True)
        else:
            heading = False
            if previous_blank and not line[0].isspace() and not _LIST_ITEM.match(stripped) and head not in ">|.":
                candidate = _plain(lines, i, stripped)
                heading = candidate is not None  # "Version 1.0.25 [May 15, 2007]" may sit right above another
        if candidate is not None:
            found.append(candidate)
        previous_blank = heading
        i += 1
    return found


def _heading(
    lines: list[str],
    line: int,
    start: int,
    end: int,
    styles: dict[tuple[str, bool], int],
    style: tuple[str, bool],
    fmt: str,
) -> _Candidate | None:
    # Markdown has two setext levels; rst ranks adornment styles by first appearance.
    markdown_level = 1 if style[0] == "=" else 2
    level = markdown_level if fmt == "markdown" else styles.setdefault(style, min(len(styles) + 1, 6))
    return _make(lines, line, end, level, lines[line].strip(), markup=True, start=start)


def _make(
    lines: list[str], line: int, end: int, level: int, text: str, *, markup: bool, start: int | None = None
) -> _Candidate | None:
    if not _HAS_VERSION.search(text) and not markup:
        return None
    header = read_header(text, plain=not markup)
    if header is None:
        return None
    first = line if start is None else start
    if first > 0 and _ANCHOR.match(lines[first - 1]):
        first -= 1  # '<a name="1.2.3"></a>' on the line above belongs to this header
    return _Candidate(first, line, end, level, header, markup)


def _plain(lines: list[str], i: int, stripped: str) -> _Candidate | None:
    if not _HAS_VERSION.search(stripped):
        return None
    debian = _DEBIAN.match(stripped)
    if debian is not None:
        header = HeaderMatch(debian.group(2), None, stripped, Strength.STRONG)
        return _Candidate(i, i, i, 7, header, markup=False, debian=True)
    decorated = stripped.startswith(("**", "__")) or (stripped.startswith("[") and "](" not in stripped)
    read = read_header(stripped, plain=True, decorated=decorated)
    return _Candidate(i, i, i, 7, read, markup=False) if read is not None else None


def _table_row(i: int, stripped: str) -> _Candidate | None:
    """A row of a table of versions: ``| 1.2.3 | 2024-01-31 | Fixed the thing |``."""
    cells = [cell.strip() for cell in stripped.strip("|").split("|")]
    if not cells or not _HAS_VERSION.search(cells[0]):
        return None
    header = read_header(cells[0], plain=True, decorated=True)
    if header is None or header.strength != Strength.STRONG:
        return None
    notes = [cell for cell in cells[1:] if cell]
    date = header.date
    if date is None:
        for cell in notes:
            if (date := find_date(cell)) is not None and len(cell) <= 40:
                notes.remove(cell)
                break
            date = None
    header = HeaderMatch(header.version, date, stripped, Strength.STRONG, dated=date is not None)
    return _Candidate(i, i, i, 7, header, markup=False, table_body="\n".join(notes))


def _select(found: list[_Candidate]) -> list[_Candidate]:
    """Keep the candidates that the document as a whole supports (see the module docstring)."""
    rows = [c for c in found if c.table_body is not None]
    found = [c for c in found if c.table_body is None]
    if rows and not found:
        return rows  # the changelog is a table of versions; elsewhere a table is a support matrix or the like
    strong = [c for c in found if c.header.strength == Strength.STRONG and c.header.version != UNRELEASED]
    names = Counter(c.header.name for c in found if c.header.strength == Strength.NAMED)
    deepest_strong = max((c.level for c in strong if c.markup), default=7)
    kept: list[_Candidate] = []
    for c in found:
        strength = c.header.strength
        if strength == Strength.NAMED:
            if strong and not c.header.dated and (names[c.header.name] < 2 or c.level > deepest_strong):
                continue
        elif strength == Strength.BARE:
            continue
        kept.append(c)
    if not kept:
        bare = [c for c in found if c.header.strength == Strength.BARE]
        if len(bare) >= 2:
            kept = bare
    return _drop_series_titles(kept)


def _drop_series_titles(kept: list[_Candidate]) -> list[_Candidate]:
    """Drop an undated heading whose version is the series of every version heading nested under it."""
    result: list[_Candidate] = []
    for index, c in enumerate(kept):
        if c.markup and not c.header.dated and c.header.version != UNRELEASED:
            children = []
            for later in kept[index + 1 :]:
                if later.level <= c.level:
                    break
                children.append(later.header.version)
            prefix = c.header.version + "."
            if children and all(child.startswith(prefix) for child in children):
                continue
        result.append(c)
    return result


def _body_date(body_lines: list[str]) -> dt.date | None:
    """A date written alone on the first line of a section ("Released 2024-12-19", "`2026-08-17`")."""
    for line in body_lines[:3]:
        if not line.strip():
            continue
        if len(line) > 120 or not _DIGIT.search(line):
            return None
        pieces, last, first = [], 0, None
        for found in iter_dates(line):
            pieces.append(line[last : found.start])
            pieces.append("\x01")
            last = found.end
            first = first or found.date
        pieces.append(line[last:])
        return first if first and _BODY_DATE.match("".join(pieces).strip()) else None
    return None


def _debian_date(body_lines: list[str]) -> dt.date | None:
    for line in body_lines:
        trailer = _DEBIAN_TRAILER.match(line)
        if trailer is not None:
            return find_date(trailer.group(1))
    return None


def parse(text: str, *, format: str | None = None, filename: str | None = None) -> list[ChangelogEntry]:
    """The versions of a changelog, in document order.

    ``format`` is one of ``FORMATS`` (detected from ``filename`` and the text when not given). Each entry has
    the version as written minus decoration (``v``, brackets, a product name), ``"Unreleased"`` for an
    unreleased section, the calendar date its header (or the line right after it) states, the header's text
    as ``title``, the section's source text as ``body`` and the header's 1-based ``line``. A file with no
    version header gives an empty list.
    """
    fmt = format or detect_format(filename, text)
    if fmt not in FORMATS:
        raise ValueError(f"unknown changelog format {format!r}; expected one of {FORMATS}")
    lines = _split_lines(text)
    # Emacs outline files (GNU NEWS: "* Noteworthy changes in release 9.4") head their sections with stars.
    org = (bool(filename) and str(filename).lower().endswith(".org")) or bool(_OUTLINE_MODE.search(text[:300]))
    chosen = _select(_candidates(lines, fmt, org=org))
    entries: list[ChangelogEntry] = []
    for index, c in enumerate(chosen):
        if c.table_body is not None:
            entries.append(ChangelogEntry(c.header.version, c.header.date, c.header.title, c.table_body, c.line + 1))
            continue
        stop = chosen[index + 1].start if index + 1 < len(chosen) else len(lines)
        body_lines = lines[c.end + 1 : stop]
        while body_lines and not body_lines[-1].strip():
            body_lines.pop()
        first = 0
        while first < len(body_lines) and not body_lines[first].strip():
            first += 1
        body_lines = body_lines[first:]
        date = c.header.date
        if date is None and c.debian:
            date = _debian_date(body_lines)
        elif date is None and not c.header.dated:
            date = _body_date(body_lines)
        entries.append(ChangelogEntry(c.header.version, date, c.header.title, "\n".join(body_lines), c.line + 1))
    return entries
