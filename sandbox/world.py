"""The generated world the fakes serve: packages on npm, PyPI and RubyGems, and the GitHub repositories they name.

Everything is derived from ``(seed, index)``. At start-up only what lookups need is planned for every package (its
registry, name and repository name: about 0.4 KB each); versions, metadata, repository layouts and file contents
are derived on demand and cached in bounded caches, so a 100,000-package world starts in seconds. Publishing adds
to the world (new versions, new packages, feed rows); nothing derived from the seed ever changes.
"""

from __future__ import annotations

import bisect
import functools
import random
import re
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sandbox import _words
from sandbox._dice import Dice
from sandbox.control import Control
from sandbox.corpus import CORPUS_DIR, Case, load_cases

REGISTRIES = ("npm", "pypi", "rubygems")
OUTCOMES = ("changelog", "releases-only", "no-changelog", "gone", "blocked", "empty")
NO_REPO_REASONS = ("no-repository", "gitlab", "bitbucket", "codeberg", "website", "github-pages", "gist")
SPECIALS = {1: "huge", 2: "binary", 3: "xss"}  # package index -> the odd repository it points at

REPO_ID_BASE = 30_000_000
NPM_SEQ_BASE = 40_000_000
PYPI_SERIAL_BASE = 25_000_000
GROUP_SIZE = 16  # monorepo members of group g are drawn among packages [16 g, 16 g + 16)
MAX_VERSIONS = 100
_DAY = 86_400.0
_YEAR = 365 * _DAY


def _uniform(**weights: float) -> dict[str, float]:
    return {key.replace("_", "-"): value for key, value in weights.items()}


@dataclass(frozen=True)
class Mix:
    """The proportions of the generated world. Weights in one mapping need not sum to 1."""

    registries: Mapping[str, float] = field(default_factory=lambda: {"npm": 0.5, "pypi": 0.3, "rubygems": 0.2})
    # share of packages whose metadata names no GitHub repository, and why
    no_repo: float = 0.12
    no_repo_reasons: Mapping[str, float] = field(
        default_factory=lambda: _uniform(
            no_repository=0.45, gitlab=0.15, bitbucket=0.06, codeberg=0.04, website=0.18, github_pages=0.07, gist=0.05
        )
    )
    # share of npm packages published from a monorepo (packages/<name>/ of a shared repository)
    monorepo: float = 0.08
    # what a crawl of a single-package repository finds
    outcomes: Mapping[str, float] = field(
        default_factory=lambda: _uniform(
            changelog=0.50, releases_only=0.15, no_changelog=0.24, gone=0.07, blocked=0.01, empty=0.03
        )
    )
    renamed: float = 0.05  # of repositories that still exist: moved to a new owner or name (301)
    authored: float = 0.4  # of changelogs: keep-a-changelog files the sandbox writes and extends on publish
    in_docs: float = 0.12  # of changelogs: kept under docs/ rather than at the root
    decoys: float = 0.25  # of repositories: look-alike files that are not changelogs
    releases_too: float = 0.3  # of changelog repositories: GitHub Releases as well


class _Plan(NamedTuple):
    registry: str
    name: str
    repo_key: int  # -1: no GitHub repository
    reason: str  # why there is no GitHub repository, "" when there is one
    special: str  # "huge" | "binary" | "xss" | ""


class _RepoPlan(NamedTuple):
    owner: str
    name: str
    alias: str  # the "owner/name" it had before a rename, "" when never renamed
    outcome: str
    special: str


@dataclass(frozen=True, slots=True)
class Changelog:
    """A changelog file in a repository."""

    path: str
    format: str  # markdown | rst | text
    source: str  # "authored" | "corpus:<slug>" | "huge" | "binary" | "xss"
    member: int  # the package it belongs to (monorepos keep one per package directory)


@dataclass(frozen=True, slots=True)
class Package:
    """One package of one registry, with its history (oldest version first)."""

    index: int
    registry: str
    name: str
    description: str
    author: str
    license: str
    versions: tuple[str, ...]
    times: tuple[float, ...]  # upload time of each version, epoch seconds
    repo: str | None  # "owner/name" as the metadata writes it (the old name of a renamed repository)
    repo_key: int | None
    directory: str | None  # the package's directory inside a monorepo
    link: str  # how the metadata writes the repository (see the registry modules)
    no_repo_reason: str | None
    foreign_url: str | None  # the non-GitHub home of a package with no GitHub repository
    huge: bool  # npm: a multi-megabyte document

    @property
    def latest(self) -> str:
        return self.versions[-1]


@dataclass(frozen=True, slots=True)
class Release:
    """A GitHub Release."""

    id: int
    tag: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    created: float
    published: float | None
    version: str


@dataclass(frozen=True, slots=True)
class Repo:
    """A GitHub repository of the world."""

    key: int
    id: int
    owner: str
    name: str
    alias: str | None  # the old "owner/name" packages still point at, when renamed
    outcome: str
    special: str | None
    members: tuple[int, ...]  # indices of the packages published from it
    changelogs: tuple[Changelog, ...]
    tag_style: str | None  # None: no GitHub Releases
    decoys: tuple[str, ...]
    default_branch: str
    language: str
    revision: int  # bumped whenever a publish changes its files or releases

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def monorepo(self) -> bool:
        return self.key % 2 == 1


class ChangeRow(NamedTuple):
    """One row of npm's replication feed."""

    seq: int
    id: str
    rev: str
    deleted: bool


class LogRow(NamedTuple):
    """One row of PyPI's journal, as ``changelog_since_serial`` returns it."""

    name: str
    version: str | None
    timestamp: int
    action: str
    serial: int


def canonical_pypi(name: str) -> str:
    """PEP 503 normalisation: what PyPI matches project names on."""
    return re.sub(r"[-_.]+", "-", name).lower()


def bump(version: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """The next patch release after ``version`` that is not in ``taken``."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    parts = [int(p) for p in match.group().split(".")] if match else [0, 0]
    parts += [0] * (3 - len(parts))
    while True:
        parts[-1] += 1
        candidate = ".".join(map(str, parts))
        if candidate not in taken:
            return candidate


def _semver_history(dice: Dice, count: int, registry: str) -> list[str]:
    major, minor, patch = dice.choice((0, 0, 1, 1, 1, 2, 3, 4, 5)), dice.below(6), 0
    versions: list[str] = []
    while len(versions) < count:
        roll = dice.random()
        if roll < 0.04 and len(versions) < count - 1:
            # a pre-release before the next minor, spelled the registry's way
            pre = {"npm": "-beta.1", "pypi": "b1", "rubygems": ".beta1"}[registry]
            versions.append(f"{major}.{minor + 1}.0{pre}")
        versions.append(f"{major}.{minor}.{patch}")
        roll = dice.random()
        if roll < 0.7:
            patch += 1
        elif roll < 0.95:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return versions[:count]


class World:
    """A deterministic world of packages and repositories generated from ``seed``.

    Parameters:
        seed: the seed every name, layout and text is derived from.
        packages: how many packages exist at start (split between registries by ``mix``).
        npm_changes: rows pre-filled in npm's change feed (default: twice the npm packages).
        pypi_events: rows pre-filled in PyPI's journal (default: three per PyPI package).
        mix: the proportions (see ``Mix``).
        specials: include the huge, binary and XSS changelogs (packages 1, 2 and 3).
        now: the moment history ends (default: the current time); pass it to get identical timestamps.
        rubygems_rps: requests per second per client before RubyGems answers 429.
        corpus_dir: where ``changelogs/`` lives.
    """

    def __init__(
        self,
        seed: int = 1,
        packages: int = 300,
        *,
        npm_changes: int | None = None,
        pypi_events: int | None = None,
        mix: Mix | None = None,
        specials: bool = True,
        now: float | None = None,
        rubygems_rps: float = 10.0,
        corpus_dir: Path = CORPUS_DIR,
    ) -> None:
        self.seed = seed
        self.size = packages
        self.mix = mix or Mix()
        self.specials = specials
        self.now = time.time() if now is None else now
        self.rubygems_rps = rubygems_rps
        self.cases: tuple[Case, ...] = load_cases(corpus_dir)
        self._cases_by_slug = {case.slug: case for case in self.cases}
        self.control = Control(seed)

        self._plans: list[_Plan] = []
        self._repos: dict[int, _RepoPlan] = {}
        self._repo_index: dict[str, int] = {}  # lower-case "owner/name" (current or old) -> repo key
        self._members: dict[int, list[int]] = defaultdict(list)  # repo key -> package indices
        self._names: dict[str, dict[str, int]] = {r: {} for r in REGISTRIES}  # registry -> lookup key -> index
        self._by_registry: dict[str, list[int]] = {r: [] for r in REGISTRIES}
        for index in range(packages):
            self._add(index)

        self._published: dict[int, list[tuple[str, float]]] = defaultdict(list)
        self._revisions: dict[int, int] = defaultdict(int)
        self._pushed: dict[int, float] = {}
        self._npm_prefill = 2 * len(self._by_registry["npm"]) if npm_changes is None else npm_changes
        self._pypi_prefill = 3 * len(self._by_registry["pypi"]) if pypi_events is None else pypi_events
        self._npm_tail: list[ChangeRow] = []
        self._pypi_tail: list[LogRow] = []
        self._pypi_published: dict[int, int] = {}  # package -> serial of its newest published journal row
        self._gem_events: list[tuple[int, str]] = []  # (package, version) published, oldest first
        self._rng = random.Random(seed)
        self._rotation = 0
        self._last_publish = self.now
        self._package = functools.lru_cache(maxsize=8192)(self._derive_package)
        self._repo = functools.lru_cache(maxsize=8192)(self._derive_repo)
        self._source = functools.lru_cache(maxsize=1 << 17)(self._derive_source)

    # ---- planning: what every lookup needs, done for every package at start ----

    def _add(self, index: int, registry: str | None = None, name: str | None = None) -> int:
        dice = Dice(self.seed, "plan", index)
        special = SPECIALS.get(index, "") if self.specials and index < self.size else ""
        registry = registry or dice.weighted(self.mix.registries)
        owner = dice.choice(_words.OWNERS)
        name = self._claim_name(registry, name or self._package_name(dice, registry, owner))
        reason, repo_key = "", -1
        if not special and dice.chance(self.mix.no_repo):
            reason = dice.weighted(self.mix.no_repo_reasons)
        elif not special and registry == "npm" and dice.chance(self.mix.monorepo):
            repo_key = 2 * (index // GROUP_SIZE) + 1
            if repo_key not in self._repos:
                self._plan_group(repo_key)
        else:
            repo_key = 2 * index
            self._plan_repo(repo_key, dice, owner, name, registry, special)
        self._plans.append(_Plan(registry, name, repo_key, reason, special))
        self._names[registry][canonical_pypi(name) if registry == "pypi" else name] = index
        self._by_registry[registry].append(index)
        if repo_key >= 0:
            self._members[repo_key].append(index)
        return index

    def _package_name(self, dice: Dice, registry: str, owner: str) -> str:
        qualifier, noun = dice.choice(_words.QUALIFIERS), dice.choice(_words.NOUNS)
        style = dice.random()
        if registry == "npm":
            if style < 0.12:
                return f"@{owner}/{noun}"
            return f"{qualifier}-{noun}" if style < 0.8 else f"{noun}-{dice.choice(_words.NOUNS)}"
        if registry == "pypi":
            if style < 0.15:
                return f"{qualifier.capitalize()}{noun.capitalize()}"
            if style < 0.25:
                return f"{qualifier}_{noun}"
            if style < 0.3:
                return f"{qualifier}.{noun}"
            return f"py{noun}" if style < 0.4 else f"{qualifier}-{noun}"
        return f"{qualifier}_{noun}" if style < 0.6 else f"{qualifier}-{noun}"

    def _claim_name(self, registry: str, name: str) -> str:
        taken = self._names[registry]
        candidate, suffix = name, 1
        while (canonical_pypi(candidate) if registry == "pypi" else candidate) in taken:
            suffix += 1
            candidate = f"{name}{suffix}" if name[-1].isalpha() and registry == "pypi" else f"{name}-{suffix}"
        return candidate

    def _claim_repo(self, owner: str, name: str) -> str:
        candidate, suffix = name, 1
        while f"{owner}/{candidate}".lower() in self._repo_index:
            suffix += 1
            candidate = f"{name}-{suffix}"
        return candidate

    def _plan_repo(self, key: int, dice: Dice, owner: str, package: str, registry: str, special: str) -> None:
        base = package.split("/")[-1]
        if registry == "pypi" and dice.chance(0.5):
            base = canonical_pypi(base)
        elif registry == "npm" and dice.chance(0.1):
            base = f"{base}.js" if dice.chance(0.5) else f"node-{base}"
        name = self._claim_repo(owner, base)
        outcome = {"huge": "too-large", "binary": "not-a-changelog", "xss": "changelog"}.get(special, "")
        outcome = outcome or dice.weighted(self.mix.outcomes)
        alias = ""
        if not special and outcome in {"changelog", "releases-only", "no-changelog"} and dice.chance(self.mix.renamed):
            alias = f"{owner}/{name}"
            if dice.chance(0.5):
                owner = self._claim_owner_move(dice, owner, name)
            else:
                name = self._claim_repo(owner, f"{name}-{dice.choice(('js', 'py', 'rb', 'legacy', 'core'))}")
            self._repo_index[alias.lower()] = key
        self._repo_index[f"{owner}/{name}".lower()] = key
        self._repos[key] = _RepoPlan(owner, name, alias, outcome, special)

    def _claim_owner_move(self, dice: Dice, owner: str, name: str) -> str:
        for _ in range(len(_words.OWNERS)):
            new_owner = dice.choice(_words.OWNERS)
            if new_owner != owner and f"{new_owner}/{name}".lower() not in self._repo_index:
                return new_owner
        return f"{owner}-archive"

    def _plan_group(self, key: int) -> None:
        dice = Dice(self.seed, "group", key)
        owner = dice.choice(_words.OWNERS)
        name = self._claim_repo(owner, f"{dice.choice(_words.QUALIFIERS)}-{dice.choice(_words.NOUNS)}")
        self._repo_index[f"{owner}/{name}".lower()] = key
        self._repos[key] = _RepoPlan(owner, name, "", "changelog", "")

    # ---- derived on demand ----

    @property
    def package_count(self) -> int:
        """Packages in the world now, including those published since start."""
        return len(self._plans)

    def package(self, index: int) -> Package:
        """Package ``index``; raises ``IndexError`` when there is none."""
        if not 0 <= index < len(self._plans):
            raise IndexError(index)
        return self._package(index, len(self._published.get(index, ())))

    def find_package(self, registry: str, name: str) -> Package | None:
        """The package called ``name`` on ``registry`` (PyPI matches the PEP 503 form), or None."""
        key = canonical_pypi(name) if registry == "pypi" else name
        index = self._names[registry].get(key)
        return None if index is None else self.package(index)

    def packages_of(self, registry: str) -> list[int]:
        """Indices of the packages of ``registry``, in creation order."""
        return self._by_registry[registry]

    def _derive_source(self, repo_key: int, member: int) -> str:
        """What kind of changelog package ``member`` keeps in repository ``repo_key``."""
        plan = self._repos[repo_key]
        if plan.special:
            return plan.special
        if repo_key % 2 == 1 or member >= self.size:
            return "authored"
        dice = Dice(self.seed, "source", repo_key)
        if dice.chance(self.mix.authored):
            return "authored"
        return f"corpus:{dice.choice(self.cases).slug}"

    def _case(self, source: str) -> Case | None:
        if not source.startswith("corpus:"):
            return None
        return self._cases_by_slug[source.removeprefix("corpus:")]

    def _case_of_member(self, index: int) -> Case | None:
        plan = self._plans[index]
        return self._case(self._source(plan.repo_key, index)) if plan.repo_key >= 0 else None

    def _span(self, index: int) -> tuple[float, float, int]:
        """When package ``index`` was first and last released before start, and how many versions it had then."""
        if index >= self.size:
            return self.now, self.now, 0
        case = self._case_of_member(index)
        dice = Dice(self.seed, "span", index)
        count = min(len(case.versions), MAX_VERSIONS) if case else 1 + int(dice.random() ** 2 * 40)
        updated = self.now - 60 - dice.random() ** 2 * 3 * _YEAR
        created = updated - dice.random() * 6 * _YEAR * min(1.0, count / 20)
        return created, updated, count

    def _history(self, index: int, plan: _Plan) -> tuple[list[str], list[float]]:
        created, updated, count = self._span(index)
        if not count:
            return [], []
        case = self._case_of_member(index)
        if case is not None:
            versions = list(case.releases()[-MAX_VERSIONS:])
        else:
            versions = _semver_history(Dice(self.seed, "history", index), count, plan.registry)
        step = (updated - created) / max(1, count - 1)
        return versions, [created + k * step for k in range(count)]

    def _description(self, index: int) -> str:
        dice = Dice(self.seed, "description", index)
        return (
            f"{dice.choice(_words.QUALIFIERS).capitalize()} {dice.choice(_words.NOUNS)} "
            f"{dice.choice(('for', 'with', 'without', 'around'))} {dice.choice(_words.NOUNS)}s"
        )

    def _derive_package(self, index: int, _published: int) -> Package:
        plan = self._plans[index]
        dice = Dice(self.seed, "package", index)
        versions, times = self._history(index, plan)
        for version, at in self._published.get(index, ()):
            versions.append(version)
            times.append(at)
        repo, directory = self._pointed(plan)
        return Package(
            index=index,
            registry=plan.registry,
            name=plan.name,
            description=self._description(index),
            author=dice.choice(_words.OWNERS),
            license=dice.choice(("MIT", "MIT", "MIT", "Apache-2.0", "BSD-3-Clause", "ISC")),
            versions=tuple(versions),
            times=tuple(times),
            repo=repo,
            repo_key=plan.repo_key if plan.repo_key >= 0 else None,
            directory=directory,
            link=self._link_style(dice, plan, directory),
            no_repo_reason=plan.reason or None,
            foreign_url=self._foreign_url(index),
            huge=self._huge(index),
        )

    def _pointed(self, plan: _Plan) -> tuple[str | None, str | None]:
        """The "owner/name" a package's metadata names (the old name if renamed), and its monorepo directory."""
        if plan.repo_key < 0:
            return None, None
        repo_plan = self._repos[plan.repo_key]
        directory = f"packages/{plan.name.split('/')[-1]}" if plan.repo_key % 2 == 1 else None
        return repo_plan.alias or f"{repo_plan.owner}/{repo_plan.name}", directory

    def _huge(self, index: int) -> bool:
        """Whether npm package ``index`` has a multi-megabyte document (one in 500, and one in every world)."""
        if self._plans[index].registry != "npm":
            return False
        return index == self._first_plain_npm or Dice(self.seed, "huge", index).chance(0.002)

    def _link_style(self, dice: Dice, plan: _Plan, directory: str | None) -> str:
        if plan.reason:
            return plan.reason
        if directory is not None:
            return dice.weighted({"object-directory": 0.7, "tree-url": 0.3})
        weights = {
            "npm": {
                "object-git+https": 40, "object-git": 10, "object-https": 8, "object-ssh": 6, "shorthand": 5,
                "github-prefix": 5, "string-https": 8, "string-git+https": 5, "scp": 3, "array": 2, "www-case": 3,
            },
            "pypi": {
                "Source": 25, "Source Code": 15, "Repository": 15, "Homepage": 15, "GitHub": 5, "Code": 5,
                "home_page": 15, "download_url": 5,
            },
            "rubygems": {"source_code_uri": 55, "homepage_uri": 30, "metadata": 15},
        }[plan.registry]  # fmt: skip
        return dice.weighted(weights)

    def _foreign_url(self, index: int) -> str | None:
        plan = self._plans[index]
        if not plan.reason:
            return None
        dice = Dice(self.seed, "foreign", index)
        base = plan.name.split("/")[-1].lower()
        owner = dice.choice(_words.OWNERS)
        return {
            "no-repository": None,
            "gitlab": f"https://gitlab.com/{owner}/{base}",
            "bitbucket": f"https://bitbucket.org/{owner}/{base}",
            "codeberg": f"https://codeberg.org/{owner}/{base}",
            "website": f"https://{base.replace('_', '-').replace('.', '-')}.readthedocs.io/",
            "github-pages": f"https://{owner}.github.io/{base}/",
            "gist": f"https://gist.github.com/{owner}/{dice.hex(32)}",
        }[plan.reason]

    def lookup_repo(self, full_name: str) -> tuple[Repo, bool] | None:
        """The repository called ``full_name`` (any case), and whether that is its old name; None if unknown."""
        key = self._repo_index.get(full_name.lower())
        if key is None:
            return None
        repo = self.repo(key)
        return repo, repo.full_name.lower() != full_name.lower()

    def repo_by_id(self, repo_id: int) -> Repo | None:
        """The repository with GitHub id ``repo_id``, or None."""
        key = repo_id - REPO_ID_BASE
        return self.repo(key) if key in self._repos else None

    def repo(self, key: int) -> Repo:
        """Repository ``key`` (a package index times two, or a monorepo group times two plus one)."""
        return self._repo(key, self._revisions.get(key, 0))

    def _derive_repo(self, key: int, revision: int) -> Repo:
        plan = self._repos[key]
        dice = Dice(self.seed, "repo", key)
        members = tuple(self._members[key])
        registry = self._plans[members[0]].registry
        changelogs: list[Changelog] = []
        if plan.outcome in {"changelog", "too-large", "not-a-changelog"}:
            for member in members:
                source = self._source(key, member)
                path = self._changelog_path(dice, key, member, source)
                changelogs.append(Changelog(path, self._format(source), source, member))
        has_releases = plan.outcome == "releases-only" or (
            plan.outcome == "changelog" and dice.chance(self.mix.releases_too)
        )
        tag_style = None
        if has_releases:
            tag_style = "pkg@" if key % 2 == 1 else dice.weighted({"v": 0.6, "": 0.15, "pkg@": 0.1, "pkg-v": 0.15})
        decoys: tuple[str, ...] = ()
        if plan.outcome in {"changelog", "releases-only", "no-changelog"} and dice.chance(self.mix.decoys):
            options = ["changelog.json", "scripts/changelog.sh", ".changeset", "changelog.d"]
            if plan.outcome == "releases-only":
                options.append("CHANGELOG.md")
            decoys = (dice.choice(options),)
        language = {"npm": "JavaScript", "pypi": "Python", "rubygems": "Ruby"}[registry]
        if registry == "npm" and dice.chance(0.4):
            language = "TypeScript"
        return Repo(
            key=key,
            id=REPO_ID_BASE + key,
            owner=plan.owner,
            name=plan.name,
            alias=plan.alias or None,
            outcome=plan.outcome,
            special=plan.special or None,
            members=members,
            changelogs=tuple(changelogs),
            tag_style=tag_style,
            decoys=decoys,
            default_branch=dice.weighted({"main": 0.7, "master": 0.3}),
            language=language,
            revision=revision,
        )

    def repo_dates(self, repo: Repo) -> tuple[float, float]:
        """When ``repo`` was created and last pushed to."""
        published = self._published.get(repo.members[0])
        first = published[0][1] if published else self._span(repo.members[0])[0]
        created = min(first, self.now) - Dice(self.seed, "created", repo.key).random() * 30 * _DAY
        return created, self._pushed.get(repo.key) or max(self._span(m)[1] for m in repo.members)

    def _changelog_path(self, dice: Dice, key: int, member: int, source: str) -> str:
        if key % 2 == 1:
            return f"packages/{self._plans[member].name.split('/')[-1]}/CHANGELOG.md"
        if source in {"huge", "xss"}:
            return "CHANGELOG.md"
        if source == "binary":
            return "CHANGELOG"
        case = self._case(source)
        fmt = case.format if case else "markdown"
        if case is not None and case.path == "doc/en/changelog.rst":
            return case.path
        if dice.chance(self.mix.in_docs) and fmt != "text":
            return dice.choice(
                ("docs/changelog.rst", "docs/changes.rst", "doc/en/changelog.rst")
                if fmt == "rst"
                else ("docs/CHANGELOG.md", "docs/changelog.md")
            )
        original = case.path.rsplit("/", 1)[-1] if case else "CHANGELOG.md"
        names = {
            "markdown": ("CHANGELOG.md", "CHANGELOG.md", "CHANGES.md", "HISTORY.md", "History.md", "changelog.md"),
            "rst": ("CHANGES.rst", "CHANGELOG.rst", "HISTORY.rst", "NEWS.rst"),
            "text": ("NEWS", "ChangeLog", "CHANGES", "CHANGELOG", "CHANGES.txt"),
        }[fmt]
        keep_original = case is not None and original in names and dice.chance(0.6)
        return original if keep_original else dice.choice(names)

    def _format(self, source: str) -> str:
        case = self._case(source)
        if case is not None:
            return case.format
        return "text" if source == "binary" else "markdown"

    def case_of(self, changelog: Changelog) -> Case | None:
        """The corpus case a changelog file is copied from, if any."""
        return self._case(changelog.source)

    def releases(self, repo: Repo) -> list[Release]:
        """The GitHub Releases of ``repo``, newest first (drafts included)."""
        if repo.tag_style is None:
            return []
        rows: list[Release] = []
        for member in repo.members:
            package = self.package(member)
            short = package.name.split("/")[-1]
            for k, (version, at) in enumerate(zip(package.versions, package.times, strict=True)):
                tag = {"v": f"v{version}", "": version, "pkg@": f"{package.name}@{version}"}.get(
                    repo.tag_style, f"{short}-v{version}"
                )
                dice = Dice(self.seed, "release", repo.key, member, k)
                rows.append(
                    Release(
                        id=100_000_000 + repo.key * 1000 + k,
                        tag=tag,
                        name=dice.choice((tag, f"v{version}", f"Release {version}", "", None)),
                        body=None if dice.chance(0.08) else _release_notes(dice, version),
                        draft=False,
                        prerelease=bool(re.search(r"[a-z]", version)),
                        created=at - 600,
                        published=at,
                        version=version,
                    )
                )
        rows.sort(key=lambda r: r.published or 0, reverse=True)
        dice = Dice(self.seed, "draft", repo.key, repo.revision)
        if rows and dice.chance(0.3):
            lead = self.package(repo.members[0])
            version = bump(lead.latest, set(lead.versions))
            rows.insert(
                0,
                Release(
                    id=100_000_000 + repo.key * 1000 + 999,
                    tag=f"v{version}",
                    name=f"v{version} (draft)",
                    body=_release_notes(dice, version),
                    draft=True,
                    prerelease=False,
                    created=self.repo_dates(repo)[1],
                    published=None,
                    version=version,
                ),
            )
        return rows

    # ---- change sources ----

    def _npm_row(self, j: int) -> ChangeRow:
        dice = Dice(self.seed, "npm-change", j)
        seq = NPM_SEQ_BASE + 3 * j + dice.below(3)
        roll = dice.random()
        rev = f"{dice.between(1, 40)}-{dice.hex(32)}"
        if roll < 0.02:
            name = f"{dice.choice(_words.QUALIFIERS)}-{dice.choice(_words.NOUNS)}-{dice.hex(6)}"
            return ChangeRow(seq, name, rev, True)
        if roll < 0.025 or not self._npm_packages_at_start:
            return ChangeRow(seq, f"_design/{dice.choice(('app', 'scratch', 'audit'))}", rev, False)
        index = self._by_registry["npm"][dice.below(self._npm_packages_at_start)]
        return ChangeRow(seq, self._plans[index].name, rev, False)

    @functools.cached_property
    def _first_plain_npm(self) -> int:
        """The first npm package past the specials: it always has a huge document, so every world has one."""
        return next((i for i in self._by_registry["npm"] if i not in SPECIALS), -1)

    @functools.cached_property
    def _npm_packages_at_start(self) -> int:
        return bisect.bisect_left(self._by_registry["npm"], self.size)

    def npm_changes(self, since: int, limit: int | None) -> list[ChangeRow]:
        """Rows of npm's change feed after sequence ``since``, oldest first, at most ``limit``."""
        rows: list[ChangeRow] = []
        cap = limit if limit is not None else 1 << 62
        j = max(1, (since - NPM_SEQ_BASE) // 3)
        while j <= self._npm_prefill and len(rows) < cap:
            row = self._npm_row(j)
            if row.seq > since:
                rows.append(row)
            j += 1
        start = bisect.bisect_right(self._npm_tail, since, key=lambda r: r.seq)
        rows.extend(self._npm_tail[start : start + cap - len(rows)])
        return rows

    def npm_update_seq(self) -> int:
        """The sequence of the newest row of npm's change feed."""
        if self._npm_tail:
            return self._npm_tail[-1].seq
        return self._npm_row(self._npm_prefill).seq if self._npm_prefill else NPM_SEQ_BASE

    def _npm_feed_counts(self) -> dict[str, int]:
        """What a follower of the whole feed should see: rows by kind, and those naming a GitHub repository."""
        counts = {"rows": 0, "deleted": 0, "design": 0, "with_github_repo": 0}
        packages: set[int] = set()
        for row in self.npm_changes(0, None):
            counts["rows"] += 1
            index = self._names["npm"].get(row.id)
            if row.deleted:
                counts["deleted"] += 1
            elif row.id.startswith("_design/"):
                counts["design"] += 1
            elif index is not None and self._plans[index].repo_key >= 0:
                counts["with_github_repo"] += 1
                packages.add(index)
        counts["packages_with_github_repo"] = len(packages)
        return counts

    def npm_prefilled(self) -> int:
        """How many rows npm's change feed held at start."""
        return self._npm_prefill

    def _pypi_row(self, j: int) -> LogRow:
        dice = Dice(self.seed, "pypi-log", j)
        serial = PYPI_SERIAL_BASE + j
        at = int(self.now - (self._pypi_prefill - j + 1) * 7)
        roll = dice.random()
        if roll < 0.02 or not self._pypi_packages_at_start:
            name = f"{dice.choice(_words.QUALIFIERS)}-{dice.choice(_words.NOUNS)}-{dice.hex(4)}"
            return LogRow(name, None, at, "remove project", serial)
        index = self._by_registry["pypi"][dice.below(self._pypi_packages_at_start)]
        package = self.package(index)
        version = dice.choice(package.versions)
        file_stem = f"{canonical_pypi(package.name).replace('-', '_')}-{version}"
        if roll < 0.3:
            return LogRow(package.name, version, at, "new release", serial)
        if roll < 0.5:
            return LogRow(package.name, version, at, f"add source file {file_stem}.tar.gz", serial)
        if roll < 0.75:
            return LogRow(package.name, version, at, f"add py3 file {file_stem}-py3-none-any.whl", serial)
        if roll < 0.8:
            return LogRow(package.name, None, at, "create", serial)
        if roll < 0.86:
            role = dice.choice(("Owner", "Maintainer"))
            return LogRow(package.name, None, at, f"add {role} {dice.choice(_words.OWNERS)}", serial)
        if roll < 0.9:
            return LogRow(package.name, version, at, "yank release", serial)
        if roll < 0.94:
            return LogRow(package.name, version, at, "remove release", serial)
        return LogRow(package.name, version, at, f"remove file {file_stem}.tar.gz", serial)

    @functools.cached_property
    def _pypi_packages_at_start(self) -> int:
        return bisect.bisect_left(self._by_registry["pypi"], self.size)

    @functools.cached_property
    def _pypi_serials(self) -> dict[int, int]:
        """The last pre-filled journal serial of every PyPI package it mentions."""
        last: dict[int, int] = {}
        pool = self._by_registry["pypi"]
        for j in range(1, self._pypi_prefill + 1):
            dice = Dice(self.seed, "pypi-log", j)
            if dice.random() >= 0.02 and self._pypi_packages_at_start:
                last[pool[dice.below(self._pypi_packages_at_start)]] = PYPI_SERIAL_BASE + j
        return last

    def pypi_log(self, since: int, limit: int = 50_000) -> list[LogRow]:
        """PyPI journal rows with a serial above ``since``, ascending, at most ``limit``."""
        first = max(1, since - PYPI_SERIAL_BASE + 1)
        rows = [self._pypi_row(j) for j in range(first, min(self._pypi_prefill, first + limit - 1) + 1)]
        start = bisect.bisect_right(self._pypi_tail, since, key=lambda r: r.serial)
        rows.extend(self._pypi_tail[start : start + limit - len(rows)])
        return rows

    def pypi_last_serial(self) -> int:
        """The serial of the newest journal row."""
        return self._pypi_tail[-1].serial if self._pypi_tail else PYPI_SERIAL_BASE + self._pypi_prefill

    def pypi_project_serial(self, index: int) -> int:
        """The serial of the newest journal row about package ``index`` (``X-PyPI-Last-Serial``)."""
        return self._pypi_published.get(index) or self._pypi_serials.get(index, PYPI_SERIAL_BASE - 1 - index)

    @functools.cached_property
    def _gems_at_start(self) -> tuple[list[int], list[int]]:
        """The 50 newest gems, and the 50 most recently updated ones with several versions, at start."""
        gems = [self.package(i) for i in self._by_registry["rubygems"] if i < self.size]
        newest = sorted((g for g in gems if g.times), key=lambda g: g.times[0], reverse=True)[:50]
        updated = sorted((g for g in gems if len(g.versions) > 1), key=lambda g: g.times[-1], reverse=True)[:50]
        return [g.index for g in newest], [g.index for g in updated]

    def rubygems_latest(self) -> list[tuple[int, str]]:
        """The 50 gems most recently published for the first time, newest first, at their latest version."""
        candidates = {*self._gems_at_start[0], *(i for i, _ in self._gem_events)}
        gems = sorted((self.package(i) for i in candidates), key=lambda g: g.times[0], reverse=True)[:50]
        return [(g.index, g.latest) for g in gems]

    def rubygems_just_updated(self) -> list[tuple[int, str]]:
        """Up to 50 (gem, version) rows of gems with several versions, newest version first.

        As RubyGems does: the 50 gems whose newest version is the most recent, then their versions of the last six
        months, newest first (a gem may appear more than once).
        """
        candidates = {*self._gems_at_start[1], *(i for i, _ in self._gem_events)}
        gems = [g for g in (self.package(i) for i in candidates) if len(g.versions) > 1]
        gems = sorted(gems, key=lambda g: g.times[-1], reverse=True)[:50]
        horizon = self.now - 183 * _DAY
        rows = [
            (at, g.index, version)
            for g in gems
            for version, at in zip(g.versions, g.times, strict=True)
            if at > horizon
        ]
        return [(i, version) for _, i, version in sorted(rows, reverse=True)[:50]]

    # ---- publishing ----

    def publish(self, registry: str | None = None, package: str | None = None) -> dict[str, Any]:
        """Publish a new release of ``package`` (a new or existing one when None) on ``registry``.

        The release appears in that registry's change source; a sandbox-authored changelog gets the new version on
        top, and a repository with GitHub Releases gets a new release. Raises ``ValueError`` for an unknown
        registry. Returns ``{"registry", "package", "version", "repo", "directory"}`` where ``repo`` is the
        ``owner/name`` a service should crawl (null when the package names no GitHub repository).
        """
        if registry is not None and registry not in REGISTRIES:
            raise ValueError(f"unknown registry {registry!r}: expected one of {REGISTRIES}")
        index = None
        if package is not None:
            for candidate in [registry] if registry else list(REGISTRIES):
                found = self.find_package(candidate, package)
                if found is not None:
                    index, registry = found.index, candidate
                    break
        if registry is None:
            registry = REGISTRIES[self._rotation % len(REGISTRIES)]
            self._rotation += 1
        new = index is None
        if index is None:
            if package is None and self._by_registry[registry] and self._rng.random() >= 0.25:
                index = self._rng.choice(self._by_registry[registry])
                while self._plans[index].special:
                    index = self._rng.choice(self._by_registry[registry])
                new = False
            else:
                index = self._add(len(self._plans), registry, package)
        current = self.package(index)
        version = bump(current.latest, set(current.versions)) if current.versions else "0.1.0"
        at = max(time.time(), self._last_publish + 0.001)
        self._last_publish = at
        self._published[index].append((version, at))
        released = self.package(index)
        self._record(released, version, at, new)
        if released.repo_key is not None:
            repo = self.repo(released.repo_key)
            if repo.tag_style is not None or any(c.source == "authored" for c in repo.changelogs):
                self._revisions[released.repo_key] += 1
                self._pushed[released.repo_key] = at
        return {
            "registry": registry,
            "package": released.name,
            "version": version,
            "repo": released.repo,
            "directory": released.directory,
        }

    def _record(self, package: Package, version: str, at: float, new: bool) -> None:
        dice = Dice(self.seed, "publish", package.index, version)
        if package.registry == "npm":
            seq = self.npm_update_seq() + 1 + dice.below(3)
            self._npm_tail.append(ChangeRow(seq, package.name, f"{len(package.versions)}-{dice.hex(32)}", False))
        elif package.registry == "pypi":
            serial = self.pypi_last_serial()
            stem = f"{canonical_pypi(package.name).replace('-', '_')}-{version}"
            actions = ["create"] if new else []
            actions += ["new release", f"add source file {stem}.tar.gz", f"add py3 file {stem}-py3-none-any.whl"]
            for k, action in enumerate(actions, start=1):
                shown = None if action == "create" else version
                self._pypi_tail.append(LogRow(package.name, shown, int(at), action, serial + k))
            self._pypi_published[package.index] = serial + len(actions)
        else:
            self._gem_events.append((package.index, version))

    # ---- what tests and benchmarks assert against ----

    def summary(self) -> dict[str, Any]:
        """Counts, and per expected outcome the repositories and packages that should end there."""
        repos: dict[str, list[dict[str, Any]]] = {outcome: [] for outcome in OUTCOMES}
        repos.update({"renamed": [], "too-large": [], "not-a-changelog": []})
        special: dict[str, dict[str, Any]] = {}
        for key in sorted(self._repos):
            if not self._members.get(key):
                continue
            repo = self.repo(key)
            pointed = repo.alias or repo.full_name
            if repo.alias:
                repos["renamed"].append({"repo": repo.alias, "new": repo.full_name, "id": repo.id})
            entry: dict[str, Any] = {"repo": pointed}
            if repo.decoys:
                entry["decoys"] = list(repo.decoys)
            if repo.outcome == "changelog" or repo.special:
                for changelog in repo.changelogs:
                    item = dict(entry, path=changelog.path, format=changelog.format, source=changelog.source)
                    item["directory"] = self._pointed(self._plans[changelog.member])[1]
                    repos[repo.outcome].append(item)
                    if repo.special:
                        special[repo.special] = item
            else:
                if repo.outcome == "releases-only":
                    entry["releases"] = sum(self._span(m)[2] + len(self._published.get(m, ())) for m in repo.members)
                repos[repo.outcome].append(entry)
        with_repo: list[dict[str, Any]] = []
        without: dict[str, list[dict[str, str]]] = {reason: [] for reason in NO_REPO_REASONS}
        huge: list[str] = []
        for index, plan in enumerate(self._plans):
            if self._huge(index):
                huge.append(plan.name)
            if plan.repo_key >= 0:
                repo_name, directory = self._pointed(plan)
                with_repo.append(
                    {"registry": plan.registry, "name": plan.name, "repo": repo_name, "directory": directory}
                )
            else:
                item = {"registry": plan.registry, "name": plan.name}
                url = self._foreign_url(index)
                without[plan.reason].append(dict(item, url=url) if url else item)
        return {
            "seed": self.seed,
            "counts": {
                "packages": len(self._plans),
                "by_registry": {r: len(self._by_registry[r]) for r in REGISTRIES},
                "repos": {outcome: len(items) for outcome, items in repos.items()},
                "packages_with_github_repo": len(with_repo),
                "packages_without_github_repo": {reason: len(items) for reason, items in without.items()},
                "npm_changes": self.npm_prefilled() + len(self._npm_tail),
                "npm_feed": self._npm_feed_counts(),
                "npm_update_seq": self.npm_update_seq(),
                "pypi_last_serial": self.pypi_last_serial(),
            },
            "repos": repos,
            "special": special,
            "packages": {"github": with_repo, "no_github": without, "huge_documents": huge},
        }


def _release_notes(dice: Dice, version: str) -> str:
    lines = [f"## What's Changed in {version}", ""]
    for _ in range(dice.between(1, 5)):
        lines.append(f"* {dice.choice(_words.VERBS)} {dice.choice(_words.OBJECTS)} by @{dice.choice(_words.OWNERS)}")
    return "\r\n".join(lines)
