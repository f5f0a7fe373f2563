"""The search index: keys, ranking tiers and weights, live additions, typo suggestions, snapshots."""

from __future__ import annotations

import datetime as dt

import pytest

from core.search import FUZZY_BELOW, SearchIndex

NOW = dt.datetime.now(dt.UTC)


def _index(*, optimize: bool = True) -> SearchIndex:
    index = SearchIndex(bulk=optimize)
    index.add_repo("encode/django-rest-framework", versions=120, crawled_at=NOW)
    index.add_package("pypi", "djangorestframework", "encode/django-rest-framework")
    index.add_repo("django/django", versions=300, crawled_at=NOW)
    index.add_package("pypi", "Django", "django/django")
    index.add_repo("babel/babel", versions=500, crawled_at=NOW)
    index.add_package("npm", "@babel/core", "babel/babel")
    index.add_package("npm", "@babel/cli", "babel/babel")
    index.add_repo("restify/node-restify", versions=10, crawled_at=NOW - dt.timedelta(days=700))
    index.add_package("npm", "restify", "restify/node-restify")
    index.add_repo("someone/rest-client", versions=3)
    index.add_package("rubygems", "rest-client", "someone/rest-client")
    if optimize:
        index.optimize()
    return index


def _completions(index: SearchIndex, q: str, **kw: int) -> list[str]:
    return [h.completion for h in index.search(q, **kw)]


@pytest.mark.parametrize("optimize", [pytest.param(True, id="sorted-arrays"), pytest.param(False, id="live-only")])
def test_a_prefix_of_any_word_matches(optimize: bool) -> None:
    index = _index(optimize=optimize)
    assert "encode/django-rest-framework" in _completions(index, "frame")
    assert _completions(index, "core")[0] == "babel/babel"


def test_matching_ignores_case() -> None:
    assert _completions(_index(), "DJANGO")[0] == "django/django"


def test_tiers_rank_exact_then_whole_name_prefix_then_word_prefix() -> None:
    hits = _index().search("rest")
    # "rest" starts the names restify and rest-client (the heavier first) and is a word of django-rest-framework.
    assert [h.completion for h in hits][:3] == [
        "restify/node-restify",
        "someone/rest-client",
        "encode/django-rest-framework",
    ]
    assert hits[0].score > hits[2].score
    exact = _index().search("restify")
    assert exact[0].completion == "restify/node-restify" and exact[0].score >= 3


def test_within_a_tier_more_packages_and_versions_rank_first() -> None:
    index = _index()
    index.add_repo("tiny/djangoish", versions=1)
    assert _completions(index, "djang")[:2] == ["django/django", "encode/django-rest-framework"]


def test_hits_carry_the_package_names_that_matched_with_their_registry() -> None:
    hit = _index().search("@babel/c")[0]
    assert hit.completion == "babel/babel"
    assert [(m.registry, m.name) for m in hit.packages] == [("npm", "@babel/cli"), ("npm", "@babel/core")]
    assert hit.as_json()["packages"] == [
        {"registry": "npm", "name": "@babel/cli"},
        {"registry": "npm", "name": "@babel/core"},
    ]
    assert {"score", "completion"} <= set(hit.as_json())


def test_names_added_after_optimize_are_found_at_once() -> None:
    index = _index()
    index.add_package("npm", "left-pad", "left-pad/left-pad")
    assert _completions(index, "pad")[0] == "left-pad/left-pad"
    assert _completions(index, "left")[0] == "left-pad/left-pad"


def test_a_package_that_moves_to_another_repository_follows_it() -> None:
    index = _index()
    index.add_package("npm", "restify", "restify/restify")
    assert _completions(index, "restify")[0] == "restify/restify"
    assert index.counts().packages == 6


def test_typos_get_suggestions_after_the_exact_matches() -> None:
    hits = _index().search("djnago")
    assert hits and hits[0].suggestion and hits[0].completion == "django/django"
    assert not any(h.suggestion for h in _index().search("django", limit=2))


def test_suggestions_fill_up_to_fuzzy_below() -> None:
    index = SearchIndex()
    for i in range(30):
        index.add_repo(f"owner{i}/widget-{i}", versions=1)
    index.optimize()
    hits = index.search("widgte")
    assert 0 < len(hits) <= FUZZY_BELOW and all(h.suggestion for h in hits)


def test_a_prefix_with_thousands_of_names_returns_the_heaviest() -> None:
    index = SearchIndex()
    for i in range(3000):
        index.add_repo(f"org/app-{i:04d}", versions=i)
    index.optimize()
    assert _completions(index, "app", limit=3) == ["org/app-2999", "org/app-2998", "org/app-2997"]
    assert _completions(index, "a", limit=1) == ["org/app-2999"]


@pytest.mark.parametrize("q", ["", "   ", "\x00", "zzzzzz", "/", "-", "ü" * 500])
def test_odd_queries_do_not_fail(q: str) -> None:
    assert isinstance(_index().search(q), list)


def test_counts_hold_repositories_with_a_changelog_packages_and_versions() -> None:
    counts = _index().counts()
    assert (counts.repos, counts.packages, counts.versions) == (4, 6, 933)


def test_a_snapshot_round_trip_gives_the_same_answers_and_accepts_live_names() -> None:
    index = _index()
    index.feed_id = "1700000000000-3"
    index.add_package("npm", "late-arrival", "late/arrival")
    loaded = SearchIndex.from_bytes(index.to_bytes())
    assert loaded.feed_id == "1700000000000-3"
    for q in ("rest", "core", "djnago", "late", "babel"):
        assert loaded.search(q) == index.search(q)
    loaded.add_repo("new/thing", versions=2)
    assert _completions(loaded, "thing") == ["new/thing"]


def test_something_else_is_not_a_snapshot() -> None:
    with pytest.raises(ValueError):
        SearchIndex.from_bytes(b"PK\x03\x04 a zip file")
