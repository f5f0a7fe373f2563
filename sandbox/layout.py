"""The files of a generated repository: a realistic layout per ecosystem, its changelog, and look-alikes."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sandbox import texts
from sandbox._dice import Dice

if TYPE_CHECKING:
    from sandbox.world import Changelog, Repo, World

HUGE_SIZE = 50 * 1024 * 1024
_CHUNK = 1 << 20


class Blob:
    """A file's bytes, with git's blob SHA-1."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    @property
    def data(self) -> bytes:
        return self._data

    def chunks(self) -> Iterator[bytes]:
        """The bytes in pieces of at most 1 MB."""
        for start in range(0, self.size, _CHUNK):
            yield self.data[start : start + _CHUNK]

    @functools.cached_property
    def sha(self) -> str:
        digest = hashlib.sha1(b"blob %d\0" % self.size, usedforsecurity=False)
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()


class RepeatedBlob(Blob):
    """A very large file made of one text repeated, produced piece by piece instead of held in memory."""

    def __init__(self, unit: bytes, size: int) -> None:
        self._unit = unit
        self.size = size

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        left = self.size
        while left > 0:
            piece = self._unit[:left]
            left -= len(piece)
            yield piece


class Tree:
    """A repository's files at its current revision; directories are implied by the paths."""

    def __init__(self, files: dict[str, Blob]) -> None:
        self.files = files
        self.dirs = {""}
        for path in files:
            parts = path.split("/")
            self.dirs.update("/".join(parts[:k]) for k in range(1, len(parts)))

    def children(self, path: str) -> list[tuple[str, Blob | None]]:
        """The entries directly under directory ``path`` ("" for the root), sorted by name; blobs for files."""
        prefix = f"{path}/" if path else ""
        entries: dict[str, Blob | None] = {}
        for file_path, blob in self.files.items():
            if file_path.startswith(prefix):
                head, sep, _ = file_path[len(prefix) :].partition("/")
                entries[prefix + head] = None if sep else blob
        return sorted(entries.items(), key=lambda item: item[0].rsplit("/", 1)[-1].lower())


@functools.lru_cache(maxsize=256)
def build_tree(world: World, repo: Repo) -> Tree:
    """Every file of ``repo`` (an empty tree for repositories that are empty, gone or blocked)."""
    if repo.outcome in {"empty", "gone", "blocked"}:
        return Tree({})
    dice = Dice(world.seed, "layout", repo.key)
    text: dict[str, str | bytes] = {}
    if repo.monorepo:
        _monorepo(text, world, repo, dice)
    else:
        _single(text, world, repo, dice)
    _decoys(text, world, repo, dice)
    files = {path: Blob(body.encode() if isinstance(body, str) else body) for path, body in text.items()}
    for changelog in repo.changelogs:
        files[changelog.path] = _changelog_blob(world, repo, changelog)
    return Tree(files)


def _changelog_blob(world: World, repo: Repo, changelog: Changelog) -> Blob:
    if changelog.source == "huge":
        largest = max(world.cases, key=lambda c: len(c.data))
        return RepeatedBlob(largest.data, HUGE_SIZE)
    if changelog.source == "binary":
        return Blob(texts.binary_changelog(world.seed))
    if changelog.source == "xss":
        return Blob(texts.hostile_changelog(repo.full_name).encode())
    case = world.case_of(changelog)
    if case is not None:
        return Blob(case.data)
    package = world.package(changelog.member)
    key = (world.seed, "changelog", repo.key, changelog.member)
    return Blob(texts.keep_a_changelog(key, repo.full_name, package.versions, package.times).encode())


def _single(text: dict[str, str | bytes], world: World, repo: Repo, dice: Dice) -> None:
    package = world.package(repo.members[0])
    name, registry, version = package.name, package.registry, package.latest if package.versions else "0.0.0"
    ident = name.split("/")[-1].replace("-", "_").replace(".", "_").lower()
    year = dt.datetime.fromtimestamp(world.repo_dates(repo)[0], dt.UTC).year
    text["README.md" if registry != "pypi" or dice.chance(0.6) else "README.rst"] = texts.readme(
        name, package.description, registry
    )
    text["LICENSE.txt" if registry == "rubygems" else "LICENSE"] = texts.license_text(repo.owner, year)
    text[".gitignore"] = {"npm": "node_modules/\ndist/\n", "pypi": "__pycache__/\n*.egg-info/\n"}.get(
        registry, "/pkg/\n*.gem\n"
    )
    text[".github/workflows/ci.yml"] = texts.ci_workflow(registry)
    if dice.chance(0.3):
        text["CONTRIBUTING.md"] = "# Contributing\n\nPull requests are welcome. Run the tests first.\n"
    if registry == "npm":
        text["package.json"] = texts.package_json(name, version, package.description, repo.full_name, None)
        extension = "ts" if repo.language == "TypeScript" else "js"
        if extension == "ts":
            text["tsconfig.json"] = '{\n  "compilerOptions": {"strict": true, "outDir": "dist"}\n}\n'
        text[f"src/index.{extension}"] = texts.source_file(registry, name)
        text[f"test/index.test.{extension}"] = "import { test } from 'vitest';\n\ntest('works', () => {});\n"
    elif registry == "pypi":
        text["pyproject.toml"] = texts.pyproject(name, version, package.description, repo.full_name)
        text[f"src/{ident}/__init__.py"] = texts.source_file(registry, name)
        text[f"tests/test_{ident}.py"] = f"import {ident}\n\n\ndef test_import():\n    assert {ident}\n"
        if dice.chance(0.3):
            text["tox.ini"] = "[tox]\nenv_list = py3{10,11,12,13}\n"
    else:
        text[f"{name}.gemspec"] = texts.gemspec(name, version, package.description, repo.full_name)
        text["Gemfile"] = 'source "https://rubygems.org"\n\ngemspec\n'
        text["Rakefile"] = 'require "bundler/gem_tasks"\n'
        text[f"lib/{ident}.rb"] = texts.source_file(registry, name)
        text[f"lib/{ident}/version.rb"] = f'VERSION = "{version}"\n'
        text[f"spec/{ident}_spec.rb"] = f'RSpec.describe "{name}" do\n  it "loads" do\n  end\nend\n'
    if dice.chance(0.4) or any(c.path.startswith("docs/") for c in repo.changelogs):
        index = "docs/index.rst" if registry == "pypi" else "docs/index.md"
        text[index] = f"{name}\n{'=' * len(name)}\n\n{package.description}.\n"
        if registry == "pypi":
            text["docs/conf.py"] = f'project = "{name}"\nextensions = ["sphinx.ext.autodoc"]\n'


def _monorepo(text: dict[str, str | bytes], world: World, repo: Repo, dice: Dice) -> None:
    year = dt.datetime.fromtimestamp(world.repo_dates(repo)[0], dt.UTC).year
    text["README.md"] = f"# {repo.name}\n\nA monorepo of {len(repo.members)} packages.\n"
    text["LICENSE"] = texts.license_text(repo.owner, year)
    text["package.json"] = '{\n  "private": true,\n  "workspaces": ["packages/*"]\n}\n'
    text["pnpm-workspace.yaml"] = "packages:\n  - 'packages/*'\n"
    text["tsconfig.json"] = '{\n  "compilerOptions": {"strict": true}\n}\n'
    text[".github/workflows/ci.yml"] = texts.ci_workflow("npm")
    for member in repo.members:
        package = world.package(member)
        folder = package.directory or f"packages/{package.name.split('/')[-1]}"
        version = package.latest if package.versions else "0.0.0"
        text[f"{folder}/package.json"] = texts.package_json(
            package.name, version, package.description, repo.full_name, folder
        )
        text[f"{folder}/README.md"] = texts.readme(package.name, package.description, "npm")
        text[f"{folder}/src/index.ts"] = texts.source_file("npm", package.name)


def _decoys(text: dict[str, str | bytes], world: World, repo: Repo, dice: Dice) -> None:
    for decoy in repo.decoys:
        if decoy == "changelog.json":
            text["changelog.json"] = texts.changelog_json(world.package(repo.members[0]).versions)
        elif decoy == "scripts/changelog.sh":
            text["scripts/changelog.sh"] = texts.CHANGELOG_SCRIPT
        elif decoy == ".changeset":
            text[".changeset/README.md"] = texts.CHANGESET_README
            text[".changeset/config.json"] = texts.CHANGESET_CONFIG
            text[f".changeset/{dice.choice(('brave', 'quiet', 'sunny'))}-{dice.choice(('owls', 'cats'))}.md"] = (
                f'---\n"{world.package(repo.members[0]).name}": patch\n---\n\nFix the default export.\n'
            )
        elif decoy == "changelog.d":
            text[f"changelog.d/{dice.between(100, 999)}.bugfix.md"] = texts.TOWNCRIER_FRAGMENT
            text["changelog.d/.gitignore"] = "!.gitignore\n"
        elif decoy == "CHANGELOG.md":
            text["CHANGELOG.md"] = texts.SEE_RELEASES
