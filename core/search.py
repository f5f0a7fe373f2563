"""Autocomplete over repositories and the package names that point at them, held in memory per api process.

Keys are the lower-cased full name and every token of it (``django-rest-framework`` is found by ``rest``,
``@babel/core`` by ``core``), kept in one sorted list so a prefix query is a binary search plus a short scan.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.models import Outcome, PackageRecord, Registry
from core.store import RecordStore

_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")


@dataclass(slots=True)
class _Doc:
    repo: str
    packages: set[tuple[Registry, str]] = field(default_factory=set)
    versions: int = 0


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: ``completion`` is ``owner/repo``; ``packages`` those whose name matched."""

    score: float
    completion: str
    packages: tuple[tuple[Registry, str], ...]

    def as_json(self) -> dict[str, object]:
        return {
            "score": self.score,
            "completion": self.completion,
            "packages": [{"registry": r, "name": n} for r, n in self.packages],
        }


class SearchIndex:
    """Prefix search over names; ``add_*`` may be called at any time (live updates from the crawled feed)."""

    def __init__(self) -> None:
        self._docs: dict[str, _Doc] = {}
        self._keys: list[tuple[str, str, str]] = []  # (key, repo key, matched name)
        self._seen: set[tuple[str, str, str]] = set()

    def __len__(self) -> int:
        return len(self._docs)

    def add_repo(self, repo: str, *, versions: int = 0) -> None:
        """Index a repository by its full name."""
        doc = self._doc(repo)
        doc.versions = max(doc.versions, versions)
        self._index(repo, repo.lower())

    def add_package(self, package: PackageRecord) -> None:
        """Index a package name under the repository it points at."""
        doc = self._doc(package.repo)
        doc.packages.add((package.registry, package.name))
        self._index(package.name, package.repo.lower())

    def add_many(self, repos: Iterable[str], packages: Iterable[PackageRecord]) -> None:
        for repo in repos:
            self.add_repo(repo)
        for package in packages:
            self.add_package(package)

    def _doc(self, repo: str) -> _Doc:
        key = repo.lower()
        doc = self._docs.get(key)
        if doc is None:
            doc = self._docs[key] = _Doc(repo)
        return doc

    def _index(self, name: str, repo_key: str) -> None:
        lowered = name.lower()
        keys = {lowered, *(t for t in _TOKEN_SPLIT.split(lowered) if t)}
        for key in keys:
            entry = (key, repo_key, name)
            if entry not in self._seen:
                self._seen.add(entry)
                bisect.insort(self._keys, entry)

    def search(self, query: str, *, limit: int = 10) -> list[Hit]:
        """Ranked prefix matches: exact name, then whole-name prefix, then token prefix."""
        q = query.strip().lower()
        if not q:
            return []
        best: dict[str, tuple[float, set[str]]] = {}
        start = bisect.bisect_left(self._keys, (q, "", ""))
        for key, repo_key, name in self._keys[start : start + 2000]:
            if not key.startswith(q):
                break
            lowered = name.lower()
            if lowered == q or lowered.split("/")[-1] == q:
                score = 3.0
            elif lowered.startswith(q):
                score = 2.0
            else:
                score = 1.0
            score += min(len(self._docs[repo_key].packages), 50) / 100
            prev, names = best.get(repo_key, (0.0, set()))
            names.add(name)
            best[repo_key] = (max(prev, score), names)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
        hits = []
        for repo_key, (score, names) in ranked:
            doc = self._docs[repo_key]
            packages = tuple(sorted(p for p in doc.packages if p[1] in names))
            hits.append(Hit(round(score, 3), doc.repo, packages))
        return hits


async def build_index(records: RecordStore) -> SearchIndex:
    """A fresh index of every repository with a changelog and every package, read from the store."""
    index = SearchIndex()
    async for record in records.iter_repos():
        if record.outcome in (Outcome.OK, Outcome.UNCHANGED):
            index.add_repo(record.repo, versions=record.versions_count)
    async for package in records.iter_packages():
        index.add_package(package)
    return index
