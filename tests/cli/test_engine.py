"""``changelogs parse`` and ``changelogs range`` on local files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli import engine

CHANGELOG = """# Changelog

## [Unreleased]

## [2.0.0] - 2024-03-01
### Changed
- Dropped Python 3.8 (#42)

## [1.1.0] - 2024-02-01
- Added [docs](docs/guide.md)

## [1.0.0] - 2024-01-01
- First
"""


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    engine.register(app)
    return app


@pytest.fixture
def changelog_file(tmp_path: Path) -> Path:
    path = tmp_path / "CHANGELOG.md"
    path.write_bytes(CHANGELOG.replace("\n", "\r\n").encode("utf-16"))
    return path


def test_parse_prints_the_contract(app: typer.Typer, changelog_file: Path) -> None:
    result = CliRunner().invoke(app, ["parse", str(changelog_file), "--repo", "octo/widgets"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(v["version"], v["date"]) for v in data["versions"]] == [
        ("Unreleased", None),
        ("2.0.0", "2024-03-01"),
        ("1.1.0", "2024-02-01"),
        ("1.0.0", "2024-01-01"),
    ]
    second = data["versions"][1]
    assert set(second) == {"version", "date", "title", "body", "html"}
    assert second["title"] == "2.0.0 - 2024-03-01"
    assert second["body"] == "### Changed\n- Dropped Python 3.8 (#42)"
    assert '<a href="https://github.com/octo/widgets/issues/42"' in second["html"]
    assert "https://github.com/octo/widgets/blob/HEAD/docs/guide.md" in data["versions"][2]["html"]
    assert (data["format"], data["truncated"]) == ("markdown", False)


def test_range_prints_the_versions_after_a_up_to_b(app: typer.Typer, changelog_file: Path) -> None:
    result = CliRunner().invoke(app, ["range", str(changelog_file), "1.0.0", "2.0.0"])
    assert result.exit_code == 0, result.output
    assert [v["version"] for v in json.loads(result.stdout)["versions"]] == ["2.0.0", "1.1.0"]


def test_parse_reports_a_cut_at_the_limit(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "CHANGES.txt"
    path.write_text("Version 2.0 (2024-01-01)\n  - a\n\nVersion 1.0 (2023-01-01)\n  - b\n")
    result = CliRunner().invoke(app, ["parse", str(path), "--limit", "30"])
    data = json.loads(result.stdout)
    assert data["truncated"] is True and [v["version"] for v in data["versions"]] == ["2.0"]


def test_binary_file_exits_1(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "CHANGELOG"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    result = CliRunner().invoke(app, ["parse", str(path)])
    assert result.exit_code == 1 and "binary" in result.output


def test_range_with_a_bound_that_is_not_a_version_exits_2(app: typer.Typer, changelog_file: Path) -> None:
    result = CliRunner().invoke(app, ["range", str(changelog_file), "latest", "2.0.0"])
    assert result.exit_code == 2 and "not a version" in result.output
