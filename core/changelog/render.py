"""One version's notes as a sanitized HTML fragment.

Markdown goes through GitHub's own renderer (cmark-gfm, with its extensions and raw HTML kept, as GitHub does
before sanitizing), reStructuredText through docutils with file insertion and raw directives off and no system
message in the output, plain text and asciidoc into ``<pre>``. Then headings are demoted under the version
heading (the fragment's top level becomes ``<h3>``), relative links and images are resolved against the
repository on GitHub, ``#123`` and ``@user`` are linked in text (never inside code or links), and ``nh3`` keeps
only an explicit allow-list. Changelogs are untrusted input: ``sanitize`` is the last step of every path.
"""

from __future__ import annotations

import copy
import ctypes
import html
import io
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


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"},
    attributes=_ATTRIBUTES,
    url_schemes={"http", "https", "mailto"},
    link_rel="nofollow noopener noreferrer ugc",
    strip_comments=True,
    attribute_filter=_filter_url,
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
# One scan finds the references and steps over what must not be touched: links, code, and tags whose
# attributes hold a "#" or "@" (a URL fragment, an e-mail address).
_REFERENCE = re.compile(
    r"(?s)<(?P<skip>a|code|pre|kbd|samp)\b.*?</(?P=skip)\s*>|<[^>]*[#@][^>]*>"
    r"|(?<![\w&/#])#(?P<issue>\d{1,7})\b"
    r"|(?<![\w@/.`])@(?P<user>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})\b(?![/@])",
    re.IGNORECASE,
)
_PROBLEMATIC = re.compile(r'<a href="#system-message-\d+" class="problematic"[^>]*>(.*?)</a>', re.DOTALL)


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
        fragment = _render_rst(body, repo)
    else:
        return sanitize(f"<pre>{html.escape(body, quote=False)}</pre>")
    fragment = _link_references(_demote_headings(fragment), repo)
    if repo is None:
        return sanitize(fragment)
    quoted_ref = quote(ref, safe="/")
    base = (f"{repo.html_url}/blob/{quoted_ref}/", f"{repo.html_url}/raw/{quoted_ref}/", posixpath.dirname(path or ""))
    token = _URL_BASE.set(base)
    try:
        return sanitize(fragment)
    finally:
        _URL_BASE.reset(token)


def _with_definitions(body: str, definitions: Mapping[str, str]) -> str:
    local = {_label(m[1]) for m in _DEFINITION.finditer(body)}
    wanted = {_label(label) for label in _LABEL_USE.findall(body)} - local
    extra = [definitions[label] for label in sorted(wanted) if label in definitions]
    return body + "\n\n" + "\n".join(extra) + "\n" if extra else body


def _demote_headings(fragment: str) -> str:
    levels = [int(level) for level in re.findall(r"<h([1-6])[\s>]", fragment)]
    if not levels:
        return fragment
    shift = 3 - min(levels)
    if shift == 0:
        return fragment
    return _HEADING_TAG.sub(lambda m: f"<{m[1]}h{min(max(int(m[2]) + shift, 1), 6)}", fragment)


def _link_references(fragment: str, repo: RepoRef | None) -> str:
    if "#" not in fragment and "@" not in fragment:
        return fragment
    return _REFERENCE.sub(lambda m: _reference_link(m, repo), fragment)


def _reference_link(m: re.Match[str], repo: RepoRef | None) -> str:
    if m["skip"] or (m["issue"] is None and m["user"] is None):
        return m[0]
    if m["issue"]:
        if repo is None:
            return m[0]
        # GitHub redirects /issues/N to the pull request when N is one.
        return f'<a href="{repo.html_url}/issues/{m["issue"]}">{m[0]}</a>'
    return f'<a href="https://github.com/{m["user"]}">{m[0]}</a>'


# reStructuredText -----------------------------------------------------------------------------------------

# Sphinx and its common extensions define roles that plain docutils does not know; without them each use
# becomes an error node. Code-like roles render as code, cross-references as their text, issue roles as links.
_CODE_ROLES = [
    "func",
    "class",
    "meth",
    "mod",
    "attr",
    "exc",
    "data",
    "obj",
    "const",
    "envvar",
    "option",
    "program",
    "command",
    "file",
    "samp",
    "kbd",
    "confval",
    "mimetype",
    "py:func",
    "py:class",
    "py:meth",
    "py:mod",
    "py:attr",
    "py:exc",
    "py:data",
    "py:obj",
    "py:const",
    "c:func",
    "c:macro",
    "c:type",
    "c:data",
    "js:func",
    "js:class",
    "js:meth",
    "js:attr",
    "cpp:func",
    "cpp:class",
]
_TEXT_ROLES = [
    "ref",
    "doc",
    "any",
    "term",
    "numref",
    "keyword",
    "token",
    "dfn",
    "guilabel",
    "menuselection",
    "download",
    "newsfeed",
    "abbr",
]
_ISSUE_ROLES = ("issue", "issues", "pr", "pull", "ghissue", "ghpull", "gh", "bug")
_USER_ROLES = ("user", "ghuser")
_EXPLICIT_TITLE = re.compile(r"^(.+?)\s*<([^<>]+)>$", re.DOTALL)
_rst_settings: Any = None


def _rst_role_title(text: str) -> tuple[str, str]:
    m = _EXPLICIT_TITLE.match(text)
    return (m[1], m[2]) if m else (text, text)


def _register_rst_roles() -> None:
    from docutils import nodes
    from docutils.parsers.rst import roles
    from docutils.utils import unescape

    def code_role(name, rawtext, text, lineno, inliner, options=None, content=None):  # type: ignore[no-untyped-def]
        title, _ = _rst_role_title(unescape(text))
        return [nodes.literal(rawtext, title.lstrip("~!"))], []

    def text_role(name, rawtext, text, lineno, inliner, options=None, content=None):  # type: ignore[no-untyped-def]
        title, _ = _rst_role_title(unescape(text))
        return [nodes.inline(rawtext, title)], []

    def issue_role(name, rawtext, text, lineno, inliner, options=None, content=None):  # type: ignore[no-untyped-def]
        title, target = _rst_role_title(unescape(text))
        repo = getattr(inliner.document.settings, "changelogs_repo", None)
        number = target.lstrip("#")
        label = title if title != target else f"#{number}"
        if repo is None or not number.isdigit():
            return [nodes.inline(rawtext, label)], []
        return [nodes.reference(rawtext, label, refuri=f"{repo.html_url}/issues/{number}")], []

    def user_role(name, rawtext, text, lineno, inliner, options=None, content=None):  # type: ignore[no-untyped-def]
        title, target = _rst_role_title(unescape(text))
        user = target.lstrip("@")
        label = title if title != target else f"@{user}"
        return [nodes.reference(rawtext, label, refuri=f"https://github.com/{quote(user)}")], []

    for name in _CODE_ROLES:
        roles.register_local_role(name, code_role)
    for name in _TEXT_ROLES:
        roles.register_local_role(name, text_role)
    for name in _ISSUE_ROLES:
        roles.register_local_role(name, issue_role)
    for name in _USER_ROLES:
        roles.register_local_role(name, user_role)


def _docutils_settings() -> Any:
    # Building docutils' settings parses its whole option table: do it once per process, not per version.
    global _rst_settings
    if _rst_settings is None:
        from docutils.frontend import get_default_settings
        from docutils.parsers.rst import Parser
        from docutils.writers.html5_polyglot import Writer

        _register_rst_roles()
        settings = get_default_settings(Parser, Writer)
        overrides = {
            "file_insertion_enabled": False,  # no ".. include::" of files on the crawler's disk
            "raw_enabled": False,  # no ".. raw:: html"
            "report_level": 5,  # no system message in the output
            "halt_level": 5,
            "warning_stream": io.StringIO(),
            "doctitle_xform": False,
            "sectsubtitle_xform": False,
            "initial_header_level": 3,
            "syntax_highlight": "none",
            "embed_stylesheet": False,
            "stylesheet_path": None,
            "input_encoding": "unicode",
            "output_encoding": "unicode",
            "_disable_config": True,
            "changelogs_repo": None,
        }
        for key, value in overrides.items():
            setattr(settings, key, value)
        _rst_settings = settings
    return _rst_settings


def _rst_writer() -> Any:
    from docutils import nodes
    from docutils.writers import html5_polyglot

    class Translator(html5_polyglot.HTMLTranslator):  # type: ignore[misc]  # docutils ships no type hints
        # docutils writes inline literals as <span class="docutils literal">; GitHub (and we) use <code>.
        def visit_literal(self, node: Any) -> None:
            self.body.append(f"<code>{self.encode(node.astext())}</code>")
            raise nodes.SkipNode

    writer = html5_polyglot.Writer()
    writer.translator_class = Translator
    return writer


def _render_rst(body: str, repo: RepoRef | None) -> str:
    from docutils.core import publish_parts

    settings = copy.copy(_docutils_settings())  # per call: renders may run in threads
    settings.changelogs_repo = repo
    settings.warning_stream = io.StringIO()
    parts = publish_parts(body, writer=_rst_writer(), settings=settings)
    return _PROBLEMATIC.sub(r"<code>\1</code>", parts["body"])
