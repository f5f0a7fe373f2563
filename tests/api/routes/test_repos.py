"""The JSON API: changelogs, upgrade ranges, packages, crawl requests, recent crawls; bad input is a clear 4xx."""

from __future__ import annotations

import httpx
import pytest

from core.queue import open_queue
from tests.api.conftest import ApiServer


async def test_a_changelog_keeps_the_seed_fields_and_adds_the_extras(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/github/Encode/HTTPX")
    assert response.status_code == 200
    doc = response.json()
    assert {"crawledAt", "href", "repo", "changelog", "contents"} <= set(doc)
    assert doc["packages"] == [{"registry": "pypi", "name": "httpx"}]
    assert doc["source"]["path"] == "CHANGELOG.md"
    assert [v["version"] for v in doc["contents"]] == ["0.28.1", "0.28.0", "0.27.2", "0.27.0"]
    assert all({"version", "date", "body", "html"} <= set(v) for v in doc["contents"])


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        pytest.param(("0.27.0", "0.28.1"), ["0.28.1", "0.28.0", "0.27.2"], id="upgrade"),
        pytest.param(("0.28.1", "0.27.0"), ["0.28.1", "0.28.0", "0.27.2"], id="either-order"),
        pytest.param(("0.28.0", "0.28.1"), ["0.28.1"], id="one-step"),
        pytest.param(("0.28.1", "0.28.1"), [], id="same-version"),
    ],
)
async def test_a_range_holds_the_versions_after_from_up_to_to(
    client: httpx.AsyncClient, bounds: tuple[str, str], expected: list[str]
) -> None:
    response = await client.get("/api/github/encode/httpx/range", params={"from": bounds[0], "to": bounds[1]})
    assert response.status_code == 200
    assert [v["version"] for v in response.json()["versions"]] == expected


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        pytest.param("/api/github/encode/httpx/range", {"from": "banana", "to": "1.0"}, 400, id="not-a-version"),
        pytest.param("/api/github/encode/httpx/range", {"from": "1.0"}, 422, id="missing-bound"),
        pytest.param("/api/github/encode/httpx/range", {"from": "1" * 500, "to": "2"}, 422, id="huge-bound"),
        pytest.param("/api/github/nobody/nothing/range", {"from": "1", "to": "2"}, 404, id="unknown-repo"),
        pytest.param("/api/github/nobody/nothing", {}, 404, id="never-crawled"),
        pytest.param("/api/github/-bad/name", {}, 404, id="owner-starting-with-dash"),
        pytest.param("/api/github/a/..", {}, 404, id="dot-dot-repo"),
        pytest.param("/api/github/..%2F..%2Fetc/passwd", {}, 404, id="encoded-traversal"),
        pytest.param("/api/github/a/b%00c", {}, 404, id="nul"),
        pytest.param("/api/github/" + "a" * 300 + "/b", {}, 422, id="huge-owner"),
        pytest.param("/api/packages/cpan/Moose", {}, 422, id="unknown-registry"),
        pytest.param("/api/packages/npm/left-pad-never", {}, 404, id="unknown-package"),
        pytest.param("/api/recently-crawled", {"limit": "100000"}, 422, id="huge-limit"),
        pytest.param("/api/recently-crawled", {"limit": "ten"}, 422, id="odd-limit"),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == status
    assert "detail" in response.json()


async def test_a_scoped_npm_package_points_at_its_repository(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/packages/npm/@babel/core")
    assert response.status_code == 200
    assert response.json() | {"version": None} == {
        "registry": "npm",
        "name": "@babel/core",
        "repo": "babel/babel",
        "version": None,
        "directory": None,
        "href": "/api/github/babel/babel",
        "crawled": True,
    }


async def test_a_crawl_asked_for_from_the_site_is_queued_once(api: ApiServer, client: httpx.AsyncClient) -> None:
    first = await client.post("/api/github/rack/rack-attack/crawl")
    again = await client.post("/api/github/rack/rack-attack/crawl")
    assert first.status_code == again.status_code == 202
    assert first.json() == {"repo": "rack/rack-attack", "status": "pending", "queued": True}
    queue = open_queue(api.settings)
    try:
        messages = await queue.receive(max_messages=10, wait_s=1)
    finally:
        await queue.aclose()
    assert [(m.discovery.registry, m.discovery.repo) for m in messages] == [("site", "rack/rack-attack")]


async def test_a_crawled_repository_is_not_queued_again(api: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.post("/api/github/encode/httpx/crawl")
    assert response.json() == {"repo": "encode/httpx", "status": "crawled", "queued": False}
    assert (await client.get("/api/github/encode/httpx/status")).json()["status"] == "crawled"
    queue = open_queue(api.settings)
    try:
        assert await queue.receive(max_messages=10, wait_s=0.2) == []
    finally:
        await queue.aclose()


async def test_recently_crawled_lists_the_newest_first_with_ids(api: ApiServer, client: httpx.AsyncClient) -> None:
    first = await api.publish("a/first")
    second = await api.publish("a/second")
    response = await client.get("/api/recently-crawled", params={"limit": 2})
    assert [(e["changelog"], e["id"]) for e in response.json()] == [("a/second", second.id), ("a/first", first.id)]


async def test_healthz_reports_what_is_indexed(client: httpx.AsyncClient) -> None:
    body = (await client.get("/healthz")).json()
    assert body["status"] == "ok"
    assert body["indexed"] == {"repos": 4, "packages": 6, "versions": 14}
