"""The ``changelogs`` command: one sub-command module per concern under ``cli/``."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="changelogs",
    help="Release notes of every PyPI, RubyGems and npm package, crawled from GitHub.",
    no_args_is_help=True,
    add_completion=False,
)

# Each module adds its commands with register(app). They are imported when the command line starts, so a module
# must keep heavy imports (Prefect, FastAPI) inside its commands: `changelogs parse` runs once per file.
_COMMAND_MODULES = ("cli.crawl", "cli.engine", "cli.up")


def main() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)
    app()


if __name__ == "__main__":
    main()
