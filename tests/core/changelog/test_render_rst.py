"""reStructuredText: the fast renderer for the subset changelogs use (``core.changelog.rst``), held to docutils.

Every comparison renders a body both ways and sanitizes both, as ``render`` does, then compares them with
``_assert_same_rendering``. Accepted differences: white space next to block elements, and the amount and kind of
white space inside text outside ``<pre>`` (browsers render both the same). Nothing else: every element and its
nesting, every link and image target, list start numbers, and every character of text and code must match.
On the corpus the two renderings are in fact byte for byte the same today.
"""

from __future__ import annotations

import json
import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from core.changelog import decode, detect_format, parse, sanitize
from core.changelog.rst import docutils_html, rst_html, subset_html
from core.models import RepoRef

ROOT = Path(__file__).resolve().parents[3]
REPO = RepoRef("octo", "widgets")
_BLOCK_TAGS = {
    "p", "li", "ul", "ol", "dl", "dt", "dd", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "div",
    "table", "thead", "tbody", "tr", "td", "th", "hr", "br",
}  # fmt: skip


class _Shape(HTMLParser):
    """An HTML fragment as a list of tags (with the attributes that survive sanitizing) and text runs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, ...]] = []
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._pre += tag == "pre"
        self.items.append(("start", tag, *(f"{name}={value}" for name, value in sorted(attrs) if name != "rel")))

    def handle_endtag(self, tag: str) -> None:
        self._pre -= tag == "pre"
        self.items.append(("end", tag))

    def handle_data(self, data: str) -> None:
        text = data if self._pre else re.sub(r"\s+", " ", data)
        if self.items and self.items[-1][0] == "text":
            text = self.items.pop()[1] + text
        self.items.append(("text", text))

    def shape(self) -> list[tuple[str, ...]]:
        """The items, without white-space runs that touch a block element."""
        kept = []
        for index, item in enumerate(self.items):
            if item[0] == "text" and not item[1].strip() and not self._pre:
                around = self.items[index - 1 : index] + self.items[index + 1 : index + 2]
                if not around or any(other[0] != "text" and other[1] in _BLOCK_TAGS for other in around):
                    continue
            kept.append(item)
        return kept


def _shape(fragment: str) -> list[tuple[str, ...]]:
    parser = _Shape()
    parser.feed(sanitize(fragment))
    parser.close()
    return parser.shape()


def _assert_same_rendering(body: str, repo: RepoRef | None = REPO) -> None:
    fast = subset_html(body, repo)
    assert fast is not None, f"outside the subset:\n{body}"
    assert _shape(fast) == _shape(docutils_html(body, repo)), body


def _corpus_rst_bodies() -> list[tuple[str, str, RepoRef]]:
    bodies = []
    for case in sorted(p for p in (ROOT / "corpus" / "changelogs").iterdir() if (p / "expected.json").exists()):
        expected = json.loads((case / "expected.json").read_text())
        source = case / Path(expected["path"]).name
        text = decode(source.read_bytes(), limit=50_000_000).text
        if detect_format(source.name, text) == "rst":
            repo = RepoRef.parse(expected["source"].removeprefix("github:"))
            bodies += [(f"{case.name} {entry.version}", entry.body, repo) for entry in parse(text, format="rst")]
    return bodies


CORPUS_RST = _corpus_rst_bodies()


def test_the_corpus_has_rst_bodies_to_compare() -> None:
    assert len(CORPUS_RST) > 400


@pytest.mark.parametrize(("name", "body", "repo"), [pytest.param(*item, id=item[0]) for item in CORPUS_RST])
def test_every_corpus_rst_body_renders_the_same_both_ways(name: str, body: str, repo: RepoRef) -> None:
    fast = subset_html(body, repo)
    if fast is not None:
        assert _shape(fast) == _shape(docutils_html(body, repo)), name


def test_the_fast_path_renders_nearly_all_of_the_corpus_rst() -> None:
    fast = [len(body) for _, body, repo in CORPUS_RST if subset_html(body, repo) is not None]
    assert len(fast) / len(CORPUS_RST) > 0.99
    assert sum(fast) / sum(len(body) for _, body, _ in CORPUS_RST) > 0.98


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("Just text,\nover two lines.\n", id="paragraph"),
        pytest.param("*em* **strong** ``code`` `cite` and\\ escaped \\*stars\\*\n", id="inline-markup"),
        pytest.param("\"*\" (*) '*' *x* 2*3 a*b*c *unclosed ``a\\b``\n", id="quoted-and-unclosed-start-strings"),
        pytest.param("`x <https://x.org/a>`_, `y <https://y.org>`__, `<https://z.org>`_\n", id="embedded-links"),
        pytest.param("`x <https://x.org/a>`_ and `x <https://x.org/b>`_\n", id="same-link-text-two-urls"),
        pytest.param("See https://x.org/a_b?c=1#d, mail me@x.org or mailto:a@b.org.\n", id="standalone-uris"),
        pytest.param("Fixed:thing, e.g.: note:, ftp://f.org/x\n", id="colons-that-are-not-links"),
        pytest.param(
            ":issue:`12` :pr:`Pull <13>` :user:`jane` :user:`Jane <jane-d>` :issue:`#14` :Issue:`15`\n",
            id="issue-and-user-roles",
        ),
        pytest.param(":func:`~a.b` :class:`!C` :meth:`x <y.z>` :ref:`label <t>` :doc:`d`\n", id="sphinx-roles"),
        pytest.param(":fixture:`tmp_path` :ghsa:`GHSA-1` :external+tox:ref:`x`\n", id="unknown-roles-as-text"),
        pytest.param(":pep:`8` :pep:`x` :rfc:`2616` :rfc:`2616#section-3` :code:`a\\b` :literal:`l`\n", id="std-roles"),
        pytest.param("- one\n- two\n  continued\n\n  second paragraph\n\n  - nested\n  - more\n", id="bullet-lists"),
        pytest.param("-   wide\n    bullet\n\n* star\n\n+ plus\n", id="bullet-widths-and-kinds"),
        pytest.param("1. one\n2. two\n\n#. auto\n\n3. restart\n", id="enumerated-lists"),
        pytest.param("2. starts at two\n3. three\n", id="enumerated-start"),
        pytest.param("-\n  item on the next line\n", id="empty-bullet-line"),
        pytest.param("Bug fixes\n---------\n\n- x\n\nSub\n~~~\n\ntext\n\nOther\n-----\n", id="section-titles"),
        pytest.param("=======\n Title\n=======\n\ntext\n", id="overlined-title"),
        pytest.param("Title *em* ``code``\n=============\n", id="short-underline-still-a-title"),
        pytest.param("Ab\n--\n", id="two-char-underline-is-a-title-too"),
        pytest.param("A long line\n--\n", id="too-short-underline-is-text"),
        pytest.param("Example::\n\n    x = 1 < 2\n      indented\n\n    y\n\nAfter.\n", id="literal-block"),
        pytest.param("Example ::\n\n  a\n\n::\n\n  b\n", id="literal-block-forms"),
        pytest.param(".. code-block:: python\n\n   def f():\n       return '<b>'\n", id="code-block"),
        pytest.param(".. code::\n\n   plain\n\n.. sourcecode:: c++\n\n   x\n", id="code-and-sourcecode"),
        pytest.param(".. note::\n\n   Noted *x*.\n\n   - a list\n", id="note"),
        pytest.param(".. warning:: on the line\n   and below\n\n.. caution:: c\n", id="warning-and-caution"),
        pytest.param(".. towncrier release notes start\n\ntext\n\n..\n\n- x\n\n  .. comment\n", id="comments"),
        pytest.param(".. _label:\n\nTarget before a paragraph.\n\n.. _end:\n", id="internal-targets"),
        pytest.param("For example::\n\n    a\n\nthen\n\n    tests/real/conftest.py\n    x -> y\n", id="block-quote"),
        pytest.param("term\n  definition\n\n`#1 <https://x.org/1>`_: fix\n  * a\n  * b\n", id="definition-list"),
        pytest.param("Tabs\tinside\n\n-\tafter a bullet\n", id="tabs"),
        pytest.param("Non\u00a0breaking\u00a0space and ``\u00a0``\n", id="no-break-space"),
        pytest.param('@user #12 <b>&amp; "quotes"\n', id="characters-docutils-escapes"),
        pytest.param("«*x*» (`y`) [**z**] —*w*—\n", id="unicode-punctuation-around-markup"),
    ],
)
def test_the_fast_path_renders_like_docutils(body: str) -> None:
    _assert_same_rendering(body)


def test_issue_roles_are_text_without_a_repository() -> None:
    _assert_same_rendering(":issue:`12` and :pr:`x <13>`\n", repo=None)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("+---+\n| a |\n+---+\n", id="grid-table"),
        pytest.param("=== ===\na   b\n=== ===\n", id="simple-table"),
        pytest.param(":field: value\n", id="field-list"),
        pytest.param("-o  option\n", id="option-list"),
        pytest.param(">>> 1 + 1\n2\n", id="doctest"),
        pytest.param("| line\n| block\n", id="line-block"),
        pytest.param("a [1]_\n\n.. [1] note\n", id="footnote"),
        pytest.param("|x|\n\n.. |x| replace:: y\n", id="substitution"),
        pytest.param("see name_\n", id="reference-to-a-named-target"),
        pytest.param("`text`_\n", id="phrase-reference-to-a-named-target"),
        pytest.param("`x <alias_>`_\n", id="alias"),
        pytest.param(".. _ext: https://x.org\n\ntext\n", id="external-target"),
        pytest.param("__ https://x.org\n", id="anonymous-target"),
        pytest.param("a\n\n----------\n\nb\n", id="transition"),
        pytest.param(".. versionadded:: 2.0\n\n   New.\n", id="unknown-directive"),
        pytest.param(".. code-block:: python\n   :linenos:\n\n   x\n", id="directive-option"),
        pytest.param(".. note::\n   :class: x\n\n   y\n", id="admonition-option"),
        pytest.param(".. image:: x.png\n", id="image"),
        pytest.param(".. raw:: html\n\n   <b>x</b>\n", id="raw"),
        pytest.param(".. include:: /etc/passwd\n", id="include"),
        pytest.param("    quoted\n\n    -- Author\n", id="block-quote-attribution"),
        pytest.param("term : classifier\n   definition\n", id="definition-classifier"),
        pytest.param("- item\n\n  Title\n  -----\n", id="title-inside-a-list"),
        pytest.param("A\n=\n\nB\n-\n\nC\n~\n\nD\n^\n\nE\n'\n", id="fifth-title-level"),
        pytest.param("A\n=\n\nB\n~\n\nC\n-\n\nD\n-\n\nE\n^\n\nF\n'\n\nG\n*\n", id="title-level-jump"),
        pytest.param("one line\ntwo lines\n  indented\n", id="unexpected-indentation"),
        pytest.param("- a\nb\n", id="list-ends-without-blank-line"),
        pytest.param("a. alpha\nb. beta\n", id="alphabetic-enumeration"),
        pytest.param("1) one\n", id="parenthesis-enumeration"),
        pytest.param("1. one\ntext\n", id="enumerator-that-is-text"),
        pytest.param("Text::\n\nNot indented.\n", id="no-literal-block-after-colons"),
        pytest.param(":sub:`x`\n", id="other-standard-role"),
        pytest.param("`text`:role:\n", id="suffix-role"),
        pytest.param(".. _a:\n\nTitle\n=====\n", id="target-before-a-title"),
        pytest.param("- x\n\n  .. _a:\n\n- y\n", id="target-in-a-list"),
        pytest.param("x" * 10_001 + "\n", id="line-over-docutils-limit"),
        pytest.param("a\x00b\n", id="nul-character"),
    ],
)
def test_constructs_outside_the_subset_go_to_docutils(body: str) -> None:
    assert subset_html(body, REPO) is None
    assert rst_html(body, REPO) == docutils_html(body, REPO)


# Random documents built from pieces that sit on the subset's edges: whenever the fast path takes one, docutils
# must render it the same.
_INLINE = [
    "word", "two words", "Fix", "2.0", "a_b", "__init__", "x*", "*", "**", "`", "``", "|", "_", "*em*", "**strong**",
    "``lit``", "``a\\b``", "`cite`", "`x <https://x.org/a>`_", "`x <https://y.org>`__", "`<https://z.org/q?a=1>`_",
    ":issue:`12`", ":pr:`Pull <13>`", ":user:`bob`", ":func:`~a.b`", ":ref:`t <x>`", ":fixture:`tmp`", ":pep:`8`",
    ":pep:`x`", ":rfc:`2616#s`", ":code:`a\\b`", ":Issue:`14`", ":class:`!X`", "\\*", "\\ ", "\\`", '"*"', "(*)",
    "'*'", "http://x.org/a_b*", "https://x.org/path_", "foo@bar.com", "Fixed:thing", "@user", "#12", "&amp;", "<b>",
    "a*b*c", "2*3", "*a **b*", "«*x*»", "—", "\u00a0", "x\ty", "(`#9 <https://g.com/9>`_)", "*a*b", "**a**b",
    "``x``y", ":a:`b`c", "mailto:x@y.org", "foo:bar", "e.g.:", "``*``", "*``x``*", "**x*", "*x**", "[x]", "...",
    "x::", "`x <https://a.org> y`_", "`x\n<https://b.org>`_", "*multi\nline*", "``multi\nline``", "`a\\`b`", "-",
]  # fmt: skip
_OUTSIDE = ["name_", "[1]_", "|sub|", "_`t`", ":sub:`x`", "`a`_", "`text`:role:", "| line", ":field: x", "----"]


def _inline(r: random.Random, most: int = 6) -> str:
    pool = _INLINE + (_OUTSIDE if r.random() < 0.1 else [])
    text = r.choice(pool)
    for _ in range(r.randint(0, most - 1)):
        text += r.choice([" ", " ", " ", "", "\n", ", ", ": ", "("]) + r.choice(pool)
    return text.strip("\n") or "x"


def _indent(text: str, width: int) -> str:
    return "\n".join(" " * width + line if line else line for line in text.split("\n"))


def _list(r: random.Random, depth: int) -> str:
    if r.random() < 0.6:
        markers = [r.choice("-*+•")] * 4
    else:
        first = r.choice([1, 1, 2])
        markers = [r.choice([f"{first + i}.", f"{first + i}.", "#.", "a."]) for i in range(4)]
    items = []
    for marker in markers[: r.randint(1, 4)]:
        head = marker + " " * r.randint(1, 3)
        lines = (_block(r, depth + 1) if r.random() < 0.3 else _inline(r)).split("\n")
        width = max(len(head) + r.choice([0, 0, 0, 1, -1]), 0)
        items.append("\n".join([head + lines[0], *(_indent(line, width) for line in lines[1:])]))
    return r.choice(["\n", "\n\n"]).join(items)


def _block(r: random.Random, depth: int = 0) -> str:
    kind = r.choice(["p", "p", "list", "list", "title", "literal", "code", "note", "explicit", "quote", "dl"])
    if depth > 2 or kind == "p":
        return _inline(r)
    if kind == "list":
        return _list(r, depth)
    if kind == "title":
        title = _inline(r, 3).replace("\n", " ")
        line = r.choice("=-~^*#'") * max(1, len(title) + r.choice([0, 0, 2, -1, -3]))
        return f"{line}\n{title}\n{line}" if r.random() < 0.3 else f"{title}\n{line}"
    if kind == "literal":
        code = _indent(
            r.choice(["a = 1 < 2", "x\n  y\n\nz", "<script>alert(1)</script>", "@user #12"]), r.randint(1, 4)
        )
        return r.choice(["Example::", "Example ::", "::", "Text: ::"]) + r.choice(["\n\n", "\n", "\n\n\n"]) + code
    if kind == "code":
        name = r.choice(["code-block", "code", "sourcecode", "Code-Block"])
        code = _indent(r.choice(["x = 1", "<b>&amp;</b>", "a\n\n  b", "@me #1 `x`_"]), 3)
        return f".. {name}::{r.choice(['', ' python', ' c++', ' a b'])}\n" + r.choice(["\n", ""]) + code
    if kind == "note":
        name = r.choice(["note", "warning", "tip", "caution", "danger", "Note", "versionadded"])
        first = r.choice(["", " " + _inline(r, 3).replace("\n", " ")])
        return f".. {name}::{first}\n" + r.choice(["\n", ""]) + _indent(_block(r, depth + 1), 3)
    if kind == "explicit":
        return r.choice([".. a comment", "..", ".. comment\n   continued", ".. _label:", ".. _release-1.0:"])
    if kind == "quote":
        return _indent(_block(r, depth + 1), r.choice([2, 4]))
    terms = ["term", "Term *x*", "`#1 <https://g.com/1>`_: fix", _inline(r, 2).replace("\n", " ")]
    items = [r.choice(terms) + "\n" + _indent(_block(r, depth + 1), r.choice([2, 4])) for _ in range(r.randint(1, 3))]
    return r.choice(["\n", "\n\n"]).join(items)


def _document(r: random.Random) -> str:
    text = _block(r)
    for _ in range(r.randint(0, 3)):
        text += r.choice(["\n\n", "\n\n", "\n", "\n\n\n"]) + _block(r)
    return text + r.choice(["", "\n", "\n\n"])


def _compare_random_documents(seed: int, count: int) -> int:
    r = random.Random(seed)
    fast = 0
    for _ in range(count):
        body = _document(r)
        rendered = subset_html(body, REPO)
        if rendered is not None:
            fast += 1
            assert _shape(rendered) == _shape(docutils_html(body, REPO)), body
    return fast


def test_random_documents_render_the_same_both_ways() -> None:
    assert _compare_random_documents(seed=2026, count=500) > 100


@pytest.mark.e2e
@pytest.mark.parametrize("seed", range(8))
def test_many_random_documents_render_the_same_both_ways(seed: int) -> None:
    assert _compare_random_documents(seed=seed, count=2500) > 500
