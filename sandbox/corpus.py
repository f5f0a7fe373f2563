"""The real changelog files the generated repositories serve, read from ``corpus/changelogs/`` (see SOURCES.md)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled changelog of the corpus: the file as it was in its repository, and its labels."""

    slug: str
    file: Path
    path: str  # the file's path in its original repository
    format: str  # "markdown" | "rst" | "text"
    newest_first: bool
    versions: tuple[str, ...]  # in document order, "Unreleased" left out
    dates: dict[str, str]

    @property
    def data(self) -> bytes:
        """The file's bytes, as in the original repository."""
        return _read(self.file)

    def releases(self) -> tuple[str, ...]:
        """The versions this changelog names, oldest first."""
        return self.versions[::-1] if self.newest_first else self.versions


@functools.cache
def _read(file: Path) -> bytes:
    return file.read_bytes()


@functools.cache
def load_cases(corpus_dir: Path = CORPUS_DIR) -> tuple[Case, ...]:
    """Every case under ``corpus_dir/changelogs``, sorted by slug; raises ``FileNotFoundError`` without one."""
    cases = []
    for expected_file in sorted((corpus_dir / "changelogs").glob("*/expected.json")):
        labels = json.loads(expected_file.read_text())
        (changelog,) = (p for p in expected_file.parent.iterdir() if p.name != "expected.json")
        cases.append(
            Case(
                slug=expected_file.parent.name,
                file=changelog,
                path=labels["path"],
                format=labels["format"],
                newest_first=labels["order"] == "newest-first",
                versions=tuple(v for v in labels["versions"] if v != "Unreleased"),
                dates=labels.get("dates", {}),
            )
        )
    if not cases:
        raise FileNotFoundError(f"no changelog cases under {corpus_dir / 'changelogs'}")
    return tuple(cases)
