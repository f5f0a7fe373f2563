"""Version order as changelogs write versions, and what changed between two of them."""

from __future__ import annotations

import pytest

from core.changelog import newest, parse, version_key, version_range
from core.models import ChangelogEntry


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        pytest.param("1.2.3", "1.2.10", id="numeric-not-lexical"),
        pytest.param("1.2.4-beta.1", "1.2.4", id="semver-pre"),
        pytest.param("1.2.4rc1", "1.2.4", id="pep440-rc"),
        pytest.param("1.2.4a1", "1.2.4b1", id="alpha-beta"),
        pytest.param("0.13.0.dev2", "0.13.0a1", id="dev-before-alpha"),
        pytest.param("1.2.4", "1.2.4.post1", id="post"),
        pytest.param("3.7", "3.7c", id="letter-release"),
        pytest.param("3.7b", "3.7c", id="letter-order"),
        pytest.param("3.0.9", "3.0.9.1", id="four-part"),
        pytest.param("2.0.0-alpha-2", "2.0.0-rc.1", id="hyphenated"),
        pytest.param("v1.9.9", "2.0.0", id="v-prefix"),
    ],
)
def test_version_key_orders(older: str, newer: str) -> None:
    assert version_key(older) < version_key(newer)  # type: ignore[operator]


def test_version_key_ignores_trailing_zeros_and_rejects_words() -> None:
    assert version_key("1.0") == version_key("1.0.0") == version_key("v1")
    assert version_key("Unreleased") is None


def _entries(*versions: str) -> list[ChangelogEntry]:
    return [ChangelogEntry(v, None, v, f"notes of {v}") for v in versions]


def test_range_is_by_version_not_position_and_newest_first() -> None:
    # Release lines interleave by date, as in mongoose or tailwindcss.
    entries = _entries("Unreleased", "8.24.4", "9.9.3", "8.24.3", "9.9.2", "9.0.0", "8.0.0", "9.0.0-rc1")
    picked = version_range(entries, "8.24.3", "9.9.3")
    assert [e.version for e in picked] == ["9.9.3", "9.9.2", "9.0.0", "9.0.0-rc1", "8.24.4"]


def test_range_excludes_from_includes_to_and_accepts_reversed_bounds() -> None:
    entries = _entries("1.3.0", "1.2.0", "1.1.0", "1.0.0")
    assert [e.version for e in version_range(entries, "1.1.0", "1.3.0")] == ["1.3.0", "1.2.0"]
    assert [e.version for e in version_range(entries, "v1.3.0", "1.1")] == ["1.3.0", "1.2.0"]


def test_range_counts_a_duplicated_version_once() -> None:
    entries = _entries("2.0.0", "1.5.0", "1.5.0", "1.0.0")
    assert [e.body for e in version_range(entries, "1.0.0", "2.0.0")] == ["notes of 2.0.0", "notes of 1.5.0"]


def test_range_refuses_a_bound_that_is_not_a_version() -> None:
    with pytest.raises(ValueError, match="not a version: 'latest'"):
        version_range(_entries("1.0.0"), "latest", "1.0.0")


def test_range_on_an_oldest_first_file() -> None:
    text = "## 1.0.0\n- one\n\n## 1.1.0\n- two\n\n## 2.0.0\n- three\n"
    assert [e.version for e in version_range(parse(text, format="markdown"), "1.0.0", "2.0.0")] == ["2.0.0", "1.1.0"]


def test_newest_picks_the_highest_version() -> None:
    assert newest(_entries("Unreleased", "1.9.0", "2.0.0-rc1", "1.10.0")).version == "2.0.0-rc1"  # type: ignore[union-attr]
    assert newest(_entries("Unreleased")) is None
