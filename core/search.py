"""Autocomplete over repositories and the package names that point at them, held in memory by each api process.

Every name (``owner/repo``, an npm, PyPI or RubyGems package) is indexed under keys, lower-cased: the whole name
and, when it has a ``/``, its last part (``react`` for ``facebook/react``, ``core`` for ``@babel/core``) as
*whole-name* keys; the rest of the name from each other word on (``rest-framework`` and ``framework`` in
``django-rest-framework``) as *token* keys. A query matches a key it is a prefix of, and results are ranked:
exact name, then whole-name prefix, then token prefix; within a tier, the repository with more packages, more
versions and a more recent crawl comes first. When fewer than ``FUZZY_BELOW`` repositories match, typo-tolerant
suggestions follow (candidates that share the first two characters, scored by ``rapidfuzz``).

The keys live in two compact sorted arrays (UTF-8 in one ``bytes`` blob plus offsets), about 20 bytes per key, so
a prefix query is two binary searches. A prefix that matches more than ``_SCAN`` keys is answered from a list of
its best keys computed when the arrays are built, so a one-letter query costs what a long one does. Names added
later (live, from the crawled events) go to a small sorted side list until the next ``optimize()``; the daily
``rebuild-search-index`` deployment writes a snapshot (``to_bytes``) that api processes load at start.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import heapq
import itertools
import json
import logging
import math
import operator
import re
import struct
import time
from array import array
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from rapidfuzz import fuzz, process

from core.errors import NotFound
from core.models import REGISTRIES, CrawledEvent, Outcome, Registry
from core.store import ArtifactStore, RecordStore

FUZZY_BELOW = 10
SNAPSHOT_KEY = "search/index.bin"
SNAPSHOT_META_KEY = "search/index.json"  # small: what api processes poll to learn of a new snapshot
_SCAN = 96  # a prefix matching more keys than this is answered from its precomputed best keys
_TOP = 64  # best keys kept per such prefix (a repository may hold several of them)
_FUZZY_WINDOW = 150  # typo candidates on each side of where the query would sort
_MAX_QUERY = 100
_WORD_ONWARDS = re.compile(r"(?<![a-z0-9])(?=([a-z0-9].*))", re.DOTALL)  # each word to the end of the name
_KINDS: tuple[str, ...] = ("repo", *REGISTRIES)  # a name's kind is its index here
_REPO = 0
_MAGIC = b"CLSEARCH1\n"
_MONTH = 30 * 86400

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Match:
    """A package name that matched, on its registry."""

    registry: Registry
    name: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: ``completion`` is ``owner/repo``; ``packages`` the package names of it that matched.

    ``suggestion`` marks a typo-tolerant match; ``versions`` is how many versions its changelog has (0 before
    the first crawl).
    """

    score: float
    completion: str
    packages: tuple[Match, ...]
    versions: int
    suggestion: bool = False

    def as_json(self) -> dict[str, Any]:
        """The seed's ``{"score", "completion"}`` plus the registry and package names that matched."""
        return {
            "score": self.score,
            "completion": self.completion,
            "packages": [{"registry": m.registry, "name": m.name} for m in self.packages],
            "versions": self.versions,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True, slots=True)
class IndexCounts:
    """What the index holds: repositories with a changelog, package names, and their versions."""

    repos: int
    packages: int
    versions: int


def _normalize(query: str) -> str:
    # The form a query is matched in: trimmed, lower-cased, at most 100 characters.
    return query.strip().lower()[:_MAX_QUERY]


def _whole_and_tokens(name: str) -> tuple[list[str], list[str]]:
    low = name.lower().replace("\n", " ")
    tail = low.rpartition("/")[2]
    whole = [low, tail] if tail and tail != low else [low]
    # A word's key runs to the end of the name, so "rest" and "rest-fr" both find django-rest-framework.
    tokens = set(_WORD_ONWARDS.findall(low))
    tokens.difference_update(whole)
    return whole, list(tokens)


class _SortedKeys:
    """Lower-cased keys in byte order, each with the id of the name it stands for."""

    def __init__(self, blob: bytes, offsets: array[int], names: array[int]) -> None:
        self.blob = blob
        self.offsets = offsets
        self.names = names
        self.top: dict[bytes, array[int]] = {}
        # Where the keys of each two-byte head start and end: a lookup bisects a few hundred keys, not millions.
        self.heads: dict[bytes, tuple[int, int]] = {}
        i, n = 0, len(names)
        while i < n:
            key = self.key(i)
            if len(key) < 2:
                i = bisect.bisect_right(range(n), key, i, n, key=self.key)
                continue
            end = bisect.bisect_left(range(n), key[:2] + b"\xff", i, n, key=self.key)
            self.heads[key[:2]] = (i, end)
            i = end

    @classmethod
    def build(cls, keys: list[str], names: array[int]) -> _SortedKeys:
        if not keys:
            return cls(b"", array("I", [0]), array("I"))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        ordered = operator.itemgetter(*order)(keys) if len(keys) > 1 else (keys[0],)
        # Each key ends with a newline, so a run of keys decodes with one call (``text``).
        text = "\n".join(ordered) + "\n"
        blob = text.encode()
        lengths = map(len, ordered) if len(blob) == len(text) else map(len, map(str.encode, ordered))
        offsets = array("I", itertools.accumulate(map(operator.add, lengths, itertools.repeat(1)), initial=0))
        return cls(blob, offsets, array("I", map(names.__getitem__, order)))

    def __len__(self) -> int:
        return len(self.names)

    def key(self, i: int) -> bytes:
        return self.blob[self.offsets[i] : self.offsets[i + 1] - 1]

    def text(self, lo: int, hi: int) -> str:
        """The keys ``lo`` to ``hi`` (exclusive), decoded, one a line."""
        return self.blob[self.offsets[lo] : self.offsets[hi] - 1].decode()

    def bounds(self, prefix: bytes, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
        """The index range of the keys that start with ``prefix``."""
        if hi is None:
            lo, hi = self.heads.get(prefix[:2], (0, 0)) if len(prefix) >= 2 else (0, len(self))
        start = bisect.bisect_left(range(hi), prefix, lo, hi, key=self.key)
        end = bisect.bisect_left(range(hi), prefix + b"\xff", start, hi, key=self.key)  # 0xff is never in UTF-8
        return start, end

    def equal(self, key: bytes) -> tuple[int, int]:
        """The index range of the keys equal to ``key``."""
        start, hi = self.bounds(key)
        return start, bisect.bisect_right(range(hi), key, start, hi, key=self.key)

    def compute_top(self, weights: array[float]) -> None:
        """For every prefix matching more than ``_SCAN`` keys, remember its ``_TOP`` heaviest keys.

        ``weights`` holds one weight per key. Bottom-up, so each key is looked at about once: a prefix's best keys
        are the best of its small sub-ranges and of its big sub-prefixes' best keys.
        """
        self.top = {}
        if len(self) > _SCAN:
            self._best(b"", 0, len(self), weights)

    def _best(self, prefix: bytes, lo: int, hi: int, weights: array[float]) -> list[int]:
        depth = len(prefix) + 1
        pool: list[int] = []
        i = lo
        while i < hi:
            key = self.key(i)
            if len(key) < depth:  # the key is the prefix itself
                j = bisect.bisect_right(range(hi), key, i, hi, key=self.key)
                pool += range(i, j)
            else:
                child = key[:depth]
                j = self.bounds(child, i, hi)[1]
                pool += self._best(child, i, j, weights) if j - i > _SCAN else range(i, j)
            i = j
        best = heapq.nlargest(_TOP, pool, key=weights.__getitem__)
        if prefix:
            self.top[prefix] = array("I", best)
        return best

    def matches(self, prefix: bytes) -> tuple[range, Iterable[int], bool]:
        """The keys equal to ``prefix`` (an empty range when there are many); the keys starting with it (all, or
        the heaviest when there are many); and whether those come heaviest first."""
        lo, hi = self.bounds(prefix)
        if hi - lo <= _SCAN:
            end = bisect.bisect_right(range(hi), prefix, lo, hi, key=self.key)
            return range(lo, end), range(end, hi), False
        end = bisect.bisect_right(range(hi), prefix, lo, min(hi, lo + _SCAN + 1), key=self.key)
        equal = range(lo, end) if end - lo <= _SCAN else range(0)
        return equal, self.top.get(prefix, range(end, min(hi, end + _SCAN))), prefix in self.top

    def dump(self) -> list[bytes]:
        prefixes = sorted(self.top)
        return [
            self.blob,
            self.offsets.tobytes(),
            self.names.tobytes(),
            array("H", map(len, prefixes)).tobytes(),
            b"".join(prefixes),
            b"".join(self.top[p].tobytes() for p in prefixes),
        ]

    @classmethod
    def load(
        cls, blob: bytes, offsets: bytes, names: bytes, lengths: bytes, prefixes: bytes, best: bytes
    ) -> _SortedKeys:
        keys = cls(blob, _array("I", offsets), _array("I", names))
        ends = itertools.accumulate(_array("H", lengths), initial=0)
        spans = itertools.pairwise(ends)
        tops = _array("I", best)
        keys.top = {prefixes[a:b]: tops[n * _TOP : (n + 1) * _TOP] for n, (a, b) in enumerate(spans)}
        return keys


def _array(typecode: str, data: bytes) -> array[Any]:
    values = array(typecode)
    values.frombytes(data)
    return values


class SearchIndex:
    """Names of repositories and packages, ranked prefix search over them, and live additions.

    ``add_repo`` and ``add_package`` make a name searchable at once. With ``bulk=True`` they only collect until
    ``optimize()`` sorts everything in one go: the fast way to build from the store.
    """

    def __init__(self, *, bulk: bool = False) -> None:
        self.names: list[str] = []
        self.name_doc = array("I")
        self.name_kind = bytearray()
        self.doc_repo = array("I")  # the name id of each repository's full name
        self.doc_versions = array("I")
        self.doc_packages = array("I")
        self.doc_crawled = array("d")  # POSIX time of the last crawl with a changelog, 0 before one
        self.feed_id = "0-0"  # the crawled-feed position this index includes (snapshots are replayed from it)
        self._whole = _SortedKeys.build([], array("I"))
        self._tokens = _SortedKeys.build([], array("I"))
        self._live = not bulk  # a new name goes to the side lists at once (or waits for optimize())
        self.doc_weight = array("d")  # what ranks a repository within a tier (``_weigh``)
        self._clock = time.time()  # "now" for ranking by recency: when the weights were last computed
        self._side_whole: list[tuple[str, int]] = []
        self._side_tokens: list[tuple[str, int]] = []
        self._pending: dict[tuple[int, str], int] = {}  # (kind, lower-cased name) -> name id, for unsealed names

    def __len__(self) -> int:
        return len(self.names)

    # ---- adding -------------------------------------------------------------------------------------------------

    def add_repo(self, repo: str, *, versions: int = 0, crawled_at: dt.datetime | None = None) -> None:
        """Index a repository (``owner/name``), or update what ranks it: its versions and last crawl."""
        doc = self._doc(repo)
        if versions:
            self.doc_versions[doc] = versions
        if crawled_at is not None:
            self.doc_crawled[doc] = crawled_at.timestamp()
        self.doc_weight[doc] = self._weigh(doc)

    def add_package(self, registry: Registry, name: str, repo: str) -> None:
        """Index a package name under the repository it points at."""
        kind = _KINDS.index(registry)
        doc = self._doc(repo)
        found = self._find(kind, name)
        if found is None:
            self._add_name(name, kind, doc)
            self.doc_packages[doc] += 1
        elif self.name_doc[found] != doc:  # the package now points at another repository
            before = self.name_doc[found]
            self.doc_packages[before] -= 1
            self.doc_weight[before] = self._weigh(before)
            self.name_doc[found] = doc
            self.doc_packages[doc] += 1
        self.doc_weight[doc] = self._weigh(doc)

    def _doc(self, repo: str) -> int:
        found = self._find(_REPO, repo)
        if found is not None:
            return self.name_doc[found]
        doc = len(self.doc_repo)
        self.doc_repo.append(len(self.names))
        self.doc_versions.append(0)
        self.doc_packages.append(0)
        self.doc_crawled.append(0.0)
        self.doc_weight.append(0.0)
        self._add_name(repo, _REPO, doc)
        return doc

    def _add_name(self, name: str, kind: int, doc: int) -> None:
        name_id = len(self.names)
        self.names.append(name)
        self.name_doc.append(doc)
        self.name_kind.append(kind)
        self._pending[(kind, name.lower())] = name_id
        if self._live:
            whole, tokens = _whole_and_tokens(name)
            for key in whole:
                bisect.insort(self._side_whole, (key, name_id))
            for key in tokens:
                bisect.insort(self._side_tokens, (key, name_id))

    def _find(self, kind: int, name: str) -> int | None:
        low = name.lower()
        found = self._pending.get((kind, low))
        if found is not None:
            return found
        lo, hi = self._whole.equal(low.encode())
        for i in range(lo, hi):
            name_id = self._whole.names[i]
            if self.name_kind[name_id] == kind and self.names[name_id].lower() == low:
                return name_id
        return None

    def optimize(self) -> None:
        """Rebuild the sorted arrays from every name (the side lists of live additions become empty)."""
        keys = [_whole_and_tokens(name) for name in self.names]
        whole = [k for names, _ in keys for k in names]
        whole_ids = array("I", [i for i, (names, _) in enumerate(keys) for _ in names])
        tokens = [t for _, words in keys for t in words]
        token_ids = array("I", [i for i, (_, words) in enumerate(keys) for _ in words])
        del keys
        self._whole = _SortedKeys.build(whole, whole_ids)
        self._tokens = _SortedKeys.build(tokens, token_ids)
        self._reweigh()
        for sorted_keys in (self._whole, self._tokens):
            name_docs = map(self.name_doc.__getitem__, sorted_keys.names)
            sorted_keys.compute_top(array("d", map(self.doc_weight.__getitem__, name_docs)))
        self._side_whole = []
        self._side_tokens = []
        self._pending = {}
        self._live = True

    # ---- ranking --------------------------------------------------------------------------------------------------

    def _reweigh(self) -> None:
        self._clock = time.time()
        self.doc_weight = array("d", map(self._weigh, range(len(self.doc_repo))))

    def _weigh(self, doc: int) -> float:
        # Packages count most (a repository several registries point at is what people look for), then the length
        # of its history, then a crawl in the last year.
        crawled = self.doc_crawled[doc]
        recency = 1 / (1 + max(0.0, self._clock - crawled) / _MONTH) if crawled else 0.0
        return 3 * math.log1p(self.doc_packages[doc]) + math.log1p(self.doc_versions[doc]) + 2 * recency

    # ---- searching ------------------------------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 10) -> list[Hit]:
        """Ranked matches of ``query``: exact name, whole-name prefix, token prefix, then typo suggestions."""
        q = _normalize(query)
        if not q:
            return []
        # doc -> [tier, matched name ids]; tiers: 3 exact name, 2 whole-name prefix, 1 token prefix.
        found: dict[int, list[Any]] = {}
        self._collect(found, q, self._whole, self._side_whole, limit=limit)
        if len(found) < limit:  # token matches rank below every whole-name match
            self._collect(found, q, self._tokens, self._side_tokens, limit=limit)
        ranked = sorted(found.items(), key=lambda item: (-item[1][0], -self.doc_weight[item[0]], item[0]))
        hits = [self._hit(doc, tier, names) for doc, (tier, names) in ranked[:limit]]
        if len(hits) < min(limit, FUZZY_BELOW) and len(q) >= 3:
            hits += self._suggestions(q, exclude=set(found), limit=limit - len(hits))
        return hits

    def _collect(
        self, found: dict[int, list[Any]], q: str, keys: _SortedKeys, side: list[tuple[str, int]], *, limit: int
    ) -> None:
        whole = keys is self._whole
        equal, starting, heaviest_first = keys.matches(q.encode())
        tier = 2 if whole else 1
        for i in equal:
            self._found(found, keys.names[i], 3 if whole else tier)
        start = bisect.bisect_left(side, (q, -1))
        for key, name_id in side[start:]:
            if not key.startswith(q):
                break
            self._found(found, name_id, 3 if whole and key == q else tier)
        for i in starting:
            self._found(found, keys.names[i], tier)
            if heaviest_first and len(found) >= limit:  # the rest weigh less: they would not be shown
                break

    def _found(self, found: dict[int, list[Any]], name_id: int, tier: int) -> None:
        doc = self.name_doc[name_id]
        entry = found.get(doc)
        if entry is None:
            found[doc] = [tier, [name_id]]
        else:
            entry[0] = max(entry[0], tier)
            entry[1].append(name_id)

    def _hit(self, doc: int, tier: float, name_ids: Iterable[int], *, suggestion: bool = False) -> Hit:
        weight = self.doc_weight[doc]
        kinds, names = self.name_kind, self.names
        packages = sorted({(kinds[n], names[n]) for n in name_ids if kinds[n] != _REPO})  # registries in _KINDS order
        return Hit(
            score=round(tier + weight / (weight + 10), 4),
            completion=names[self.doc_repo[doc]],
            packages=tuple(Match(_KINDS[kind], name) for kind, name in packages),  # type: ignore[arg-type]
            versions=self.doc_versions[doc],
            suggestion=suggestion,
        )

    def _suggestions(self, q: str, *, exclude: set[int], limit: int) -> list[Hit]:
        if limit <= 0:
            return []
        lo, hi = self._whole.bounds(q[:2].encode())
        middle = bisect.bisect_left(range(hi), q.encode(), lo, hi, key=self._whole.key)
        start, end = max(lo, middle - _FUZZY_WINDOW), min(hi, middle + _FUZZY_WINDOW)
        ids = list(self._whole.names[start:end])
        # Compared with as much of each name as the query is long: "djnago" suggests "django-rest-framework".
        head = re.compile(f"^.{{0,{len(q)}}}", re.MULTILINE)
        prefixes = head.findall(self._whole.text(start, end)) if end > start else []
        start = bisect.bisect_left(self._side_whole, (q[:2], -1))
        for key, name_id in self._side_whole[start:]:
            if not key.startswith(q[:2]):
                break
            ids.append(name_id)
            prefixes.append(key[: len(q)])
        best: dict[int, tuple[float, list[int]]] = {}
        for _, score, i in process.extract(q, prefixes, scorer=fuzz.ratio, limit=limit * 4, score_cutoff=70):
            doc = self.name_doc[ids[i]]
            if doc in exclude:
                continue
            prev = best.get(doc)
            if prev is None or score > prev[0]:
                best[doc] = (score, [ids[i], *(prev[1] if prev else [])])
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], -self.doc_weight[item[0]], item[0]))[:limit]
        return [self._hit(doc, score / 100 - 1, names, suggestion=True) for doc, (score, names) in ranked]

    # ---- what it holds --------------------------------------------------------------------------------------------

    def counts(self) -> IndexCounts:
        """Repositories with a changelog, package names, and the versions of those changelogs."""
        return IndexCounts(
            repos=len(self.doc_crawled) - self.doc_crawled.count(0.0),
            packages=len(self.names) - len(self.doc_repo),
            versions=sum(self.doc_versions),
        )

    # ---- snapshots ------------------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A snapshot: the names, what ranks them and the sorted arrays, loaded by ``from_bytes`` without sorting."""
        if self._pending or not self._live:
            self.optimize()
        sections = [
            "\n".join(self.names).encode(),
            self.name_doc.tobytes(),
            bytes(self.name_kind),
            self.doc_repo.tobytes(),
            self.doc_versions.tobytes(),
            self.doc_packages.tobytes(),
            self.doc_crawled.tobytes(),
            *self._whole.dump(),
            *self._tokens.dump(),
        ]
        header = json.dumps({"feed_id": self.feed_id, "sizes": [len(s) for s in sections]}).encode()
        return b"".join([_MAGIC, struct.pack("<I", len(header)), header, *sections])

    @classmethod
    def from_bytes(cls, data: bytes) -> SearchIndex:
        """The index a snapshot holds; raises ``ValueError`` when ``data`` is not one."""
        if not data.startswith(_MAGIC):
            raise ValueError("not a search index snapshot")
        view = memoryview(data)
        at = len(_MAGIC)
        (size,) = struct.unpack_from("<I", data, at)
        header = json.loads(bytes(view[at + 4 : at + 4 + size]))
        at += 4 + size
        sections: list[bytes] = []
        for length in header["sizes"]:
            sections.append(bytes(view[at : at + length]))
            at += length
        index = cls()
        index.names = sections[0].decode().split("\n") if sections[0] else []
        index.name_doc = _array("I", sections[1])
        index.name_kind = bytearray(sections[2])
        index.doc_repo = _array("I", sections[3])
        index.doc_versions = _array("I", sections[4])
        index.doc_packages = _array("I", sections[5])
        index.doc_crawled = _array("d", sections[6])
        index._whole = _SortedKeys.load(*sections[7:13])
        index._tokens = _SortedKeys.load(*sections[13:19])
        index._reweigh()
        index._live = True
        index.feed_id = header["feed_id"]
        return index


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What a snapshot holds: ``built_at`` identifies it; ``feed_id`` is the crawled-feed position it includes."""

    built_at: str
    feed_id: str
    names: int
    size: int

    @classmethod
    def from_json(cls, data: bytes) -> SnapshotInfo:
        fields = json.loads(data)
        return cls(str(fields["built_at"]), str(fields["feed_id"]), int(fields["names"]), int(fields["size"]))


async def build_index(records: RecordStore, *, feed_id: str = "0-0") -> SearchIndex:
    """A fresh index of every repository with a changelog and every package name, read from the store.

    ``feed_id`` is the crawled feed's position taken before reading: events after it may or may not be in the
    store's answers, so whoever replays the feed from there misses nothing.
    """
    index = SearchIndex(bulk=True)
    index.feed_id = feed_id
    async for record in records.iter_repos():
        if record.outcome in (Outcome.OK, Outcome.UNCHANGED):
            index.add_repo(record.repo, versions=record.versions_count, crawled_at=record.crawled_at)
    async for package in records.iter_packages():
        index.add_package(package.registry, package.name, package.repo)
    await asyncio.to_thread(index.optimize)
    return index


async def write_snapshot(index: SearchIndex, artifacts: ArtifactStore) -> SnapshotInfo:
    """Store ``index`` for api processes to load at start (``load_snapshot``); the small meta key goes last."""
    data = await asyncio.to_thread(index.to_bytes)
    info = SnapshotInfo(dt.datetime.now(dt.UTC).isoformat(), index.feed_id, len(index), len(data))
    await artifacts.put(SNAPSHOT_KEY, data, content_type="application/octet-stream")
    await artifacts.put(SNAPSHOT_META_KEY, json.dumps(asdict(info)).encode(), content_type="application/json")
    return info


async def snapshot_info(artifacts: ArtifactStore) -> SnapshotInfo | None:
    """What the stored snapshot holds, or ``None`` when there is none (or it is unreadable)."""
    try:
        return SnapshotInfo.from_json(await artifacts.get(SNAPSHOT_META_KEY))
    except NotFound:
        return None
    except (ValueError, KeyError, TypeError):
        logger.warning("unreadable %s; ignoring the snapshot", SNAPSHOT_META_KEY)
        return None


async def load_snapshot(artifacts: ArtifactStore) -> SearchIndex | None:
    """The stored snapshot, or ``None`` when there is none or it is unreadable (the caller builds from the store)."""
    try:
        data = await artifacts.get(SNAPSHOT_KEY)
    except NotFound:
        return None
    try:
        return await asyncio.to_thread(SearchIndex.from_bytes, data)
    except (ValueError, KeyError, struct.error, UnicodeDecodeError):
        logger.warning("unreadable search snapshot %s; building from the store", SNAPSHOT_KEY)
        return None


async def index_crawl(index: SearchIndex, records: RecordStore, event: CrawledEvent) -> None:
    """Bring ``index`` up to date with a crawl: the repository's versions and every package pointing at it."""
    try:
        record = await records.get_repo(event.changelog)
    except NotFound:
        index.add_repo(event.changelog, crawled_at=event.crawledAt)
    else:
        index.add_repo(record.repo, versions=record.versions_count, crawled_at=event.crawledAt)
    for package in await records.packages_for_repo(event.changelog):
        index.add_package(package.registry, package.name, package.repo)
    if event.id:
        index.feed_id = event.id
