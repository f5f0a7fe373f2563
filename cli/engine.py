"""``changelogs parse`` and ``changelogs range``: the changelog engine on a local file, as JSON on stdout.

Both print ``{"versions": [{"version", "date", "title", "body", "html"}, …]}`` (the contract the README gives),
plus the detected ``format`` and whether the file was ``truncated`` at the size limit. The scorer runs
``changelogs parse`` once per file, so this module imports only the engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

_Format = typer.Option("--format", help="markdown, rst, text or asciidoc (default: from the file name and text).")
_Repo = typer.Option("--repo", help="owner/name on GitHub: resolves relative links and links #123 references.")
_Path = typer.Option("--path", help="The file's path in --repo (default: the file's name).")
_Limit = typer.Option("--limit", help="Read at most this many bytes (default: CHANGELOGS_MAX_CHANGELOG_BYTES).")


def register(app: typer.Typer) -> None:
    """Add the ``parse`` and ``range`` commands to ``app``."""
    app.command("parse")(parse_command)
    app.command("range")(range_command)


def parse_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The changelog file.")],
    format: Annotated[str | None, _Format] = None,
    repo: Annotated[str | None, _Repo] = None,
    path: Annotated[str | None, _Path] = None,
    limit: Annotated[int | None, _Limit] = None,
) -> None:
    """Split FILE into versions and print them as JSON, in document order."""
    _emit(file, format=format, repo=repo, path=path, limit=limit, bounds=None)


def range_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The changelog file.")],
    from_version: Annotated[str, typer.Argument(metavar="A", help="The version you have.")],
    to_version: Annotated[str, typer.Argument(metavar="B", help="The version you upgrade to.")],
    format: Annotated[str | None, _Format] = None,
    repo: Annotated[str | None, _Repo] = None,
    path: Annotated[str | None, _Path] = None,
    limit: Annotated[int | None, _Limit] = None,
) -> None:
    """Print what changed upgrading from A to B: the versions after A up to B, newest first."""
    _emit(file, format=format, repo=repo, path=path, limit=limit, bounds=(from_version, to_version))


def _emit(
    file: Path,
    *,
    format: str | None,
    repo: str | None,
    path: str | None,
    limit: int | None,
    bounds: tuple[str, str] | None,
) -> None:
    from core import changelog
    from core.errors import ChangelogError
    from core.models import RepoRef

    if limit is None:
        from core.settings import load_settings

        limit = load_settings().max_changelog_bytes
    try:
        decoded = changelog.decode(file.read_bytes(), limit=limit)
    except ChangelogError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(1) from exc
    fmt = format or changelog.detect_format(file.name, decoded.text)
    try:
        ref = RepoRef.parse(repo) if repo else None
        entries = changelog.parse(decoded.text, format=fmt, filename=file.name)
        if bounds is not None:
            entries = changelog.version_range(entries, *bounds)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    definitions = changelog.link_definitions(decoded.text) if fmt == "markdown" else None
    versions = [
        {
            "version": entry.version,
            "date": entry.date.isoformat() if entry.date else None,
            "title": entry.title,
            "body": entry.body,
            "html": changelog.render(entry.body, format=fmt, repo=ref, path=path or file.name, definitions=definitions),
        }
        for entry in entries
    ]
    json.dump({"versions": versions, "format": fmt, "truncated": decoded.truncated}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
