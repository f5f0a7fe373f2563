"""The RubyGems fake against the recorded responses and rubygems.org's behaviour (docs/API-NOTES.md §3)."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox import World, rubygems
from tests.sandbox.conftest import NOW, recorded


def _gem(world: World, index: int = 0) -> Any:
    return world.package(world.packages_of("rubygems")[index])


async def test_gem_payload_has_the_recorded_fields(world: World, rubygems_client: httpx.AsyncClient) -> None:
    gem = _gem(world)
    response = await rubygems_client.get(f"/api/v1/gems/{gem.name}.json")
    data = response.json()
    assert set(recorded("rubygems/gems_activerecord.json")) <= set(data)
    assert data["name"] == gem.name and data["version"] == gem.latest
    assert all(isinstance(v, str) for v in data["metadata"].values())
    assert response.headers["cache-control"] == "public, max-age=60"


async def test_uri_fields_mirror_the_metadata(world: World, rubygems_client: httpx.AsyncClient) -> None:
    for index in world.packages_of("rubygems")[:30]:
        data = (await rubygems_client.get(f"/api/v1/gems/{world.package(index).name}.json")).json()
        for key in ("source_code_uri", "changelog_uri", "bug_tracker_uri"):
            assert data["metadata"].get(key) == data[key]


async def test_versions_are_listed_newest_first_in_the_recorded_shape(
    world: World, rubygems_client: httpx.AsyncClient
) -> None:
    gem = next(p for p in map(world.package, world.packages_of("rubygems")) if len(p.versions) > 3)
    rows = (await rubygems_client.get(f"/api/v1/versions/{gem.name}.json")).json()
    assert set(recorded("rubygems/versions_zuck.json")[0]) <= set(rows[0])
    assert [row["number"] for row in rows] == list(reversed(gem.versions))


async def test_unknown_gem_is_a_text_404(rubygems_client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/gems/no_such_gem.json", "/api/v1/versions/no_such_gem.json"):
        response = await rubygems_client.get(path)
        assert response.status_code == 404 and response.text == "This rubygem could not be found."
        assert response.headers["content-type"].startswith("text/plain")


async def test_latest_lists_the_50_newest_gems_newest_first(world: World, rubygems_client: httpx.AsyncClient) -> None:
    rows = (await rubygems_client.get("/api/v1/activity/latest.json")).json()
    assert len(rows) == 50 and len({row["name"] for row in rows}) == 50
    firsts = [world.find_package("rubygems", row["name"]).times[0] for row in rows]  # type: ignore[union-attr]
    assert firsts == sorted(firsts, reverse=True)
    newest_overall = max(world.package(i).times[0] for i in world.packages_of("rubygems"))
    assert firsts[0] == newest_overall


async def test_just_updated_lists_versions_of_the_last_six_months_newest_first(
    world: World, rubygems_client: httpx.AsyncClient
) -> None:
    rows = (await rubygems_client.get("/api/v1/activity/just_updated.json")).json()
    assert 0 < len(rows) <= 50
    stamps = [row["version_created_at"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert all(len(world.find_package("rubygems", row["name"]).versions) > 1 for row in rows)  # type: ignore[union-attr]


async def test_published_versions_lead_the_activity_feeds(world: World, rubygems_client: httpx.AsyncClient) -> None:
    existing = world.publish("rubygems", _gem(world, 2).name)
    new = world.publish("rubygems", "brand_new_gem")
    updated = (await rubygems_client.get("/api/v1/activity/just_updated.json")).json()
    latest = (await rubygems_client.get("/api/v1/activity/latest.json")).json()
    assert (updated[0]["name"], updated[0]["version"]) == (existing["package"], existing["version"])
    assert (latest[0]["name"], latest[0]["version"]) == ("brand_new_gem", new["version"])


async def test_more_than_ten_requests_a_second_get_429_with_retry_after() -> None:
    transport = httpx.ASGITransport(app=rubygems.create_app(World(seed=7, packages=40, now=NOW)))
    async with httpx.AsyncClient(transport=transport, base_url="http://rubygems.test") as client:
        responses = [await client.get("/api/v1/activity/latest.json") for _ in range(25)]
    statuses = [r.status_code for r in responses]
    assert 200 in statuses and 429 in statuses
    assert statuses.count(200) <= 20  # at most two one-second windows of ten
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] == "1"
