"""GitHub Releases as the changelog of repositories that keep no file."""

from __future__ import annotations

import datetime as dt

import pytest

from core.changelog import from_releases, tag_to_version
from core.models import Release


@pytest.mark.parametrize(
    ("tag", "package", "version"),
    [
        pytest.param("v1.2.3", None, "1.2.3", id="v"),
        pytest.param("1.2.3", None, "1.2.3", id="bare"),
        pytest.param("pkg@1.2.3", "pkg", "1.2.3", id="pkg-at"),
        pytest.param("@scope/pkg@1.2.3", "@scope/pkg", "1.2.3", id="scoped"),
        pytest.param("@scope/pkg@1.2.3", None, "1.2.3", id="scoped-any-package"),
        pytest.param("pkg-v1.2.3", "pkg", "1.2.3", id="pkg-dash-v"),
        pytest.param("my_pkg-1.2.3", "my-pkg", "1.2.3", id="normalised-name"),
        pytest.param("py-0.18.0", "polars", "0.18.0", id="language-channel"),
        pytest.param("release-2.0.0-rc.1", None, "2.0.0-rc.1", id="release-prefix"),
        pytest.param("refs/tags/v2.0.0b1", None, "2.0.0b1", id="ref"),
        pytest.param("v15", None, "15", id="integer"),
        pytest.param("other@1.2.3", "pkg", None, id="other-package"),
        pytest.param("@scope/other@1.2.3", "@scope/pkg", None, id="other-scoped-package"),
        pytest.param("latest", None, None, id="word"),
        pytest.param("build-42", None, None, id="counter"),
    ],
)
def test_tag_to_version(tag: str, package: str | None, version: str | None) -> None:
    assert tag_to_version(tag, package=package) == version


def _release(tag: str, published: dt.datetime | None, *, draft: bool = False, name: str | None = None) -> Release:
    return Release(tag, name, f"notes of {tag}", draft, False, published)


def test_from_releases_skips_drafts_and_other_packages_and_dates_in_utc() -> None:
    releases = [
        _release("pkg@2.0.0", None, draft=True),
        # 23:30 on 31 January in New York is 1 February in UTC.
        _release("pkg@1.1.0", dt.datetime(2024, 1, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))),
        _release("other@9.0.0", dt.datetime(2024, 2, 5, tzinfo=dt.UTC)),
        _release("pkg@1.0.0", dt.datetime(2023, 12, 1, 8, 0, tzinfo=dt.UTC), name="First!"),
    ]
    entries = from_releases(releases, package="pkg")
    assert [(e.version, e.date, e.title, e.body) for e in entries] == [
        ("1.1.0", dt.date(2024, 2, 1), "pkg@1.1.0", "notes of pkg@1.1.0"),
        ("1.0.0", dt.date(2023, 12, 1), "First!", "notes of pkg@1.0.0"),
    ]


def test_from_releases_orders_newest_first_and_keeps_undated_last() -> None:
    releases = [
        _release("v1.0.0", dt.datetime(2023, 1, 1, tzinfo=dt.UTC)),
        _release("v0.9.0", None),
        _release("v2.0.0", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
    ]
    assert [e.version for e in from_releases(releases)] == ["2.0.0", "1.0.0", "0.9.0"]
