"""``changelogs crawl`` and ``changelogs backfill`` against the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli import crawl
from core.models import Outcome
from core.settings import Settings
from core.store import open_records
from sandbox import Sandbox


@pytest.fixture(scope="module")
def world_sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=7, packages=120) as sandbox:
        yield sandbox


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    crawl.register(app)
    return app


@pytest.fixture
def env(world_sandbox: Sandbox, data_dir: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        **world_sandbox.env,
        "CHANGELOGS_DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "GITHUB_TOKEN": "cli-token",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _record(data_dir: Path, repo: str) -> Any:
    async def read() -> Any:
        records = open_records(Settings(data_dir=data_dir))
        try:
            return await records.get_repo(repo)
        finally:
            await records.aclose()

    return asyncio.run(read())


def test_crawl_shows_what_it_found_and_stores_it(
    app: typer.Typer, env: dict[str, str], world_sandbox: Sandbox, data_dir: Path
) -> None:
    changelogs = world_sandbox.summary()["repos"]["changelog"]
    entry = next(e for e in changelogs if not e["directory"] and e["source"] not in ("huge", "xss"))
    result = CliRunner().invoke(app, ["crawl", f"https://github.com/{entry['repo']}"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and entry["path"] in result.output
    record = _record(data_dir, entry["repo"])
    assert record.outcome is Outcome.OK and record.source_path == entry["path"]


def test_crawl_of_something_that_is_no_github_repository_fails(app: typer.Typer, env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["crawl", "https://gitlab.com/a/b"])
    assert result.exit_code == 2
    assert "names no GitHub repository" in result.output


def test_crawl_reports_a_failure_and_exits_1(
    app: typer.Typer, env: dict[str, str], world_sandbox: Sandbox, data_dir: Path
) -> None:
    entry = world_sandbox.summary()["repos"]["changelog"][1]
    world_sandbox.set_faults("github", malformed_rate=1.0)
    try:
        result = CliRunner().invoke(app, ["crawl", entry["repo"]])
    finally:
        world_sandbox.set_faults("github", clear=True)
    assert result.exit_code == 1, result.output
    assert "failed" in result.output and "BadResponse" in result.output
    assert _record(data_dir, entry["repo"]).failures == 1


def test_backfill_crawls_every_listed_repository(
    app: typer.Typer, env: dict[str, str], world_sandbox: Sandbox, data_dir: Path, tmp_path: Path
) -> None:
    summary = world_sandbox.summary()
    repos = [p["repo"] for p in summary["packages"]["github"]][:12]
    listing = tmp_path / "repos.txt"
    listing.write_text("# a backfill\n\n" + "\n".join(repos) + "\nhttps://gitlab.com/not/github\n")
    result = CliRunner().invoke(app, ["backfill", str(listing), "--concurrency", "4"])
    assert result.exit_code == 0, result.output
    assert "skipped 'https://gitlab.com/not/github'" in result.output
    distinct = {r.lower() for r in repos}
    assert f"{len(distinct)} repositories" in result.output
    for repo in distinct:
        assert _record(data_dir, repo).outcome is not Outcome.FAILED
