"""``/search``: the seed's shape plus the packages that matched, ranked, typo-tolerant, live."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.api.conftest import ApiServer


async def _search(client: httpx.AsyncClient, q: str) -> list[dict[str, object]]:
    response = await client.get("/search", params={"q": q})
    assert response.status_code == 200
    return response.json()


async def test_a_token_prefix_finds_the_repository_in_the_seed_shape_plus_packages(client: httpx.AsyncClient) -> None:
    hits = await _search(client, "rest")
    assert hits[0]["completion"] == "encode/django-rest-framework"
    assert {"score", "completion", "packages"} <= set(hits[0])
    assert isinstance(hits[0]["score"], float)


async def test_a_scoped_package_is_found_by_its_last_part_with_the_registry(client: httpx.AsyncClient) -> None:
    hits = await _search(client, "core")
    assert hits[0]["completion"] == "babel/babel"
    assert hits[0]["packages"] == [{"registry": "npm", "name": "@babel/core"}]


async def test_an_exact_name_ranks_before_prefixes(client: httpx.AsyncClient) -> None:
    hits = await _search(client, "HTTPX")
    assert [h["completion"] for h in hits][:1] == ["encode/httpx"]
    assert hits[0]["packages"] == [{"registry": "pypi", "name": "httpx"}]


async def test_a_typo_gets_suggestions(client: httpx.AsyncClient) -> None:
    hits = await _search(client, "djangorestfrmework")
    assert hits and hits[0]["completion"] == "encode/django-rest-framework"
    assert hits[0]["suggestion"] is True


async def test_a_package_of_a_repository_never_crawled_is_found(client: httpx.AsyncClient) -> None:
    hits = await _search(client, "rack-att")
    assert hits[0]["completion"] == "rack/rack-attack"
    assert hits[0]["versions"] == 0


@pytest.mark.parametrize(
    "q",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("%00", id="nul"),
        pytest.param("\u202e\u0000<script>", id="control-and-markup"),
        pytest.param("../../etc/passwd", id="path"),
        pytest.param("ü" * 150, id="long-unicode"),
    ],
)
async def test_odd_queries_answer_an_empty_or_short_list(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get("/search", params={"q": q})
    assert response.status_code == 200
    assert isinstance(response.json(), list)


async def test_a_huge_query_is_a_clear_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "a" * 5000})
    assert response.status_code == 422
    assert "aaaa" not in response.text


async def test_a_crawled_event_makes_a_new_repository_searchable(api: ApiServer, client: httpx.AsyncClient) -> None:
    assert not [h for h in await _search(client, "brandnew") if h["completion"] == "fresh/brandnew-lib"]
    await api.publish("fresh/brandnew-lib", "3.0.0")
    for _ in range(100):
        if any(h["completion"] == "fresh/brandnew-lib" for h in await _search(client, "brandnew")):
            return
        await asyncio.sleep(0.05)
    pytest.fail("the crawled repository never became searchable")
