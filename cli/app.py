"""The ``changelogs`` command: one sub-command per module under ``cli/``."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="changelogs",
    help="Release notes of every PyPI, RubyGems and npm package, crawled from GitHub.",
    no_args_is_help=True,
    add_completion=False,
)


def _register() -> None:
    # Imported here so that `changelogs parse` does not pay for Prefect's import.
    from cli import engine

    engine.register(app)
    try:
        from cli import up
    except ImportError:  # pragma: no cover - only while a command module is being written
        return
    up.register(app)


def main() -> None:
    _register()
    app()
