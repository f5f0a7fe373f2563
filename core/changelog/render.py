"""One version's notes as a sanitized HTML fragment.

Markdown goes through GitHub's own renderer (cmark-gfm, with its extensions and raw HTML kept, as GitHub does
before sanitizing), reStructuredText through ``core.changelog.rst`` (its own renderer for the subset changelogs
use, docutils for the rest, with file insertion and raw directives off and no system message in the output),
plain text and asciidoc into ``<pre>``. Then headings are demoted under the version heading (the fragment's top
level becomes ``<h3>``), relative links and images are resolved against the repository on GitHub, ``#123`` and
``@user`` are linked in text (never inside code or links), and ``nh3`` keeps only an explicit allow-list.
Changelogs are untrusted input: ``sanitize`` is the last step of every path.
"""

from __future__ import annotations

import ctypes
import html
import posixpath
import re
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, urlsplit

import nh3
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options

from core.models import RepoRef

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "dfn", "div", "dl",
    "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
    "mark", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "span", "strike", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "pre": {"lang"},
    "time": {"datetime"},
    "details": {"open"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
}
# (blob URL prefix, raw URL prefix, directory of the changelog) of the render in progress, for _filter_url.
_URL_BASE: ContextVar[tuple[str, str, str] | None] = ContextVar("_URL_BASE", default=None)


def _filter_url(tag: str, attribute: str, value: str) -> str | None:
    """Resolve a relative ``href``/``src`` against the repository of the render in progress."""
    if attribute not in ("href", "src") or value.startswith(("https:", "http:", "#", "mailto:", "//")):
        return value
    base = _URL_BASE.get()
    if base is None or not value or urlsplit(value).scheme:
        return value
    blob, raw, directory = base
    target = value[1:] if value.startswith("/") else posixpath.join(directory, value)
    target = posixpath.normpath(target).lstrip("/")
    while target.startswith("../"):
        target = target[3:]  # nothing lies above the repository's root
    return (raw if attribute == "src" else blob) + ("" if target == "." else target)


_CLEANER_OPTIONS: dict[str, Any] = {
    "tags": _TAGS,
    "clean_content_tags": {"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"},
    "attributes": _ATTRIBUTES,
    "url_schemes": {"http", "https", "mailto"},
    "link_rel": "nofollow noopener noreferrer ugc",
    "strip_comments": True,
}
_CLEANER = nh3.Cleaner(**_CLEANER_OPTIONS)
# The same, resolving relative links; nh3 calls the filter (Python) for every attribute it keeps, which costs
# ~15% of sanitizing, so it is used only for fragments that may hold a relative link.
_RESOLVING_CLEANER = nh3.Cleaner(**_CLEANER_OPTIONS, attribute_filter=_filter_url)
# Where an href or src might not start with one of the prefixes _filter_url leaves alone; when in doubt (white
# space around an "="), yes. Every branch starts with "=" so that the scan skips to those.
_MAYBE_RELATIVE = re.compile(
    r"""=(?:(?<=\s=)|\s|(?<=(?i:href)=)(?!["']?(?:https?:|mailto:|#|//))|(?<=(?i:src)=)(?!["']?(?:https?:|mailto:|#|//)))"""
)

_CMARK_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG | Options.CMARK_OPT_FOOTNOTES
_CMARK_EXTENSIONS = (b"table", b"autolink", b"tagfilter", b"strikethrough")


class _CmarkMem(ctypes.Structure):
    _fields_ = [
        ("calloc", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)),
        ("realloc", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)),
        ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
    ]


# cmarkgfm's wrappers never free the document tree nor the HTML buffer that cmark-gfm hands back (measured here:
# ~16 MB kept per MB rendered, without end; https://github.com/theacodes/cmarkgfm/issues/53). Its FFI module has
# no binding for cmark_node_free, so the same shared object is opened with ctypes for the two frees.
_cmark_so = ctypes.CDLL(_cmark.__file__)
_cmark_so.cmark_node_free.argtypes = [ctypes.c_void_p]
_cmark_so.cmark_node_free.restype = None
_cmark_so.cmark_get_default_mem_allocator.restype = ctypes.POINTER(_CmarkMem)
_cmark_free = _cmark_so.cmark_get_default_mem_allocator().contents.free
_cmark.lib.cmark_gfm_core_extensions_ensure_registered()
_cmark_extensions = [_cmark.lib.cmark_find_syntax_extension(name) for name in _CMARK_EXTENSIONS]


def _address(pointer: Any) -> int:
    return int(_cmark.ffi.cast("uintptr_t", pointer))


def _markdown_html(text: str) -> str:
    """GitHub-flavoured markdown to HTML with cmark-gfm, as ``cmarkgfm`` does it, but freeing what it allocates."""
    lib = _cmark.lib
    parser = lib.cmark_parser_new(_CMARK_OPTIONS)
    try:
        for extension in _cmark_extensions:
            lib.cmark_parser_attach_syntax_extension(parser, extension)
        data = text.encode()
        lib.cmark_parser_feed(parser, data, len(data))
        root = lib.cmark_parser_finish(parser)
        try:
            raw = lib.cmark_render_html(root, _CMARK_OPTIONS, lib.cmark_parser_get_syntax_extensions(parser))
            try:
                return str(_cmark.ffi.string(raw).decode())
            finally:
                _cmark_free(_address(raw))
        finally:
            _cmark_so.cmark_node_free(_address(root))
    finally:
        lib.cmark_parser_free(parser)


_HEADING_TAG = re.compile(r"<(/?)h([1-6])(?=[\s>])", re.IGNORECASE)
_HEADING_LEVEL = re.compile(r"<h([1-6])[\s>]")
# One scan finds the references and steps over what must not be touched: links, code, and tags whose
# attributes hold a "#" or "@" (a URL fragment, an e-mail address). Every branch starts with a literal "<", "#"
# or "@" (the look-behinds come after it), so the regex engine skips ahead to those characters instead of trying
# every position; possessive loops keep it from backtracking inside long tags and code blocks.
_REFERENCE = re.compile(
    r"<(?:(?P<skip>a|code|pre|kbd|samp)\b[^<]*+(?:<(?!/(?P=skip)\s*>)[^<]*+)*+</(?P=skip)\s*>|[^>#@]*+[#@][^>]*+>)"
    r"|#(?<![\w&/#]#)(?P<issue>\d{1,7})\b"
    r"|@(?<![\w@/.`]@)(?P<user>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})\b(?![/@])",
    re.IGNORECASE,
)


def sanitize(fragment: str) -> str:
    """``fragment`` reduced to the allowed tags, attributes and URL schemes (http, https, mailto).

    Scripts, styles, frames, objects, SVG and MathML go with their content; event handlers, ``style``,
    ``class`` and ``id`` attributes, forms, ``<base>`` and ``<meta>`` go; comments go; links get
    ``rel="nofollow noopener noreferrer ugc"``.
    """
    return _CLEANER.clean(fragment)


_DEFINITION = re.compile(r"^ {0,3}\[([^\]\n]{1,200})\]:[ \t]*\S.*$", re.MULTILINE)
_LABEL_USE = re.compile(r"\[([^\]\n]{1,200})\](?!\()")


def _label(text: str) -> str:
    return " ".join(text.split()).casefold()


def link_definitions(text: str) -> dict[str, str]:
    """The markdown link reference definitions of a whole changelog (``[@user]: https://…``), by label.

    Many changelogs define their links once, at the end of the file; pass these to ``render`` so that each
    version's notes still resolve them.
    """
    found: dict[str, str] = {}
    for m in _DEFINITION.finditer(text):
        found.setdefault(_label(m[1]), m[0].strip())
    return found


def render(
    body: str,
    *,
    format: str,
    repo: RepoRef | None = None,
    path: str | None = None,
    ref: str = "HEAD",
    definitions: Mapping[str, str] | None = None,
) -> str:
    """The sanitized HTML of one version's ``body`` written in ``format`` ("markdown", "rst", "text", …).

    ``repo``, ``path`` (the changelog's path in the repository) and ``ref`` resolve relative links to
    ``https://github.com/{repo}/blob/{ref}/…`` and images to ``…/raw/{ref}/…``; without ``repo`` they are left
    as written and issue references are not linked. ``definitions`` (from ``link_definitions`` on the whole
    file) supplies the markdown link references that the body uses but does not define.
    """
    if format == "markdown":
        if definitions and "[" in body:
            body = _with_definitions(body, definitions)
        fragment = _markdown_html(body)
    elif format == "rst":
        from core.changelog.rst import rst_html  # docutils loads on the first rst body, not with this module

        fragment = rst_html(body, repo)
    else:
        return sanitize(f"<pre>{html.escape(body, quote=False)}</pre>")
    if repo is None:
        return sanitize(_link_references(_demote_headings(fragment), None))
    html_url = repo.html_url
    fragment = _link_references(_demote_headings(fragment), f"{html_url}/issues/")
    if not _MAYBE_RELATIVE.search(fragment):
        return sanitize(fragment)
    quoted_ref = quote(ref, safe="/")
    base = (f"{html_url}/blob/{quoted_ref}/", f"{html_url}/raw/{quoted_ref}/", posixpath.dirname(path or ""))
    token = _URL_BASE.set(base)
    try:
        return str(_RESOLVING_CLEANER.clean(fragment))
    finally:
        _URL_BASE.reset(token)


def _with_definitions(body: str, definitions: Mapping[str, str]) -> str:
    local = {_label(m[1]) for m in _DEFINITION.finditer(body)}
    wanted = {_label(label) for label in _LABEL_USE.findall(body)} - local
    extra = [definitions[label] for label in sorted(wanted) if label in definitions]
    return body + "\n\n" + "\n".join(extra) + "\n" if extra else body


def _demote_headings(fragment: str) -> str:
    levels = [int(level) for level in _HEADING_LEVEL.findall(fragment)]
    if not levels:
        return fragment
    shift = 3 - min(levels)
    if shift == 0:
        return fragment
    return _HEADING_TAG.sub(lambda m: f"<{m[1]}h{min(max(int(m[2]) + shift, 1), 6)}", fragment)


def _link_references(fragment: str, issues: str | None) -> str:
    """``fragment`` with ``#123`` linked under ``issues`` (the repository's issues URL) and ``@user`` linked."""
    if "#" not in fragment and "@" not in fragment:
        return fragment
    pieces: list[str] = []
    end = 0
    # Most matches are what must be stepped over; a loop that skips them costs less than a replacement callback.
    for m in _REFERENCE.finditer(fragment):
        kind = m.lastgroup
        if kind == "issue" and issues is not None:
            # GitHub redirects /issues/N to the pull request when N is one.
            link = f'<a href="{issues}{m["issue"]}">{m[0]}</a>'
        elif kind == "user":
            link = f'<a href="https://github.com/{m["user"]}">{m[0]}</a>'
        else:
            continue
        pieces += (fragment[end : m.start()], link)
        end = m.end()
    if not pieces:
        return fragment
    pieces.append(fragment[end:])
    return "".join(pieces)
