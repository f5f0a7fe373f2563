"""reStructuredText to HTML: a fast renderer for the subset changelogs use, and docutils for everything else.

docutils renders changelogs at 0.2–0.5 MB/s whatever its settings: its state machine, node tree, transforms and
writer cost far more than the rest of the render path. Changelogs use a small part of the language, so
``subset_html`` renders that part itself, by docutils' own rules (it reuses docutils' block and inline patterns,
its escaping and its labels) and with the tags docutils writes, so that both give the same HTML once sanitized.
At the first construct outside the subset it gives up and ``rst_html`` hands the body to ``docutils_html``, as
before (file insertion and raw directives off). A wrong fast rendering is worse than a slow correct one: when in
doubt, the subset gives up.

The subset:

- blocks: paragraphs; bullet lists and arabic enumerated lists (``1.``, ``#.``), definition lists without
  classifiers, block quotes without attribution, all nested; section titles, underlined or over- and
  underlined, at the top level; ``::`` literal blocks; the ``code``, ``code-block`` and ``sourcecode``
  directives with at most a language; the admonitions (``note``, ``warning``, ``tip``…) without options;
  comments; internal targets (``.. _label:``) at the top level;
- inline: emphasis, strong, inline literals, interpreted text (``title``), links with an embedded URI
  (```text <url>`_`` and ``__``), standalone URIs and e-mail addresses, the standard roles emphasis, strong,
  literal, code, pep, rfc and title-reference, the Sphinx roles below, and unknown roles (which docutils leaves
  as written).

Everything else goes to docutils: tables, field and option lists, unexpected indentation, line blocks, doctest
blocks, footnotes, citations, substitutions, references to named targets, external and anonymous targets,
transitions, other directives, directive options, suffix roles, and every construct that docutils would report
as a warning or an error.
"""

from __future__ import annotations

import copy
import functools
import io
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from docutils import nodes, utils
from docutils.frontend import get_default_settings
from docutils.languages import get_language
from docutils.parsers.rst import Parser, roles, states
from docutils.parsers.rst.languages import en as rst_en
from docutils.utils import column_width, escape2null, punctuation_chars, split_escaped_whitespace, unescape
from docutils.utils.urischemes import schemes as uri_schemes
from docutils.writers import html5_polyglot

from core.models import RepoRef

# Sphinx and its common extensions define roles that plain docutils does not know; without them each use
# becomes an error node. Code-like roles render as code, cross-references as their text, issue roles as links.
_CODE_ROLES = {
    "func", "class", "meth", "mod", "attr", "exc", "data", "obj", "const", "envvar", "option", "program",
    "command", "file", "samp", "kbd", "confval", "mimetype", "py:func", "py:class", "py:meth", "py:mod",
    "py:attr", "py:exc", "py:data", "py:obj", "py:const", "c:func", "c:macro", "c:type", "c:data", "js:func",
    "js:class", "js:meth", "js:attr", "cpp:func", "cpp:class",
}  # fmt: skip
_TEXT_ROLES = {
    "ref", "doc", "any", "term", "numref", "keyword", "token", "dfn", "guilabel", "menuselection", "download",
    "newsfeed", "abbr",
}  # fmt: skip
_ISSUE_ROLES = {"issue", "issues", "pr", "pull", "ghissue", "ghpull", "gh", "bug"}
_USER_ROLES = {"user", "ghuser"}
_EXPLICIT_TITLE = re.compile(r"^(.+?)\s*<([^<>]+)>$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _RoleOutput:
    tag: str  # "code", "span" or "a"
    text: str
    url: str = ""


def _sphinx_role(name: str, text: str, repo: RepoRef | None) -> _RoleOutput:
    """What the Sphinx role ``name`` (lower case) makes of its unescaped ``text``: one rule for both renderers."""
    m = _EXPLICIT_TITLE.match(text)
    title, target = (m[1], m[2]) if m else (text, text)
    if name in _CODE_ROLES:
        return _RoleOutput("code", title.lstrip("~!"))
    if name in _TEXT_ROLES:
        return _RoleOutput("span", title)
    if name in _ISSUE_ROLES:
        number = target.lstrip("#")
        label = title if title != target else f"#{number}"
        if repo is None or not number.isdigit():
            return _RoleOutput("span", label)
        # GitHub redirects /issues/N to the pull request when N is one.
        return _RoleOutput("a", label, f"{repo.html_url}/issues/{number}")
    user = target.lstrip("@")
    label = title if title != target else f"@{user}"
    return _RoleOutput("a", label, f"https://github.com/{quote(user)}")


def _docutils_role(name, rawtext, text, lineno, inliner, options=None, content=None):  # type: ignore[no-untyped-def]
    made = _sphinx_role(name.lower(), unescape(text), inliner.document.settings.changelogs_repo)
    if made.tag == "code":
        return [nodes.literal(rawtext, made.text)], []
    if made.tag == "span":
        return [nodes.inline(rawtext, made.text)], []
    return [nodes.reference(rawtext, made.text, refuri=made.url)], []


@functools.cache
def _docutils_settings() -> Any:
    # Building docutils' settings parses its whole option table: once per process, not per version.
    for name in (*_CODE_ROLES, *_TEXT_ROLES, *_ISSUE_ROLES, *_USER_ROLES):
        roles.register_local_role(name, _docutils_role)
    settings = get_default_settings(Parser, html5_polyglot.Writer)
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
    return settings


class _Translator(html5_polyglot.HTMLTranslator):  # type: ignore[misc]  # docutils ships no type hints
    # docutils writes inline literals as <span class="docutils literal">; GitHub (and we) use <code>.
    def visit_literal(self, node: Any) -> None:
        self.body.append(f"<code>{self.encode(node.astext())}</code>")
        raise nodes.SkipNode


_PROBLEMATIC = re.compile(r'<a href="#system-message-\d+" class="problematic"[^>]*>(.*?)</a>', re.DOTALL)


def docutils_html(body: str, repo: RepoRef | None) -> str:
    """The HTML docutils writes for ``body`` (not sanitized), with the Sphinx roles above and no system message."""
    from docutils.core import publish_parts

    settings = copy.copy(_docutils_settings())  # per call: renders may run in threads
    settings.changelogs_repo = repo
    settings.warning_stream = io.StringIO()
    writer = html5_polyglot.Writer()
    writer.translator_class = _Translator
    parts = publish_parts(body, writer=writer, settings=settings)
    return _PROBLEMATIC.sub(r"<code>\1</code>", parts["body"])


def rst_html(body: str, repo: RepoRef | None) -> str:
    """The HTML of ``body`` (not sanitized): ``subset_html`` when the body keeps to the subset, else docutils."""
    fast = subset_html(body, repo)
    return docutils_html(body, repo) if fast is None else fast


def subset_html(body: str, repo: RepoRef | None) -> str | None:
    """The HTML of ``body`` (not sanitized) when it uses only the subset of the module docstring, else None."""
    try:
        return _Subset(_patterns(), repo).document(body)
    except _Unsupported:
        return None


# The subset -----------------------------------------------------------------------------------------------


class _Unsupported(Exception):
    """The body uses reStructuredText outside the subset (or something docutils would warn about)."""


class _Patterns:
    """docutils' own patterns, roles and labels, gathered once."""

    def __init__(self) -> None:
        settings = _docutils_settings()
        body = states.Body.patterns
        self.bullet = re.compile(body["bullet"])
        self.enumerator = re.compile(body["enumerator"])
        self.explicit = re.compile(body["explicit_markup"])
        self.line = re.compile(body["line"])
        self.field_marker = re.compile(body["field_marker"])
        # Body's transitions between the enumerator and explicit markup, none of them in the subset.
        outside = ("field_marker", "option_marker", "doctest", "line_block", "grid_table_top", "simple_table_top")
        self.outside = re.compile("|".join(f"(?:{getattr(body[name], 'pattern', body[name])})" for name in outside))
        self.anonymous = re.compile(body["anonymous"])
        self.attribution = states.Body.attribution_pattern
        self.constructs = [(method.__name__, pattern) for method, pattern in states.Body.explicit.constructs]
        inliner = states.Inliner()
        inliner.init_customizations(settings)
        self.inline = inliner.patterns
        self.pep_url = settings.pep_base_url + settings.pep_file_url_template
        self.rfc_url = settings.rfc_base_url + inliner.rfc_url
        self.labels = get_language("en").labels
        self.reporter = utils.Reporter("", 5, 5, stream=io.StringIO())
        self.handled_roles = {
            roles.role(name, rst_en, 0, self.reporter)[0]: name
            for name in ("emphasis", "strong", "literal", "code", "pep-reference", "rfc-reference", "title-reference")
        }
        self.role_kinds: dict[str, str] = {}

    def role_kind(self, role: str) -> str:
        """What ``role`` is: "sphinx", a name in ``handled_roles``, "unknown", or "other" (outside the subset)."""
        kind = self.role_kinds.get(role)
        if kind is None:
            function = roles.role(role, rst_en, 0, self.reporter)[0]
            if function is None:
                kind = "unknown"
            elif function is _docutils_role:
                kind = "sphinx"
            else:
                kind = self.handled_roles.get(function, "other")
            if role:  # the default role can change (".. default-role::" is global in docutils)
                self.role_kinds[role] = kind
        return kind


@functools.cache
def _patterns() -> _Patterns:
    return _Patterns()


_FORM_FEEDS = re.compile("[\v\f]")
# Every inline construct holds one of these characters, and no white space before the first of them.
_MARKUP_CHARACTER = re.compile(r"[*`|_\[]")
# A standalone URI has a scheme and a colon before a non-space character, an e-mail address an "@".
_URI_HINT = re.compile(r":\S|@")
_SPACE = re.compile(r"\s")
_ATTRIBUTE_SPACE = re.compile("[\n\r\t\v\f]")
_ARABIC = re.compile(r"([0-9]+|#)\.( +|$)")
_LITERAL_NEXT = re.compile(r"(?<!\\)(\\\\)*::$")
_CLASSIFIER = re.compile(" +: +")  # docutils' classifier_delimiter in a definition list's term
_INTERNAL_TARGET = re.compile(r"\.\. _(?![_\s`])[^`:\\]+(?<!\s):$")
_CODE_LANGUAGE = re.compile(r"[\w.+#-]+")
_CODE_DIRECTIVES = {"code"}
_ADMONITIONS = {"attention", "caution", "danger", "error", "hint", "important", "note", "tip", "warning"}
_LINE_LENGTH_LIMIT = 10_000  # docutils' line_length_limit: a longer line makes it render nothing


def _encode(text: str) -> str:
    # docutils' HTMLTranslator.encode: "@" too, which keeps "@user" in rst text from being linked.
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "@" in text:
        text = text.replace("@", "&#64;")
    return text


def _attribute(value: str) -> str:
    # docutils' HTMLTranslator.attval: line breaks and tabs in an attribute value become spaces.
    return _encode(_ATTRIBUTE_SPACE.sub(" ", value))


def _unescape(escaped: str, restore_backslashes: bool = False) -> str:
    # docutils marks backslash escapes with NUL characters; most text has none.
    return unescape(escaped, restore_backslashes) if "\x00" in escaped else escaped


def _text(escaped: str) -> str:
    """The HTML of docutils' Text node holding ``escaped``."""
    return _encode(_unescape(escaped))


# A block: (kind, html, section level). Kinds: "p" (a paragraph, whose line end depends on its parent), "title",
# "target", "comment" and "block" (anything else).
_Block = tuple[str, str, int]


def _children(blocks: list[_Block], *, list_item: bool = False) -> str:
    # docutils ends a paragraph's line unless it is the only child of a list item.
    if list_item and len(blocks) == 1 and blocks[0][0] == "p":
        return blocks[0][1]
    return "".join(f"{block[1]}\n" if block[0] == "p" else block[1] for block in blocks)


class _Subset:
    """One body rendered by docutils' rules for the subset; raises ``_Unsupported`` at anything else."""

    def __init__(self, patterns: _Patterns, repo: RepoRef | None) -> None:
        self._p = patterns
        self._repo = repo
        self._styles: list[object] = []  # title styles in order of appearance: their index is the level
        self._level = 0

    def document(self, body: str) -> str:
        if "\x00" in body or "\ufeff" in body:
            raise _Unsupported
        lines = [line.expandtabs(8).rstrip() for line in _FORM_FEEDS.sub(" ", body).splitlines()]
        if any(len(line) > _LINE_LENGTH_LIMIT for line in lines):
            raise _Unsupported
        blocks = self._blocks(lines, nested=False)
        out: list[str] = []
        depth = 0
        for index, block in enumerate(blocks):
            kind = block[0]
            if kind == "title":
                level = block[2]
                while depth >= level:
                    out.append("</section>\n")
                    depth -= 1
                out.append("<section>\n")
                out.append(block[1])
                depth = level
            elif kind == "target":
                # docutils gives a target's id to the next element, which the sanitizer removes; a second id (on
                # a section, or from several targets) becomes an empty span, and so does a target with nothing
                # after it.
                following = blocks[index + 1][0] if index + 1 < len(blocks) else None
                if following in ("target", "comment", "title"):
                    raise _Unsupported
                if following is None:
                    out.append('<span class="target"></span>')
            elif kind == "p":
                out.append(f"{block[1]}\n")
            else:
                out.append(block[1])
        out.append("</section>\n" * depth)
        return "".join(out)

    # Blocks -------------------------------------------------------------------------------------------------

    def _blocks(self, lines: list[str], *, nested: bool) -> list[_Block]:
        """The blocks of ``lines`` (indentation relative to this body), as docutils' Body state reads them."""
        p = self._p
        blocks: list[_Block] = []
        i, n = 0, len(lines)
        while i < n:
            line = lines[i]
            if not line:
                i += 1
            elif line[0].isalnum() and not p.enumerator.match(line):
                i = self._text(lines, i, blocks, nested=nested)  # no other transition starts with one
            elif line[0] == " ":
                i = self._block_quote(lines, i, blocks)
            elif p.bullet.match(line):
                i = self._bullet_list(lines, i, blocks)
            elif m := p.enumerator.match(line):
                i = self._enumerated_list(lines, i, m.end(), blocks)
            elif p.outside.match(line):
                raise _Unsupported
            elif m := p.explicit.match(line):
                i = self._explicit(lines, i, m.end(), blocks, nested=nested)
            elif p.anonymous.match(line):
                raise _Unsupported
            elif p.line.match(line):
                i = self._line(lines, i, blocks, nested=nested)
            else:
                i = self._text(lines, i, blocks, nested=nested)
        return blocks

    def _is_text(self, line: str) -> bool:
        """Whether docutils' Body state reads ``line`` (not blank, not indented) as text."""
        p = self._p
        if line[0].isalnum():
            return not p.enumerator.match(line)
        return not (
            p.bullet.match(line)
            or p.enumerator.match(line)
            or p.outside.match(line)
            or p.explicit.match(line)
            or p.anonymous.match(line)
            or p.line.match(line)
        )

    def _text(self, lines: list[str], i: int, blocks: list[_Block], *, nested: bool) -> int:
        n = len(lines)
        end = i + 1
        if end < n and lines[end]:
            second = lines[end]
            if second[0] == " ":
                return self._definition_list(lines, i, blocks)
            title = lines[i]
            if self._p.line.match(second) and not (column_width(title) > len(second) and len(second) < 4):
                if nested:
                    raise _Unsupported  # docutils: "Unexpected section title"
                self._title(title, second[0], blocks)
                return i + 2
            while end < n and lines[end]:
                if lines[end][0] == " ":
                    raise _Unsupported  # docutils: "Unexpected indentation"
                end += 1
        return self._paragraph(lines, i, end, blocks)

    def _paragraph(self, lines: list[str], start: int, end: int, blocks: list[_Block]) -> int:
        data = "\n".join(lines[start:end]).rstrip()
        literal_next = data.endswith("::") and _LITERAL_NEXT.search(data) is not None
        if not literal_next:
            blocks.append(("p", f"<p>{self._inline(data)}</p>", 0))
            return end
        if len(data) > 2:
            text = data[:-3].rstrip() if data[-3] in " \n" else data[:-1]
            blocks.append(("p", f"<p>{self._inline(text)}</p>", 0))
        return self._literal_block(lines, end, blocks)

    def _literal_block(self, lines: list[str], start: int, blocks: list[_Block]) -> int:
        block, end, blank_finish = self._indented_block(lines, start)
        while block and not block[-1]:
            block.pop()
        if not block or not blank_finish:
            raise _Unsupported  # a quoted literal block, none at all, or no blank line after it
        text = "\n".join(block)
        blocks.append(("block", f'<pre class="literal-block">{_encode(text)}</pre>\n', 0))
        return end

    def _indented_block(self, lines: list[str], start: int) -> tuple[list[str], int, bool]:
        """docutils' get_indented() from ``start``: the lines up to the next unindented one, least indent
        removed, leading blank lines dropped; the line after them; whether a blank line ends them."""
        n = len(lines)
        end = start
        while end < n and (not lines[end] or lines[end][0] == " "):
            end += 1
        block = lines[start:end]
        indent = min((len(line) - len(line.lstrip()) for line in block if line), default=0)
        content = [line[indent:] for line in block]
        while content and not content[0]:
            content.pop(0)
        return content, end, end == n or (end > start and not lines[end - 1])

    def _block_quote(self, lines: list[str], i: int, blocks: list[_Block]) -> int:
        content, end, blank_finish = self._indented_block(lines, i)
        if end < len(lines) and not blank_finish:
            raise _Unsupported  # docutils: "Block quote ends without a blank line"
        if any(self._p.attribution.match(line) for line in content):
            raise _Unsupported  # an attribution ("-- Author") may split it
        blocks.append(("block", f"<blockquote>\n{_children(self._blocks(content, nested=True))}</blockquote>\n", 0))
        return end

    def _definition_list(self, lines: list[str], i: int, blocks: list[_Block]) -> int:
        """A term (line ``i``) over an indented definition, then the next ones, as docutils reads them."""
        n = len(lines)
        items: list[str] = []
        while True:
            term = lines[i]
            if _CLASSIFIER.search(term):
                raise _Unsupported  # "term : classifier"
            content, end, blank_finish = self._indented_block(lines, i + 1)
            definition = _children(self._blocks(content, nested=True))
            items.append(f"<dt>{self._inline(term)}</dt>\n<dd>{definition}</dd>\n")
            if end + 1 < n and lines[end + 1][:1] == " " and lines[end + 1].strip() and self._is_text(lines[end]):
                i = end
                continue
            break
        if end < n and not blank_finish:
            raise _Unsupported  # docutils: "Definition list ends without a blank line"
        blocks.append(("block", "<dl>\n" + "".join(items) + "</dl>\n", 0))
        return end

    def _title(self, title: str, style: object, blocks: list[_Block]) -> None:
        try:
            level = self._styles.index(style) + 1
        except ValueError:
            level = len(self._styles) + 1
        if level > self._level + 1 or level > 4:  # docutils: "Inconsistent title style"; beyond <h6>
            raise _Unsupported
        if level > len(self._styles):
            self._styles.append(style)
        self._level = level
        tag = f"h{level + 2}"  # initial_header_level is 3
        blocks.append(("title", f"<{tag}>{self._inline(title)}</{tag}>\n", level))

    def _line(self, lines: list[str], i: int, blocks: list[_Block], *, nested: bool) -> int:
        """A line of one punctuation character: "::" before a literal block, or the overline of a title."""
        n = len(lines)
        line = lines[i]
        if line == "::":
            if i + 1 < n and not lines[i + 1]:
                return self._paragraph(lines, i, i + 1, blocks)
            raise _Unsupported
        if nested or i + 2 >= n or len(line) < 4:
            raise _Unsupported  # a transition, or an overline where docutils reports an error
        title, underline = lines[i + 1], lines[i + 2]
        if not title or self._p.line.match(title) or underline != line:
            raise _Unsupported
        self._title(title.strip(), (line[0], underline[0]), blocks)
        return i + 3

    def _list_item(self, lines: list[str], i: int, indent: int) -> tuple[str, int, bool]:
        """An item's HTML, the line after it, and whether a blank line ends it (docutils' "blank finish")."""
        n = len(lines)
        line = lines[i]
        end = i + 1
        if line[indent:]:
            # The indent is known: every line of the item is indented at least as far as its first text.
            while end < n:
                following = lines[end]
                if following and (following[0] != " " or following[:indent].strip()):
                    break
                end += 1
            content = [line[indent:]] + [following[indent:] for following in lines[i + 1 : end]]
        else:
            # Nothing after the bullet: the item's indent is that of its least indented line.
            content, end, _ = self._indented(lines, i, indent)
        while content and not content[0]:
            content.pop(0)
        blank_finish = end == n or not lines[end - 1]
        children = _children(self._blocks(content, nested=True), list_item=True) if content else ""
        return f"<li>{children}</li>\n", end, blank_finish

    def _bullet_list(self, lines: list[str], i: int, blocks: list[_Block]) -> int:
        n = len(lines)
        bullet = lines[i][0]
        items: list[str] = []
        while True:
            m = self._p.bullet.match(lines[i])
            assert m is not None
            item, i, blank_finish = self._list_item(lines, i, m.end())
            items.append(item)
            if i < n and lines[i][0] == bullet and self._p.bullet.match(lines[i]):
                continue
            break
        if i < n and not blank_finish:
            raise _Unsupported  # docutils: "Bullet list ends without a blank line"
        blocks.append(("block", "<ul>\n" + "".join(items) + "</ul>\n", 0))
        return i

    def _enumerated_list(self, lines: list[str], i: int, end: int, blocks: list[_Block]) -> int:
        n = len(lines)
        items: list[str] = []
        start = last = 0
        auto = False
        while True:
            m = _ARABIC.match(lines[i])
            if m is None or m.end() != end:
                raise _Unsupported  # letters, roman numerals, "1)" or "(1)"
            is_auto = m[1] == "#"
            ordinal = 1 if is_auto else int(m[1])
            if items and not is_auto and (auto or ordinal != last + 1):
                break  # docutils starts another list
            following = lines[i + 1] if i + 1 < n else ""
            if following[:1].strip():
                expected = ("#.",) if is_auto else (f"{ordinal + 1}.", "#.")
                if not following.startswith(expected):
                    raise _Unsupported  # docutils reads the line as text
            if not items:
                start = ordinal
            auto = auto or is_auto
            item, i, blank_finish = self._list_item(lines, i, end)
            items.append(item)
            last = ordinal
            if i < n and (next_enumerator := self._p.enumerator.match(lines[i])):
                end = next_enumerator.end()
                continue
            break
        if i < n and not blank_finish:
            raise _Unsupported  # docutils: "Enumerated list ends without a blank line"
        attributes = "" if start == 1 else f' start="{start}"'
        blocks.append(("block", f"<ol{attributes}>\n" + "".join(items) + "</ol>\n", 0))
        return i

    def _indented(self, lines: list[str], i: int, indent: int) -> tuple[list[str], int, bool]:
        """docutils' get_first_known_indented(indent) without stripping the top: block, end, blank finish."""
        n = len(lines)
        end = i + 1
        least = None
        while end < n:
            following = lines[end]
            if following:
                if following[0] != " ":
                    break
                width = len(following) - len(following.lstrip())
                least = width if least is None else min(least, width)
            end += 1
        block = [lines[i][indent:]] + [following[least or 0 :] for following in lines[i + 1 : end]]
        return block, end, end == n or not lines[end - 1]

    def _explicit(self, lines: list[str], i: int, indent: int, blocks: list[_Block], *, nested: bool) -> int:
        line = lines[i]
        for name, pattern in self._p.constructs:
            m = pattern.match(line)
            if m is None:
                continue
            if name == "hyperlink_target":
                end, blank_finish = self._target(lines, i, blocks, nested=nested)
            elif name == "directive":
                end, blank_finish = self._directive(lines, i, m, blocks)
            else:
                raise _Unsupported  # footnotes, citations, substitution definitions
            break
        else:
            end, blank_finish = self._comment(lines, i, indent, blocks)
        if end < len(lines) and not blank_finish and not self._p.explicit.match(lines[end]):
            raise _Unsupported  # docutils: "Explicit markup ends without a blank line"
        return end

    def _target(self, lines: list[str], i: int, blocks: list[_Block], *, nested: bool) -> tuple[int, bool]:
        end = i + 1
        if nested or not _INTERNAL_TARGET.fullmatch(lines[i]):
            raise _Unsupported  # external or anonymous targets, or where an id would land is subtle
        if end < len(lines) and lines[end][:1] == " ":
            raise _Unsupported  # the target goes on: a URI on the next line
        blocks.append(("target", "", 0))
        return end, end == len(lines) or not lines[end]

    def _directive(self, lines: list[str], i: int, m: re.Match[str], blocks: list[_Block]) -> tuple[int, bool]:
        name = m[1].lower()
        canonical = rst_en.directives.get(name, name)
        block, end, blank_finish = self._indented(lines, i, m.end())
        while block and not block[-1].strip():
            block.pop()
        if canonical in _CODE_DIRECTIVES:
            # A language or nothing on the directive's line, a blank line, then the code.
            if len(block) < 3 or block[1]:
                raise _Unsupported
            language = block[0].strip()
            if language and not _CODE_LANGUAGE.fullmatch(language):
                raise _Unsupported
            code = block[2:]
            while not code[0]:
                code.pop(0)
            text = _encode("\n".join(code))
            blocks.append(("block", f'<pre class="code literal-block"><code>{text}</code></pre>\n', 0))
        elif canonical in _ADMONITIONS:
            content = block[1:] if block and not block[0].strip() else block
            for line in content:
                if not line:
                    break
                if self._p.field_marker.match(line):
                    raise _Unsupported  # directive options
            while content and not content[0]:
                content.pop(0)
            if not content:
                raise _Unsupported
            label = _encode(self._p.labels[canonical])
            inner = _children(self._blocks(content, nested=True))
            html = f'<aside class="admonition {canonical}">\n<p class="admonition-title">{label}</p>\n{inner}</aside>\n'
            blocks.append(("block", html, 0))
        else:
            raise _Unsupported
        return end, blank_finish

    def _comment(self, lines: list[str], i: int, indent: int, blocks: list[_Block]) -> tuple[int, bool]:
        # docutils writes comments as HTML comments, which the sanitizer removes: only the line end stays.
        first = lines[i][indent:]
        if i + 1 < len(lines) and not lines[i + 1]:
            if first.startswith('end of inclusion from "'):
                raise _Unsupported
            if not first.strip():
                blocks.append(("comment", "\n", 0))
                return i + 1, True
        _, end, blank_finish = self._indented(lines, i, indent)
        blocks.append(("comment", "\n", 0))
        return end, blank_finish

    # Inline markup --------------------------------------------------------------------------------------------

    def _inline(self, text: str) -> str:
        """docutils' Inliner.parse, writing HTML instead of nodes."""
        search = self._p.inline.initial.search
        find_markup = _MARKUP_CHARACTER.search
        remaining = escape2null(text) if "\\" in text else text
        out: list[str] = []
        unprocessed = ""
        while remaining:
            # docutils' pattern tries every position; it cannot match before the word holding the first markup
            # character, so the search starts there (same match, a fraction of the time).
            first = find_markup(remaining)
            if first is None:
                break
            j = first.start()
            m = search(remaining, max(remaining.rfind(" ", 0, j), remaining.rfind("\n", 0, j)) + 1)
            if m is None:
                break
            start = m["start"]
            if start == "*":
                before, html, remaining = self._inline_object(m, self._p.inline.emphasis, "em")
            elif start == "**":
                before, html, remaining = self._inline_object(m, self._p.inline.strong, "strong")
            elif start == "``":
                before, html, remaining = self._inline_object(m, self._p.inline.literal, "code")
            elif start == "_`":
                before, html, remaining = self._inline_object(m, self._p.inline.target, "")
            elif start == "|":
                before, html, remaining = self._inline_object(m, self._p.inline.substitution_ref, "")
            elif m["backquote"]:
                before, html, remaining = self._interpreted_or_phrase_ref(m)
            else:
                raise _Unsupported  # a reference to a named target, a footnote or a citation
            unprocessed += before
            if html is not None:
                if unprocessed:
                    out.append(self._implicit(unprocessed))
                    unprocessed = ""
                out.append(html)
        out.append(self._implicit(unprocessed + remaining))
        return "".join(out)

    def _quoted(self, m: re.Match[str]) -> bool:
        """Whether a start-string is between a matching pair of brackets or quotes, like ``"*"``."""
        string, start, end = m.string, m.start(), m.end()
        if start == 0:
            return False
        if end >= len(string):
            return True
        before = string[start - 1]
        return before in punctuation_chars.openers and bool(punctuation_chars.match_chars(before, string[end]))

    def _inline_object(self, m: re.Match[str], end_pattern: re.Pattern[str], tag: str) -> tuple[str, str | None, str]:
        string = m.string
        start, end = m.start("start"), m.end("start")
        if self._quoted(m):
            return string[:end], None, string[end:]
        rest = string[end:]
        found = end_pattern.search(rest)
        if found and found.start(1):
            if not tag:
                raise _Unsupported  # an inline target or a substitution reference
            content = rest[: found.start(1)]
            html = (
                f"<code>{_encode(_unescape(content, True))}</code>"
                if tag == "code"
                else f"<{tag}>{_text(content)}</{tag}>"
            )
            return string[:start], html, string[end + found.end(1) :]
        # No end-string: docutils reports it and writes the start-string as text.
        return string[:start], _encode(_unescape(string[start:end], True)), string[end:]

    def _interpreted_or_phrase_ref(self, m: re.Match[str]) -> tuple[str, str | None, str]:
        string = m.string
        start, end = m.start("backquote"), m.end("backquote")
        role_start = m.start("role")
        role = m["role"][1:-1] if m["role"] else ""
        if not role and self._quoted(m):
            return string[:end], None, string[end:]
        rest = string[end:]
        found = self._p.inline.interpreted_or_phrase_ref.search(rest)
        if not (found and found.start(1)):
            return string[:start], _encode(_unescape(string[start:end], True)), string[end:]
        text_end = end + found.end()
        if found["role"]:
            raise _Unsupported  # a suffix role
        escaped = rest[: found.start(1)]
        source = string[role_start:text_end]
        if source[-1] == "_":
            if role:  # docutils: "Mismatch: both interpreted text role prefix and reference suffix"
                return string[:role_start], _encode(_unescape(source, True)), string[text_end:]
            return string[:start], self._phrase_reference(escaped), string[text_end:]
        return string[:role_start], self._interpreted(source, escaped, role), string[text_end:]

    def _phrase_reference(self, escaped: str) -> str:
        inline = self._p.inline
        m = inline.embedded_link.search(escaped)
        if m is None:
            raise _Unsupported  # a reference to a named target
        text = escaped[: m.start(0)]
        alias_text = m[2]
        if alias_text.endswith("_") and not (
            _unescape(alias_text, True).endswith("\\_") or inline.uri.match(alias_text)
        ):
            raise _Unsupported  # an alias of a named target
        if "\x00" in alias_text or _SPACE.search(alias_text):
            alias = unescape(" ".join("".join(part.split()) for part in split_escaped_whitespace(alias_text)))
        else:
            alias = alias_text
        if inline.email.match(alias):
            alias = "mailto:" + alias
        if alias.endswith("\\_"):
            alias = alias[:-2] + "_"
        return f'<a href="{_attribute(alias)}">{_text(text) if text else _encode(alias)}</a>'

    def _interpreted(self, source: str, escaped: str, role: str) -> str:
        """Interpreted text ``source`` (role, text and backquotes) of role ``role`` and text ``escaped``."""
        kind = self._p.role_kind(role)
        if kind == "unknown":
            return _encode(_unescape(source, True))  # docutils reports it and writes the source as text
        if kind == "sphinx":
            made = _sphinx_role(role.lower(), _unescape(escaped), self._repo)
            if made.tag == "a":
                return f'<a href="{_attribute(made.url)}">{_encode(made.text)}</a>'
            return f"<{made.tag}>{_encode(made.text)}</{made.tag}>"
        if kind == "emphasis":
            return f"<em>{_text(escaped)}</em>"
        if kind == "strong":
            return f"<strong>{_text(escaped)}</strong>"
        if kind == "literal":
            return f"<code>{_text(escaped)}</code>"
        if kind == "code":
            return f"<code>{_encode(_unescape(escaped, True))}</code>"
        if kind == "title-reference":
            return f"<cite>{_text(escaped)}</cite>"
        if kind == "pep-reference":
            try:
                number = int(_unescape(escaped))
            except ValueError:
                return _encode(_unescape(source, True))
            if not 0 <= number <= 9999:
                return _encode(_unescape(source, True))
            return f'<a href="{_attribute(self._p.pep_url % number)}">{_text("PEP " + escaped)}</a>'
        if kind == "rfc-reference":
            number_text, hash_sign, section = _unescape(escaped).partition("#")
            try:
                number = int(number_text)
            except ValueError:
                return _encode(_unescape(source, True))
            if number < 1:
                return _encode(_unescape(source, True))
            url = self._p.rfc_url % number + hash_sign + section
            return f'<a href="{_attribute(url)}">RFC {number}</a>'
        raise _Unsupported  # another docutils role

    def _implicit(self, text: str) -> str:
        """docutils' implicit_inline: standalone URIs and e-mail addresses in text, as links."""
        if not text:
            return ""
        if (":" in text or "@" in text) and _URI_HINT.search(text):
            m = self._p.inline.uri.search(text)
            if m and (not m["scheme"] or m["scheme"].lower() in uri_schemes):
                whole = m["whole"]
                url = ("mailto:" if m["email"] else "") + _unescape(whole)
                link = f'<a href="{_attribute(url)}">{_text(whole)}</a>'
                return self._implicit(text[: m.start()]) + link + self._implicit(text[m.end() :])
        return _text(text)
