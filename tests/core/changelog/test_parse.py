"""Every header style and date form the issue lists, each from a small excerpt written for the test."""

from __future__ import annotations

import datetime as dt

import pytest

from core.changelog import detect_format, parse


def _versions(text: str, **kwargs: str) -> list[tuple[str, str | None]]:
    return [(e.version, e.date.isoformat() if e.date else None) for e in parse(text, **kwargs)]


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        pytest.param("# Changelog\n\n## 1.2.3\n\n- a\n\n## 1.2.2\n\n- b\n", "markdown",
                     [("1.2.3", None), ("1.2.2", None)], id="atx-bare"),
        pytest.param("1.2.3\n=====\n\n- a\n\n1.2.2\n-----\n\n- b\n", "markdown",
                     [("1.2.3", None), ("1.2.2", None)], id="setext"),
        pytest.param("## [Unreleased]\n\n## [1.2.3] - 2024-01-31\n### Added\n- a\n\n"
                     "[Unreleased]: https://x/compare/v1.2.3...HEAD\n[1.2.3]: https://x/compare/v1.2.2...v1.2.3\n",
                     "markdown", [("Unreleased", None), ("1.2.3", "2024-01-31")], id="keep-a-changelog"),
        pytest.param("## [1.2.3](https://github.com/o/r/compare/v1.2.2...v1.2.3) (2024-01-31)\n\n### Bug Fixes\n\n"
                     "* fix ([abc1234](https://github.com/o/r/commit/abc1234))\n", "markdown",
                     [("1.2.3", "2024-01-31")], id="conventional-changelog"),
        pytest.param("## <small>[1.2.4](https://x/compare/v1.2.3...v1.2.4) (2024-02-01)</small>\n\n- a\n",
                     "markdown", [("1.2.4", "2024-02-01")], id="conventional-small"),
        pytest.param("## 1.2.3\n\n### Patch Changes\n\n- abc1234: fix\n\n## 1.2.2\n\n### Minor Changes\n\n- b\n",
                     "markdown", [("1.2.3", None), ("1.2.2", None)], id="changesets"),
        pytest.param("1.2.3 / 2020-01-01\n==================\n\n  * fix\n\n1.2.2 / 2019-12-01\n==================\n",
                     "markdown", [("1.2.3", "2020-01-01"), ("1.2.2", "2019-12-01")], id="history-md"),
        pytest.param("Version 1.2.3\n-------------\n\nReleased 2024-03-04\n\n-   fix\n", "rst",
                     [("1.2.3", "2024-03-04")], id="rst-underline-date-next-line"),
        pytest.param("=============\n1.2.3 (2024-01-31)\n=============\n\n- a\n\n1.2.2\n~~~~~\n\n- b\n", "rst",
                     [("1.2.3", "2024-01-31"), ("1.2.2", None)], id="rst-overline-and-tilde"),
        pytest.param("Changes in 1.3.1 (22 Jan 2024)\n- fix\n\nChanges in 1.3 (18 Aug 2023)\n- b\n", "text",
                     [("1.3.1", "2024-01-22"), ("1.3", "2023-08-18")], id="plain-changes-in"),
        pytest.param("Noteworthy changes in release 9.4 (2023-08-29) [stable]\n\n  cp fixed\n", "text",
                     [("9.4", "2023-08-29")], id="gnu-news"),
        pytest.param("## Version 1.2.3\n\n- a\n\n## Release 1.2.2\n\n- b\n", "markdown",
                     [("1.2.3", None), ("1.2.2", None)], id="version-release-keywords"),
        pytest.param("# mypkg 2.0.0 (Jan 29, 2016)\n* a\n\n# mypkg 1.8.1 (12 January 2015)\n* b\n", "markdown",
                     [("2.0.0", "2016-01-29"), ("1.8.1", "2015-01-12")], id="pkg-name-version"),
        pytest.param("## mypkg@1.2.3\n\n- a\n\n## mypkg@1.2.2\n\n- b\n", "markdown",
                     [("1.2.3", None), ("1.2.2", None)], id="pkg-at-version"),
        pytest.param("## v1.2.3 (2024-01-31)\n\n- a\n", "markdown", [("1.2.3", "2024-01-31")], id="v-prefix-date"),
        pytest.param("**1.1.0** — <small>_August 29, 2016_</small> — [Diff](https://x/compare/1.0.1...1.1.0)\n\n"
                     "- a\n", "markdown", [("1.1.0", "2016-08-29")], id="bold-version"),
        pytest.param("v10.9.0 - August 21, 2026\n\n* [`899dbf1`](https://x) feat: thing\n", "markdown",
                     [("10.9.0", "2026-08-21")], id="plain-line-markdown"),
        pytest.param("2026.03.06, Version 1.52.1 (Stable), 1cfa32ff59c076ffb6ed735bbc8c18361558661f\n\n* a\n",
                     "text", [("1.52.1", "2026-03-06")], id="date-first-dotted"),
        pytest.param("## 29.11.2017 - 1.2.1\n* a\n", "markdown", [("1.2.1", "2017-11-29")], id="date-first-day-month"),
        pytest.param("CHANGES FROM 3.7c TO 3.8\n\n* a\n\nCHANGES FROM 2.1 TO 2.2, 10 April 2016\n\n* b\n", "text",
                     [("3.8", None), ("2.2", "2016-04-10")], id="from-to"),
        pytest.param("mypkg (1.2.3-1) unstable; urgency=low\n\n  * New upstream release.\n\n"
                     " -- Jane Doe <jane@example.org>  Mon, 04 Mar 2019 10:00:00 +0100\n", "text",
                     [("1.2.3-1", "2019-03-04")], id="debian"),
        pytest.param("= Changelog\n\n== 1.2.3 (2024-01-31)\n\n* a\n\n== 1.2.2\n\n* b\n", "asciidoc",
                     [("1.2.3", "2024-01-31"), ("1.2.2", None)], id="asciidoc"),
        pytest.param("<h2>1.2.3</h2>\n<p>a</p>\n\n<h2>1.2.2 (2024-01-02)</h2>\n", "markdown",
                     [("1.2.3", None), ("1.2.2", "2024-01-02")], id="html-heading"),
        pytest.param("[1.2.3]\n- a\n\n[1.2.2] - 2024-01-01\n- b\n", "markdown",
                     [("1.2.3", None), ("1.2.2", "2024-01-01")], id="bracketed-plain"),
        pytest.param("Version 1.2.3 (released 2024-01-01)\n  - a\n", "text", [("1.2.3", "2024-01-01")],
                     id="released-in-parens"),
        pytest.param("1.2.3 - 2024-01-01\n  - a\n\n1.2.2 - 2023-12-01\n  - b\n", "text",
                     [("1.2.3", "2024-01-01"), ("1.2.2", "2023-12-01")], id="plain-version-dash-date"),
        pytest.param("## 🎉 1.2.0 🎉\n- a\n", "markdown", [("1.2.0", None)], id="emoji"),
        pytest.param("## 2024.02.02\n- certs\n", "markdown", [("2024.02.02", "2024-02-02")], id="calendar-version"),
        pytest.param("## 2023.10.1 (2023-10-02)\n- a\n", "markdown", [("2023.10.1", "2023-10-02")],
                     id="calendar-version-with-date"),
        pytest.param("## v15 - 2022-01-01\n- a\n", "markdown", [("15", "2022-01-01")], id="integer-version"),
        pytest.param("#version 15.2.10\nUpdated dependencies\n", "markdown", [("15.2.10", None)], id="atx-no-space"),
        pytest.param("## v.2.6.2 - 16 Jun, 2016\n- a\n", "markdown", [("2.6.2", "2016-06-16")], id="v-dot-prefix"),
    ],
)  # fmt: skip
def test_header_styles(text: str, fmt: str, expected: list[tuple[str, str | None]]) -> None:
    assert _versions(text, format=fmt) == expected


@pytest.mark.parametrize(
    ("header", "date"),
    [
        pytest.param("## 1.0.0 (2024-01-31)", "2024-01-31", id="iso"),
        pytest.param("## 1.0.0 (2016/2/22 11:02 +07:00)", "2016-02-22", id="slashes-time-offset"),
        pytest.param("## 1.0.0 - 2024-01-31T23:30:00-05:00", "2024-01-31", id="iso-time-not-shifted"),
        pytest.param("## 1.0.0 (March 3, 2019)", "2019-03-03", id="month-day-year"),
        pytest.param("## 1.0.0 (March 15th, 2021)", "2021-03-15", id="month-ordinal"),
        pytest.param("## 1.0.0 (3 Mar 2019)", "2019-03-03", id="day-mon-year"),
        pytest.param("## 1.0.0 (21st February, 2024)", "2024-02-21", id="ordinal-day-month"),
        pytest.param("## 1.0.0 - February, 24 2019", "2019-02-24", id="month-comma-day"),
        pytest.param("## 1.0.0 - 16 Jun, 2016", "2016-06-16", id="day-mon-comma"),
        pytest.param("## 1.0.0 (Sep 05, 2018)", "2018-09-05", id="abbrev-month"),
        pytest.param("## 1.0.0 (2026.03.06)", "2026-03-06", id="dotted-ymd"),
        pytest.param("## 1.0.0 (29.11.2017)", "2017-11-29", id="dotted-dmy"),
        pytest.param("## 1.0.0 / 29-08-2016", "2016-08-29", id="dashed-dmy"),
        pytest.param("## 1.0.0 (12/31/2024)", "2024-12-31", id="us-slashes"),
        pytest.param("## 1.0.0 (19 March 98)", "1998-03-19", id="two-digit-year"),
        pytest.param("## 1.0.0 (2014.07.32)", None, id="impossible-date"),
        pytest.param("## 1.0.0 (xx Jan 2024)", None, id="placeholder-day"),
        pytest.param("## 1.0.0 - TBD", None, id="tbd"),
        pytest.param("## 1.0.0 [August, 1995]", None, id="month-only"),
    ],
)
def test_date_forms(header: str, date: str | None) -> None:
    assert _versions(f"{header}\n\n- a\n", format="markdown") == [("1.0.0", date)]


@pytest.mark.parametrize(
    ("body_line", "date"),
    [
        pytest.param("Released 2024-12-19", "2024-12-19", id="released"),
        pytest.param("Released: November 28, 2010", "2010-11-28", id="released-colon"),
        pytest.param("`2026-08-17`", "2026-08-17", id="code-date"),
        pytest.param("_Released 2016-12-21, codename Punsch_", "2016-12-21", id="with-codename"),
        pytest.param("Fixed a bug seen on 2024-01-01 in the parser.", None, id="date-in-prose"),
        pytest.param("Unreleased", None, id="unreleased"),
    ],
)
def test_date_on_the_line_after_the_header(body_line: str, date: str | None) -> None:
    assert _versions(f"## 1.0.0\n\n{body_line}\n\n- a\n", format="markdown") == [("1.0.0", date)]


@pytest.mark.parametrize(
    "heading",
    [
        pytest.param("## [Unreleased]", id="keep-a-changelog"),
        pytest.param("# unreleased", id="lower"),
        pytest.param("## master (unreleased)", id="branch"),
        pytest.param("## next / unreleased", id="next"),
        pytest.param("# Unreleased Changes", id="changes"),
        pytest.param("## [UNRELEASED]", id="upper"),
        pytest.param("TBD\n===", id="tbd-setext"),
    ],
)
def test_unreleased_sections(heading: str) -> None:
    text = f"{heading}\n\n- coming\n\n## 1.0.0 (2024-01-01)\n\n- a\n"
    assert _versions(text, format="markdown") == [("Unreleased", None), ("1.0.0", "2024-01-01")]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("- bump foo to 1.2.3 on March 3, 2019", id="bullet-version-date"),
        pytest.param("### Bug Fixes", id="sub-heading"),
        pytest.param("### 2.0 regressions", id="version-then-words"),
        pytest.param("#### Python 3.10 support", id="product-version-words"),
        pytest.param("### poetry-core ([`2.4.0`](https://x/releases/tag/2.4.0))", id="other-package"),
        pytest.param("Version 2.0.0 is the first major revision of this format.", id="prose-version"),
        pytest.param("21 May 2009", id="bare-date"),
        pytest.param("## 5.x", id="series"),
        pytest.param("### 5.4.x (2024-08-07 - 2024-11-11)", id="series-with-dates"),
        pytest.param("# 6454acf14 (2017-12-08)", id="commit-hash"),
        pytest.param("Changes since version 1.1.0:", id="since-previous"),
        pytest.param("    Version 1.2.6 is going to be a bugfix release.", id="indented"),
        pytest.param("## 0.0.0-semantically-released (September 12, 2016)", id="placeholder-version"),
        pytest.param(".. _release-3.0.0:", id="rst-label"),
        pytest.param("## Migrating to 2.0", id="migration-guide"),
    ],
)
def test_lines_that_are_not_headers(line: str) -> None:
    text = f"## 1.2.4 (2024-02-01)\n\n- first\n\n{line}\n\n- more\n"
    entries = parse(text, format="markdown")
    assert [e.version for e in entries] == ["1.2.4"]
    assert line.strip() in entries[0].body


def test_fenced_code_and_html_comments_hide_headers() -> None:
    text = (
        "<!--\n1.5.0 (2018-09-01)\n==================\n-->\n\n"
        "## 1.4.0\n\n```md\n## 1.3.9\n```\n\n~~~~\n# 1.3.8\n~~~~\n\n<!-- Prettier 1.3.7 -->\n\n## 1.3.0\n"
    )
    assert [e.version for e in parse(text, format="markdown")] == ["1.4.0", "1.3.0"]


def test_unclosed_fence_hides_nothing() -> None:
    assert [e.version for e in parse("## 1.1.0\n\n```\ncode\n\n## 1.0.0\n", format="markdown")] == ["1.1.0", "1.0.0"]


def test_body_is_the_source_text_between_headers() -> None:
    text = "# Changelog\n\npreamble\n\n## 1.1.0 (2024-02-01)\n\n### Fixed\n\n- a `b`\n\n## 1.0.0\n\n- c\n"
    entries = parse(text, format="markdown")
    assert [(e.title, e.body, e.line) for e in entries] == [
        ("1.1.0 (2024-02-01)", "### Fixed\n\n- a `b`", 5),
        ("1.0.0", "- c", 11),
    ]


def test_setext_body_starts_after_the_underline_and_anchor_goes_with_next_header() -> None:
    text = 'v2.0.0 / 2024-01-02\n===================\n\n* two\n\n<a name="1.0.0"></a>\n## 1.0.0\n\n* one\n'
    entries = parse(text, format="markdown")
    assert [(e.version, e.body) for e in entries] == [("2.0.0", "* two"), ("1.0.0", "* one")]


def test_oldest_first_prereleases_and_four_part_versions_keep_document_order() -> None:
    text = (
        "version 0.1 [March 29, 1995]\n  initial\n\n"
        "Version 1.0.7beta11 [May 7, 2000]\n  beta\n\n"
        "Version 1.2.4 and 1.0.14 [July 8, 2002]\n  shared\n\n"
        "Version 1.3.1.1 [TODO]\n"
    )
    assert _versions(text, format="text") == [
        ("0.1", "1995-03-29"),
        ("1.0.7beta11", "2000-05-07"),
        ("1.2.4", "2002-07-08"),
        ("1.3.1.1", None),
    ]


@pytest.mark.parametrize(
    ("header", "version"),
    [
        pytest.param("## [1.1.6, 1.2.8, 1.3.10] 2013-02-07", "1.1.6", id="list"),
        pytest.param("7.0.5,7.0.6\n----------", "7.0.5", id="comma"),
        pytest.param("6.5.{10,11,12}\n----------", "6.5.10", id="brace-expansion"),
    ],
)
def test_one_header_naming_several_versions_lists_the_first(header: str, version: str) -> None:
    assert [e.version for e in parse(f"{header}\n\n- a\n", format="markdown")] == [version]


def test_non_english_changelog() -> None:
    text = "---\norder: 6\ntitle: 更新日志\n---\n\n## 6.6.1\n\n`2026-08-17`\n\n- 🐞 修复 Button 样式问题。\n"
    assert [(e.version, e.date, e.body.splitlines()[-1]) for e in parse(text, format="markdown")] == [
        ("6.6.1", dt.date(2026, 8, 17), "- 🐞 修复 Button 样式问题。")
    ]


def test_series_title_is_not_a_version() -> None:
    text = "==========\nSphinx 1.7\n==========\n\nRelease 1.7.1 (released Feb 23, 2018)\n" + "=" * 37 + "\n\n* a\n"
    assert _versions(text, format="rst") == [("1.7.1", "2018-02-23")]


def test_product_named_header_must_recur_when_plain_headers_exist() -> None:
    text = "## 2.0.0 (2024-01-01)\n\n#### Support TypeScript 5.0\n\n- a\n\n## 1.0.0 (2023-01-01)\n"
    assert [e.version for e in parse(text, format="markdown")] == ["2.0.0", "1.0.0"]


def test_crlf_and_form_feed_keep_line_numbers() -> None:
    text = "## 1.1.0\r\n\r\n- a\x0c\r\n\r\n## 1.0.0\r\n- b\r\n"
    assert [(e.version, e.line, e.body) for e in parse(text, format="markdown")] == [
        ("1.1.0", 1, "- a\x0c"),
        ("1.0.0", 5, "- b"),
    ]


def test_text_without_versions_gives_nothing() -> None:
    assert parse("# Notes\n\nNothing released yet.\n", format="markdown") == []


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown changelog format"):
        parse("## 1.0.0\n", format="docx")


@pytest.mark.parametrize(
    ("filename", "text", "fmt"),
    [
        pytest.param("CHANGELOG.md", "", "markdown", id="md"),
        pytest.param("HISTORY.rst", "", "rst", id="rst"),
        pytest.param("NEWS.adoc", "", "asciidoc", id="adoc"),
        pytest.param("CHANGES.txt", "Version 1.0\n", "text", id="txt"),
        pytest.param("CHANGES", ".. _a:\n\n.. note:: x\n\n1.0\n---\n", "rst", id="sniffed-rst"),
        pytest.param("CHANGELOG", "# Changelog\n\n## 1.0.0\n\n- [x](https://x.org)\n", "markdown", id="sniffed-md"),
        pytest.param(None, "Changes in 1.0 (1 Jan 2020)\n", "text", id="no-name"),
    ],
)
def test_detect_format(filename: str | None, text: str, fmt: str) -> None:
    assert detect_format(filename, text) == fmt


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        pytest.param("# dplyr (development version)\n\n* new\n\n# dplyr 1.1.4\n\n* fix\n\n# dplyr 1.1.3\n\n* b\n",
                     "markdown", [("Unreleased", None), ("1.1.4", None), ("1.1.3", None)], id="r-news"),
        pytest.param("=== 5.20.0 / 2023-09-06\n\n* 1 minor enhancement:\n\n  * Added foo.\n", "text",
                     [("5.20.0", "2023-09-06")], id="ruby-history-rdoc"),
        pytest.param("Revision history for Foo\n\n1.23  Wed Jan 31 12:00:00 2024\n    - fix\n\n"
                     "1.22 2023-12-01T10:00:00Z\n    - b\n", "text",
                     [("1.23", "2024-01-31"), ("1.22", "2023-12-01")], id="perl-changes"),
        pytest.param("## 1.2.3（2024年1月31日）\n\n- 修复\n", "markdown", [("1.2.3", "2024-01-31")], id="cjk-date"),
        pytest.param("## 1.2.3 - Mon, 04 Mar 2019\n\n- a\n", "markdown", [("1.2.3", "2019-03-04")], id="weekday"),
        pytest.param("* Version 1.2.3 <2024-01-31>\n** Fixes\n- a\n* Version 1.2.2\n- b\n", "text",
                     [("1.2.3", "2024-01-31"), ("1.2.2", None)], id="org-outline"),
    ],
)  # fmt: skip
def test_more_real_world_styles(text: str, fmt: str, expected: list[tuple[str, str | None]]) -> None:
    filename = "CHANGES.org" if "org" in fmt or text.startswith("* ") else None
    assert _versions(text, format=fmt, **({"filename": filename} if filename else {})) == expected


def test_table_of_versions() -> None:
    text = (
        "# Changelog\n\n| Version | Date | Notes |\n|---|---|---|\n"
        "| 1.0.1 | 2023-02-01 | fix x |\n| **1.0.0** | Jan 1, 2023 | first |\n| 0.9 | | beta |\n"
    )
    assert [(e.version, e.date, e.body) for e in parse(text, format="markdown")] == [
        ("1.0.1", dt.date(2023, 2, 1), "fix x"),
        ("1.0.0", dt.date(2023, 1, 1), "first"),
        ("0.9", None, "beta"),
    ]


def test_a_support_matrix_in_a_changelog_is_not_a_table_of_versions() -> None:
    text = "## 2.0.0\n\n| Python | Supported |\n|---|---|\n| 3.12 | yes |\n| 3.11 | yes |\n\n## 1.0.0\n\n- a\n"
    assert [e.version for e in parse(text, format="markdown")] == ["2.0.0", "1.0.0"]


def test_many_unclosed_comments_and_fences_hide_nothing() -> None:
    text = "<!-- note\n" * 20_000 + "````\n```\n" * 10_000 + "## 1.0.0\n- a\n"
    assert [e.version for e in parse(text, format="markdown")] == ["1.0.0"]


@pytest.mark.parametrize("fmt", ["text", "rst", "markdown"])
def test_tilde_underlines_are_not_code_fences(fmt: str) -> None:
    text = "1.2.3 (2024-01-01)\n~~~~~~~~~~~~~~~~~~\n\n- a\n\n1.2.2 (2023-01-01)\n~~~~~~~~~~~~~~~~~~\n\n- b\n"
    assert _versions(text, format=fmt) == [("1.2.3", "2024-01-01"), ("1.2.2", "2023-01-01")]


def test_tilde_fence_after_prose_still_hides_headers() -> None:
    text = "## 1.0.0\n\nExample:\n~~~\n## 0.9.0\n~~~\n\n## 0.8.0\n"
    assert [e.version for e in parse(text, format="markdown")] == ["1.0.0", "0.8.0"]
