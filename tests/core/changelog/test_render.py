"""Rendering one version's notes: GitHub's markdown, docutils' rst, plain text, and the sanitizer behind them."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from core.changelog import link_definitions, parse, render, sanitize
from core.changelog.rst import subset_html
from core.models import RepoRef

REPO = RepoRef("octo", "widgets")

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript&#x3A;alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">',
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<svg><a xlink:href='javascript:alert(1)'><text>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>body { display: none }</style>",
    '<p style="position:fixed;top:0">overlay</p>',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<form action="https://evil.example"><input name="password"><button formaction="x">go</button></form>',
    '<p onmouseover="alert(1)">hover</p>',
    "<details open ontoggle=alert(1)><summary>x</summary></details>",
    '<a href="https://ok.example" target="_blank" id="logout" class="btn">ok</a>',
    '<img src="https://ok.example/a.png" srcset="javascript:alert(1) 1x">',
    "<video><source onerror=alert(1)></video>",
    '<img src="x" onerror="alert(1)"',
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!--<img src=x onerror=alert(1)>-->",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](  javascript:alert(1)  )",
    "<javascript:alert(1)>",
    "![x](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
    "[x]: javascript:alert(1)\n\n[click][x]",
]
RST_PAYLOADS = [
    ".. raw:: html\n\n   <script>alert(1)</script>\n",
    ".. include:: /etc/passwd\n",
    ".. csv-table:: x\n   :file: /etc/passwd\n",
    "`click <javascript:alert(1)>`_\n",
    ".. image:: javascript:alert(1)\n",
    ":unknown:`<script>alert(1)</script>`\n",
]
# Payloads that keep to the subset ``core.changelog.rst`` renders itself (the test checks they do).
RST_SUBSET_PAYLOADS = [
    "`click <javascript:alert(1)>`__\n",
    "`x <JaVaScRiPt:alert(1)>`_\n",
    "`x <java\tscript:alert(1)>`_ `y <java\nscript:alert(1)>`__\n",
    "`x <data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==>`_\n",
    "`x <vbscript:msgbox(1)>`__\n",
    '`x <https://x.org/"onmouseover="alert(1)>`_\n',
    "`<script>alert(1)</script> <https://x.org>`_\n",
    "`<javascript:alert(1)>`_\n",
    "javascript:alert(1) and data:text/html,<script>alert(1)</script>\n",
    "``<script>alert(1)</script>`` and ``<img src=x onerror=alert(1)>``\n",
    "*<img src=x onerror=alert(1)>* **<svg onload=alert(1)>**\n",
    ":user:`<script>alert(1)</script>` :user:`x <javascript:alert(1)>`\n",
    ':issue:`<img src=x onerror=alert(1)>` :issue:`x <javascript:alert(1)>` :pr:`"><script>alert(1)</script>`\n',
    ":func:`<svg onload=alert(1)>` :ref:`<iframe src=x> <y>` :code:`<script>alert(1)</script>`\n",
    ':pep:`<script>` :rfc:`1#"><script>alert(1)</script>`\n',
    ".. code-block:: html\n\n   <script>alert(1)</script>\n",
    "Example::\n\n   <iframe src=x></iframe>\n",
    ".. note:: <script>alert(1)</script>\n",
    "Title <script>alert(1)</script>\n==================================\n",
    '- <a href="javascript:alert(1)">x</a>\n',
    "term <b onmouseover=alert(1)>\n   definition\n",
    ".. <script>alert(1)</script>\n\ntext\n",
    "   <style>body{display:none}</style>\n",
]
_FORBIDDEN_TAGS = {
    "script", "iframe", "object", "embed", "svg", "math", "style", "base", "meta", "form", "input", "button",
    "video", "source", "noscript", "link", "frame", "frameset", "applet", "textarea", "select",
}  # fmt: skip
_FORBIDDEN_ATTRIBUTES = {"style", "class", "id", "srcset", "srcdoc", "action", "formaction", "target", "xlink:href"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def _assert_safe(output: str) -> None:
    collector = _Collector()
    collector.feed(output)
    collector.close()
    for tag, attrs in collector.elements:
        assert tag not in _FORBIDDEN_TAGS, output
        for name, value in attrs:
            assert not name.startswith("on") and name not in _FORBIDDEN_ATTRIBUTES, output
            if name in ("href", "src", "cite"):
                cleaned = "".join(ch for ch in html.unescape(value or "") if ch > " ").lower()
                assert urlsplit(cleaned).scheme in ("", "http", "https", "mailto"), output
    lowered = output.lower()
    assert "<script" not in lowered and "root:x:0:0" not in lowered, output


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_xss_payload_survives_markdown(payload: str) -> None:
    _assert_safe(render(f"- before\n\n{payload}\n\n- after {payload}\n", format="markdown", repo=REPO, path="x.md"))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_xss_payload_survives_sanitize(payload: str) -> None:
    _assert_safe(sanitize(payload))


@pytest.mark.parametrize("payload", RST_PAYLOADS)
def test_no_xss_payload_survives_rst(payload: str) -> None:
    output = render(f"- before\n\n{payload}\n", format="rst", repo=REPO)
    _assert_safe(output)
    assert "system-message" not in output and "problematic" not in output


@pytest.mark.parametrize("payload", RST_SUBSET_PAYLOADS)
@pytest.mark.parametrize("repo", [pytest.param(REPO, id="repo"), pytest.param(None, id="no-repo")])
def test_no_xss_payload_survives_the_rst_fast_path(payload: str, repo: RepoRef | None) -> None:
    assert subset_html(payload, repo) is not None  # the fast path renders it, not docutils
    _assert_safe(render(f"- before\n\n{payload}", format="rst", repo=repo))


@pytest.mark.parametrize("payload", XSS_PAYLOADS[:5])
def test_no_xss_payload_survives_plain_text(payload: str) -> None:
    _assert_safe(render(payload, format="text"))


def test_links_get_rel_and_keep_safe_urls() -> None:
    output = render("[docs](https://example.org/a?b=1#c) <mailto:a@example.org>", format="markdown")
    assert 'href="https://example.org/a?b=1#c" rel="nofollow noopener noreferrer ugc"' in output
    assert 'href="mailto:a@example.org"' in output


def test_markdown_renders_like_github() -> None:
    body = "### Fixed\n\n- one\n  - nested\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\nsee https://example.org\n"
    output = render(body, format="markdown")
    assert "<h3>Fixed</h3>" in output
    assert "<li>one\n<ul>\n<li>nested</li>" in output
    assert "<td><del>2</del></td>" in output
    assert '<a href="https://example.org"' in output


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("# Title\n\n## Sub\n", ["<h3>Title</h3>", "<h4>Sub</h4>"], id="h1-becomes-h3"),
        pytest.param("#### Deep\n", ["<h3>Deep</h3>"], id="h4-becomes-h3"),
        pytest.param("## A\n\n###### B\n", ["<h3>A</h3>", "<h6>B</h6>"], id="clamped-at-h6"),
    ],
)
def test_headings_are_demoted_under_the_version_heading(body: str, expected: list[str]) -> None:
    output = render(body, format="markdown")
    assert all(part in output for part in expected), output


@pytest.mark.parametrize(
    ("body", "url"),
    [
        pytest.param("[g](guide.md)", "https://github.com/octo/widgets/blob/v2.0/docs/guide.md", id="sibling"),
        pytest.param("[r](../README.md)", "https://github.com/octo/widgets/blob/v2.0/README.md", id="parent"),
        pytest.param("[r](/LICENSE)", "https://github.com/octo/widgets/blob/v2.0/LICENSE", id="root"),
        pytest.param("[r](../../../../x.md)", "https://github.com/octo/widgets/blob/v2.0/x.md", id="above-root"),
        pytest.param("![i](img/a.png)", "https://github.com/octo/widgets/raw/v2.0/docs/img/a.png", id="image"),
        pytest.param('<img src="shot.png">', "https://github.com/octo/widgets/raw/v2.0/docs/shot.png", id="html-img"),
        pytest.param(
            '<a HREF="guide.md">g</a>', "https://github.com/octo/widgets/blob/v2.0/docs/guide.md", id="upper-case"
        ),
        pytest.param('<a href = "g.md">g</a>', "https://github.com/octo/widgets/blob/v2.0/docs/g.md", id="spaced"),
        pytest.param("<a href=g.md>g</a>", "https://github.com/octo/widgets/blob/v2.0/docs/g.md", id="unquoted"),
        pytest.param("<img SRC='a.png'>", "https://github.com/octo/widgets/raw/v2.0/docs/a.png", id="single-quoted"),
        pytest.param("[a](#anchor)", "#anchor", id="anchor"),
        pytest.param("[e](https://example.org/x)", "https://example.org/x", id="absolute"),
    ],
)
def test_relative_links_and_images_resolve_against_the_repository(body: str, url: str) -> None:
    assert f'="{url}"' in render(body, format="markdown", repo=REPO, path="docs/CHANGES.md", ref="v2.0")


def test_issue_and_user_references_are_linked_outside_code_and_links() -> None:
    body = "Fix #12 by @jane-doe, not `#13 @code` nor [#14](https://x.org/14), mail me@example.org, @babel/core\n"
    output = render(body, format="markdown", repo=REPO)
    assert '<a href="https://github.com/octo/widgets/issues/12"' in output
    assert '<a href="https://github.com/jane-doe"' in output
    assert "<code>#13 @code</code>" in output
    assert "issues/13" not in output and "issues/14" not in output
    assert "github.com/me" not in output and "github.com/babel" not in output


def test_issue_references_need_a_repository() -> None:
    assert "<a" not in render("Fix #12", format="markdown")


def test_rst_renders_with_sphinx_roles_and_demoted_sections() -> None:
    body = (
        "Released 2024-01-01\n\nBug fixes\n---------\n\n"
        "- Fix :issue:`5639` in :func:`flask.url_for` (``x``), see :pr:`Pull <12>` and :user:`jane`.\n"
    )
    output = render(body, format="rst", repo=REPO)
    assert "<h3>Bug fixes</h3>" in output
    assert '<a href="https://github.com/octo/widgets/issues/5639"' in output and ">#5639</a>" in output
    assert "<code>flask.url_for</code>" in output and "<code>x</code>" in output
    assert '<a href="https://github.com/octo/widgets/issues/12"' in output and ">Pull</a>" in output
    assert '<a href="https://github.com/jane"' in output


def test_plain_text_is_preformatted_and_escaped() -> None:
    assert render("a < b & c\n  indented", format="text") == "<pre>a &lt; b &amp; c\n  indented</pre>"


def test_asciidoc_falls_back_to_preformatted_text() -> None:
    assert render("* item", format="asciidoc") == "<pre>* item</pre>"


@pytest.mark.parametrize("payload", [p for p in XSS_PAYLOADS if p.startswith("<") and "alert" in p][:8])
def test_the_safety_check_rejects_raw_payloads(payload: str) -> None:
    with pytest.raises(AssertionError):
        _assert_safe(payload)


def test_link_references_defined_elsewhere_in_the_file_resolve() -> None:
    text = (
        "## 1.1.0\n\n- Fix ([@jane][]) and [#12], see [docs].\n\n[docs]: https://example.org/local\n\n"
        "## 1.0.0\n\n- First\n\n[@jane]: https://github.com/jane\n[#12]: https://example.org/12\n"
        "[docs]: https://example.org/global\n"
    )
    definitions = link_definitions(text)
    assert set(definitions) == {"docs", "@jane", "#12"}
    output = render(parse(text, format="markdown")[0].body, format="markdown", definitions=definitions)
    assert '<a href="https://github.com/jane"' in output and ">@jane</a>" in output
    assert '<a href="https://example.org/12"' in output
    assert '<a href="https://example.org/local"' in output and "global" not in output


def test_rendering_markdown_does_not_leak_memory() -> None:
    import psutil

    body = "### Fixed\n\n" + "- a change with `code`, **bold** and a [link](https://example.org) #12\n" * 2000
    process = psutil.Process()
    render(body, format="markdown")
    before = process.memory_info().rss
    for _ in range(100):  # ~14 MB of markdown: cmarkgfm's own wrapper kept ~200 MB of it
        render(body, format="markdown")
    assert process.memory_info().rss - before < 40_000_000
