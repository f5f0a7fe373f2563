"""Choosing the changelog file from a repository listing, and which directories to list next."""

from __future__ import annotations

import pytest

from core.changelog import FileInfo, changelog_hint_path, dirs_to_list, find
from core.models import RepoRef


def _file(path: str, size: int | None = 5000) -> FileInfo:
    return FileInfo(path=path, name=path.rsplit("/", 1)[-1], size=size, type="file")


def _dir(path: str) -> FileInfo:
    return FileInfo(path=path, name=path.rsplit("/", 1)[-1], size=0, type="dir")


def _paths(listing: list[FileInfo], **kwargs: object) -> list[str]:
    return [info.path for info in find(listing, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "CHANGELOG.md", "changelog", "ChangeLog", "CHANGELOGS.md", "change-log.md", "Change_Log.txt", "CHANGES",
        "CHANGES.rst", "History.md", "HISTORY.txt", "NEWS", "NEWS.adoc", "RELEASES.md", "release-notes.md",
        "RELEASE_NOTES.markdown", "releasenotes.mkd", "whatsnew.rst", "UPDATES.text", "CHANGELOG-6.x.md",
        "changelog_12.rst",
    ],
)  # fmt: skip
def test_changelog_names_are_found(name: str) -> None:
    assert _paths([_file(name)]) == [name]


@pytest.mark.parametrize(
    "info",
    [
        pytest.param(_file("CHANGELOG.json"), id="json"),
        pytest.param(_file("changelog.sh"), id="script"),
        pytest.param(_file("CHANGELOG.md", size=99), id="under-100-bytes"),
        pytest.param(_dir("changelog"), id="directory"),
        pytest.param(_file("README.md"), id="readme"),
        pytest.param(_file("changelog.yml"), id="yaml"),
    ],
)
def test_non_candidates_are_skipped(info: FileInfo) -> None:
    assert find([info]) == []


def test_markdown_is_preferred_over_text_over_rst() -> None:
    listing = [_file("CHANGES.rst"), _file("CHANGES.txt"), _file("CHANGES.md"), _file("CHANGES")]
    assert _paths(listing)[0] == "CHANGES.md"
    assert _paths(listing)[-1] == "CHANGES.rst"


def test_name_order_then_depth() -> None:
    listing = [_file("NEWS.md"), _file("docs/changelog.md"), _file("HISTORY.md"), _file("CHANGELOG.md")]
    assert _paths(listing) == ["CHANGELOG.md", "docs/changelog.md", "HISTORY.md", "NEWS.md"]


def test_a_registry_hint_wins() -> None:
    listing = [_file("CHANGELOG.md"), _file("docs/news.rst")]
    assert _paths(listing, hints=["docs/news.rst"])[0] == "docs/news.rst"


def test_the_monorepo_package_directory_wins() -> None:
    listing = [_file("CHANGELOG.md"), _file("packages/cli/CHANGELOG.md"), _file("packages/core/CHANGELOG.md")]
    assert _paths(listing, directory="packages/cli/")[0] == "packages/cli/CHANGELOG.md"


def test_series_files_come_after_a_whole_history_newest_series_first() -> None:
    listing = [_file("CHANGELOG-5.x.md"), _file("CHANGELOG-10.x.md"), _file("CHANGELOG.md")]
    assert _paths(listing) == ["CHANGELOG.md", "CHANGELOG-10.x.md", "CHANGELOG-5.x.md"]


def test_series_files_in_a_changelog_directory() -> None:
    listing = [_file("doc/changes/1.7.rst"), _file("doc/changes/1.8.rst"), _file("doc/usage.rst")]
    assert _paths(listing) == ["doc/changes/1.8.rst", "doc/changes/1.7.rst"]


def test_unknown_size_is_not_refused() -> None:
    assert _paths([_file("CHANGELOG.md", size=None)]) == ["CHANGELOG.md"]


def test_dirs_to_list_when_the_root_has_no_candidate() -> None:
    root = [_file("README.md"), _dir("src"), _dir("docs"), _dir("doc"), _dir("changelog")]
    assert dirs_to_list(root, directory=None) == ["changelog", "docs", "doc"]


def test_dirs_to_list_is_frugal_when_the_root_has_a_candidate() -> None:
    root = [_file("CHANGELOG.md"), _dir("docs")]
    assert dirs_to_list(root, directory=None) == []
    assert dirs_to_list(root, directory="packages/vite/") == ["packages/vite"]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        pytest.param("https://github.com/o/r/blob/main/CHANGES.rst", "CHANGES.rst", id="blob"),
        pytest.param("https://github.com/O/R/blob/v1.0/docs/changelog.md#v1-0", "docs/changelog.md", id="fragment"),
        pytest.param("http://www.github.com/o/r/raw/HEAD/NEWS?plain=1", "NEWS", id="raw-query"),
        pytest.param("https://raw.githubusercontent.com/o/r/main/doc/en/changelog.rst", "doc/en/changelog.rst",
                     id="raw-host"),
        pytest.param("https://github.com/o/r.git/blob/main/HISTORY.md", "HISTORY.md", id="dot-git"),
        pytest.param("https://github.com/other/r/blob/main/CHANGES.rst", None, id="other-repo"),
        pytest.param("https://github.com/o/r/releases", None, id="releases-page"),
        pytest.param("https://github.com/o/r/tree/main/docs", None, id="directory"),
        pytest.param("https://example.org/changelog.html", None, id="other-site"),
        pytest.param("not a url", None, id="garbage"),
    ],
)  # fmt: skip
def test_changelog_hint_path(url: str, path: str | None) -> None:
    assert changelog_hint_path(url, RepoRef("o", "r")) == path
    assert changelog_hint_path(url, "o/r") == path
