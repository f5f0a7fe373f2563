"""The ``/_sandbox/`` control API, answered by every app."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from sandbox import World, github, npm, pypi, rubygems

FACTORIES = [
    pytest.param(pypi.create_app, id="pypi"),
    pytest.param(rubygems.create_app, id="rubygems"),
    pytest.param(npm.create_replicate_app, id="npm-replicate"),
    pytest.param(npm.create_registry_app, id="npm-registry"),
    pytest.param(github.create_app, id="github"),
]


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://any.test")


@pytest.mark.parametrize("factory", FACTORIES)
async def test_every_app_answers_the_control_api_without_counting_it(
    world: World, factory: Callable[[World], Starlette]
) -> None:
    async with _client(factory(world)) as client:
        stats = (await client.get("/_sandbox/stats")).json()
        summary = (await client.get("/_sandbox/world")).json()
        published = (await client.post("/_sandbox/publish", json={"registry": "npm", "package": None})).json()
        assert (await client.post("/_sandbox/reset-stats")).status_code == 200
        after = (await client.get("/_sandbox/stats")).json()
    assert set(stats) == {"github", "npm", "pypi", "rubygems", "budget"}
    assert all(stats[s]["requests"] == 0 for s in ("github", "npm", "pypi", "rubygems"))
    assert set(summary) >= {"counts", "repos", "packages", "special"}
    assert set(published) == {"registry", "package", "version", "repo", "directory"}
    assert after["npm"]["requests"] == 0


async def test_faults_are_validated_merged_and_cleared(world: World) -> None:
    async with _client(pypi.create_app(world)) as client:
        unknown_service = await client.post("/_sandbox/faults", json={"service": "cargo", "error_rate": 1})
        unknown_fault = await client.post("/_sandbox/faults", json={"service": "npm", "explode": 1})
        first = (await client.post("/_sandbox/faults", json={"service": "github", "latency_ms": 50})).json()
        merged = (await client.post("/_sandbox/faults", json={"service": "github", "error_rate": 0.1})).json()
        cleared = (await client.post("/_sandbox/faults", json={"service": "all", "clear": True})).json()
    assert unknown_service.status_code == 400 and unknown_fault.status_code == 400
    assert first["github"]["latency_ms"] == 50
    assert merged["github"]["latency_ms"] == 50 and merged["github"]["error_rate"] == 0.1
    assert set(cleared) == {"github", "npm", "pypi", "rubygems"}
    assert all(f["error_rate"] == 0 and f["latency_ms"] == 0 for f in cleared.values())


async def test_budget_is_set_for_every_token(world: World) -> None:
    async with _client(github.create_app(world)) as client:
        headers = {"User-Agent": "t", "Authorization": "token abc"}
        await client.get("/rate_limit", headers=headers)
        bad = await client.post("/_sandbox/budget", json={"reset_in_s": 5})
        assert (await client.post("/_sandbox/budget", json={"remaining": 3, "reset_in_s": 60})).status_code == 200
        core = (await client.get("/rate_limit", headers=headers)).json()["resources"]["core"]
        fresh = (await client.get("/rate_limit", headers={**headers, "Authorization": "token new"})).json()
    assert bad.status_code == 400
    assert core["remaining"] == 3 and fresh["resources"]["core"]["remaining"] == 3


async def test_publish_rejects_an_unknown_registry(world: World) -> None:
    async with _client(npm.create_registry_app(world)) as client:
        response = await client.post("/_sandbox/publish", json={"registry": "cargo"})
    assert response.status_code == 400 and "unknown registry" in response.json()["error"]


async def test_stats_count_requests_routes_statuses_and_repositories(world: World) -> None:
    repo = world.summary()["repos"]["changelog"][0]["repo"]
    async with _client(github.create_app(world)) as client:
        for path in (f"/repos/{repo}", f"/repos/{repo}/contents", "/repos/nobody/none", "/rate_limit"):
            await client.get(path, headers={"User-Agent": "t"})
        stats = (await client.get("/_sandbox/stats")).json()["github"]
    assert stats["requests"] == 4 and stats["charged"] == 3
    assert stats["routes"] == {"contents": 1, "rate_limit": 1, "repo": 2}
    assert stats["statuses"] == {"200": 3, "404": 1}
    assert stats["repos"] == {repo: 2}
