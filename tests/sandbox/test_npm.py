"""The npm fakes: the replication feed and the registry (docs/API-NOTES.md §4)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from sandbox import World, npm
from tests.sandbox.conftest import NOW, recorded


async def _all_changes(client: httpx.AsyncClient, limit: int) -> list[dict[str, Any]]:
    rows, since = [], 0
    while True:
        page = (await client.get("/registry/_changes", params={"since": since, "limit": limit})).json()
        rows += page["results"]
        since = page["last_seq"]
        if len(page["results"]) < limit:
            return rows


async def test_changes_have_the_2025_shape(replicate_client: httpx.AsyncClient) -> None:
    page = (await replicate_client.get("/registry/_changes", params={"since": 0, "limit": 20})).json()
    assert set(page) == {"results", "last_seq"} and isinstance(page["last_seq"], int)
    recorded_row = recorded("npm/changes_include_docs.json")["results"][0]
    for row in page["results"]:
        assert set(row) - {"deleted"} == set(recorded_row) - {"doc"}
        assert isinstance(row["seq"], int) and row["changes"][0]["rev"].split("-")[0].isdigit()
    assert page["last_seq"] == page["results"][-1]["seq"]


async def test_paging_by_last_seq_visits_every_row_once_in_order(
    world: World, replicate_client: httpx.AsyncClient
) -> None:
    rows = await _all_changes(replicate_client, 37)
    seqs = [row["seq"] for row in rows]
    assert len(rows) == world.npm_prefilled() and seqs == sorted(set(seqs))
    assert seqs[-1] == world.npm_update_seq()


async def test_world_counts_the_feed_rows_that_name_a_github_repository(
    world: World, replicate_client: httpx.AsyncClient
) -> None:
    world.publish("npm")
    rows = await _all_changes(replicate_client, 500)
    names = {p["name"] for p in world.summary()["packages"]["github"] if p["registry"] == "npm"}
    wanted = [r["id"] for r in rows if not r.get("deleted") and r["id"] in names]
    counts = world.summary()["counts"]["npm_feed"]
    assert counts["rows"] == len(rows) and counts["deleted"] == sum(bool(r.get("deleted")) for r in rows)
    assert counts["with_github_repo"] == len(wanted) and counts["packages_with_github_repo"] == len(set(wanted))


async def test_feed_holds_deleted_design_scoped_and_repeated_documents() -> None:
    world = World(seed=7, packages=2000, now=NOW)
    transport = httpx.ASGITransport(app=npm.create_replicate_app(world))
    async with httpx.AsyncClient(transport=transport, base_url="http://replicate.test") as client:
        rows = await _all_changes(client, 10_000)
    ids = [row["id"] for row in rows]
    assert any(row.get("deleted") for row in rows)
    assert any(i.startswith("_design/") for i in ids)
    assert any(i.startswith("@") for i in ids)
    assert len(set(ids)) < len(ids)
    registry = {world.package(i).name: world.package(i) for i in world.packages_of("npm")}
    assert any(registry[i].repo is None for i in ids if i in registry)
    assert any(registry[i].huge for i in ids if i in registry)


async def test_database_info_reports_update_seq(world: World, replicate_client: httpx.AsyncClient) -> None:
    for path in ("/registry/", "/registry"):
        info = (await replicate_client.get(path)).json()
        assert info["db_name"] == "registry" and info["update_seq"] == world.npm_update_seq()


async def test_since_now_and_bad_parameters(world: World, replicate_client: httpx.AsyncClient) -> None:
    now = (await replicate_client.get("/registry/_changes", params={"since": "now"})).json()
    assert now == {"results": [], "last_seq": world.npm_update_seq()}
    bad = await replicate_client.get("/registry/_changes", params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"


async def test_published_release_is_appended_to_the_feed(world: World, replicate_client: httpx.AsyncClient) -> None:
    head = world.npm_update_seq()
    release = world.publish("npm")
    page = (await replicate_client.get("/registry/_changes", params={"since": head})).json()
    assert [row["id"] for row in page["results"]] == [release["package"]]
    assert page["last_seq"] == world.npm_update_seq() > head


async def test_packument_has_the_recorded_shape(world: World, registry_client: httpx.AsyncClient) -> None:
    package = next(world.package(i) for i in world.packages_of("npm") if world.package(i).repo)
    data = (await registry_client.get(f"/{package.name.replace('/', '%2F')}")).json()
    theirs = recorded("npm/packument_is-stream.json")
    assert set(theirs) - {"keywords", "bugs", "users"} <= set(data)
    assert data["dist-tags"]["latest"] == package.latest and list(data["versions"]) == list(package.versions)
    assert set(data["time"]) == {"created", "modified", *package.versions}


async def test_latest_manifest_has_the_recorded_shape_and_scoped_names_work(
    world: World, registry_client: httpx.AsyncClient
) -> None:
    scoped = next(world.package(i) for i in world.packages_of("npm") if world.package(i).name.startswith("@"))
    response = await registry_client.get(f"/{scoped.name.replace('/', '%2F')}/latest")
    data = response.json()
    assert response.status_code == 200 and data["name"] == scoped.name and data["version"] == scoped.latest
    theirs = recorded("npm/version_etag_1.0.0.json")
    assert set(theirs) - {"_from", "keywords"} <= set(data) | {"repository", "homepage", "bugs"}
    assert set(theirs["dist"]) <= set(data["dist"])
    by_version = await registry_client.get(f"/{scoped.name.replace('/', '%2F')}/{scoped.versions[0]}")
    assert by_version.json()["version"] == scoped.versions[0]


async def test_unknown_package_and_version_are_404(world: World, registry_client: httpx.AsyncClient) -> None:
    missing = await registry_client.get("/@nobody%2Fno-such-package/latest")
    assert missing.status_code == 404 and missing.json() == {"error": "Not found"}
    package = world.package(world.packages_of("npm")[0])
    assert (await registry_client.get(f"/{package.name.replace('/', '%2F')}/99.99.99")).status_code == 404


def _form(field: Any) -> str:
    if field is None:
        return "missing"
    if isinstance(field, list):
        return "array"
    if isinstance(field, dict) and "directory" in field:
        return "object-with-directory"
    url = field["url"] if isinstance(field, dict) else field
    if url.startswith("github:"):
        return "github:"
    if re.fullmatch(r"[\w.-]+/[\w.-]+", url):
        return "owner/repo"
    if "/tree/" in url:
        return "tree-url"
    for host in ("gitlab", "bitbucket", "codeberg", "gist"):
        if host in url:
            return host
    return url.split("://")[0] if "://" in url else "scp"


def test_repository_takes_every_real_form() -> None:
    world = World(seed=3, packages=3000, now=NOW)
    forms = {_form(npm.repository(world.package(index))) for index in world.packages_of("npm")}
    assert forms == {
        "missing", "array", "object-with-directory", "github:", "owner/repo", "tree-url", "gitlab", "bitbucket",
        "codeberg", "gist", "git+https", "git", "https", "git+ssh", "scp",
    }  # fmt: skip


async def test_malformed_feed_body_does_not_parse(world: World, replicate_client: httpx.AsyncClient) -> None:
    world.control.set_faults("npm", malformed_rate=1.0)
    response = await replicate_client.get("/registry/_changes", params={"since": 0, "limit": 50})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert world.control.stats["npm"].faults["malformed"] == 1


async def test_429_carries_retry_after(world: World, registry_client: httpx.AsyncClient) -> None:
    world.control.set_faults("npm", error_rate=1.0, error_statuses=[429], retry_after_s=4)
    response = await registry_client.get("/anything")
    assert response.status_code == 429 and response.headers["retry-after"] == "4"
