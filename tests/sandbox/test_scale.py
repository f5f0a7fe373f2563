"""A 100,000-package world is built in seconds, in modest memory, and served."""

from __future__ import annotations

import gc
import random
import time
import xmlrpc.client

import httpx
import psutil
import pytest

from sandbox import World, github, npm, pypi, rubygems

pytestmark = pytest.mark.e2e


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://sandbox.test",
        headers={"User-Agent": "scale-test", "Authorization": "Bearer scale"},
    )


async def test_100000_package_world_is_built_and_served(capsys: pytest.CaptureFixture[str]) -> None:
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    started = time.perf_counter()
    world = World(seed=1, packages=100_000, npm_changes=100_000)
    built_s = time.perf_counter() - started
    built_mb = (process.memory_info().rss - before) / 2**20

    rng = random.Random(1)
    started = time.perf_counter()
    summary = world.summary()
    summary_s = time.perf_counter() - started
    assert summary["counts"]["packages"] == 100_000
    async with (
        _client(npm.create_replicate_app(world)) as replicate,
        _client(npm.create_registry_app(world)) as registry,
    ):
        page = (await replicate.get("/registry/_changes", params={"since": 0, "limit": 10_000})).json()
        assert len(page["results"]) == 10_000
        tail = (await replicate.get("/registry/_changes", params={"since": page["last_seq"], "limit": 100_000})).json()
        assert len(page["results"]) + len(tail["results"]) == 100_000
        for row in rng.sample([r for r in page["results"] if not r.get("deleted") and "_design" not in r["id"]], 200):
            response = await registry.get(f"/{row['id'].replace('/', '%2F')}/latest")
            assert response.status_code == 200
    async with _client(github.create_app(world)) as api:
        for entry in rng.sample(summary["repos"]["changelog"], 200):
            listing = await api.get(f"/repos/{entry['repo']}/contents", follow_redirects=True)
            assert listing.status_code == 200
    async with _client(pypi.create_app(world)) as index:
        body = xmlrpc.client.dumps((), "changelog_last_serial")
        assert (await index.post("/pypi", content=body, headers={"Content-Type": "text/xml"})).status_code == 200
        for i in rng.sample(world.packages_of("pypi"), 100):
            assert (await index.get(f"/pypi/{world.package(i).name}/json")).status_code == 200
    async with _client(rubygems.create_app(world)) as gems:
        assert len((await gems.get("/api/v1/activity/latest.json")).json()) == 50
    served_mb = (process.memory_info().rss - before) / 2**20

    with capsys.disabled():
        print(
            f"\n100k world: built in {built_s:.2f} s (+{built_mb:.0f} MB RSS); summary in {summary_s:.2f} s; "
            f"after serving +{served_mb:.0f} MB RSS"
        )
    assert built_s < 10
    assert served_mb < 400
