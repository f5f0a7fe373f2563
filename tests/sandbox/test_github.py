"""The GitHub fake against the recorded responses and the documented rules (docs/API-NOTES.md §1)."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from typing import Any

import httpx
import pytest

from sandbox import World
from tests.sandbox.conftest import recorded

AUTH = {"Authorization": "Bearer test-token"}
# fields GitHub adds only for admins or organisation members; the fake answers as a stranger would see it
PRIVILEGED = {
    "permissions", "temp_clone_token", "allow_squash_merge", "allow_merge_commit", "allow_rebase_merge",
    "allow_auto_merge", "delete_branch_on_merge", "allow_update_branch", "use_squash_pr_title_as_default",
    "organization",
}  # fmt: skip


def _first(world: World, outcome: str, **conditions: Any) -> dict[str, Any]:
    entries = world.summary()["repos"][outcome]
    return next(e for e in entries if all(e.get(k) == v for k, v in conditions.items()))


def _repo_with_releases(world: World, minimum: int) -> str:
    for entry in world.summary()["repos"]["releases-only"]:
        if entry["releases"] >= minimum:
            return entry["repo"]
    raise AssertionError(f"no repository with {minimum} releases")


async def test_repository_has_the_public_fields_and_types_of_the_recorded_one(
    world: World, github_client: httpx.AsyncClient
) -> None:
    repo = _first(world, "changelog", source="authored")["repo"]
    ours = (await github_client.get(f"/repos/{repo}")).json()
    for sample in ("github/repos_pantsbuild_pants.json", "github/repos_gocardless_statesman.json"):
        theirs = recorded(sample)
        assert set(theirs) - PRIVILEGED <= set(ours)
        for key in set(theirs) & set(ours) - {"homepage", "mirror_url", "license", "description", "language"}:
            assert type(ours[key]) is type(theirs[key]), key
    assert set(recorded("github/repos_pantsbuild_pants.json")["owner"]) <= set(ours["owner"])
    assert ours["full_name"] == repo


async def test_directory_listing_items_have_exactly_the_recorded_fields(
    world: World, github_client: httpx.AsyncClient
) -> None:
    repo = _first(world, "changelog", path="CHANGELOG.md")["repo"]
    listing = (await github_client.get(f"/repos/{repo}/contents/")).json()
    expected = set(recorded("github/contents_scrapy_root.json")[0])
    assert listing and all(set(item) == expected for item in listing)
    assert {"README.md", "LICENSE", "CHANGELOG.md"} <= {item["name"] for item in listing}
    assert all((item["download_url"] is None) == (item["type"] == "dir") for item in listing)


async def test_file_content_is_base64_wrapped_every_60_characters(
    world: World, github_client: httpx.AsyncClient
) -> None:
    entry = _first(world, "changelog", source="authored", path="CHANGELOG.md")
    data = (await github_client.get(f"/repos/{entry['repo']}/contents/CHANGELOG.md")).json()
    assert data["type"] == "file" and data["encoding"] == "base64"
    lines = data["content"].split("\n")
    assert lines[-1] == "" and all(len(line) == 60 for line in lines[:-2]) and 0 < len(lines[-2]) <= 60
    text = base64.b64decode(data["content"]).decode()
    assert text.startswith("# Changelog") and len(text.encode()) == data["size"]
    assert set(data) == {"name", "path", "sha", "size", "url", "html_url", "git_url", "download_url", "type",
                         "content", "encoding", "_links"}  # fmt: skip


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param("application/vnd.github.raw+json", id="raw"),
        pytest.param("application/vnd.github.v3.raw", id="v3-raw"),
    ],
)
async def test_raw_media_types_return_the_bytes(world: World, github_client: httpx.AsyncClient, accept: str) -> None:
    entry = _first(world, "changelog", path="CHANGELOG.md")
    url = f"/repos/{entry['repo']}/contents/CHANGELOG.md"
    encoded = (await github_client.get(url)).json()["content"]
    raw = await github_client.get(url, headers={"Accept": accept})
    assert raw.status_code == 200 and raw.content == base64.b64decode(encoded)
    assert raw.headers["content-type"].startswith("application/vnd.github")


async def test_download_url_serves_the_file_without_spending_budget(
    world: World, github_client: httpx.AsyncClient
) -> None:
    entry = _first(world, "changelog", path="CHANGELOG.md")
    data = (await github_client.get(f"/repos/{entry['repo']}/contents/CHANGELOG.md", headers=AUTH)).json()
    before = int((await github_client.get("/rate_limit", headers=AUTH)).json()["resources"]["core"]["remaining"])
    raw = await github_client.get(data["download_url"], headers=AUTH)
    after = (await github_client.get("/rate_limit", headers=AUTH)).json()["resources"]["core"]["remaining"]
    assert raw.status_code == 200 and len(raw.content) == data["size"]
    assert after == before
    assert "x-ratelimit-remaining" not in raw.headers


async def test_file_over_one_megabyte_comes_without_content(world: World, github_client: httpx.AsyncClient) -> None:
    huge = world.summary()["special"]["huge"]
    data = (await github_client.get(f"/repos/{huge['repo']}/contents/{huge['path']}")).json()
    assert data["content"] == "" and data["encoding"] == "none" and data["size"] == 50 * 1024 * 1024
    async with github_client.stream("GET", data["download_url"]) as raw:
        assert raw.headers["content-length"] == str(50 * 1024 * 1024)
        first = await anext(raw.aiter_bytes())
    assert first.startswith(b"#") or first[:1].isalnum()


async def test_every_200_has_a_stable_strong_etag_and_a_match_gets_304(
    world: World, github_client: httpx.AsyncClient
) -> None:
    repo = _first(world, "changelog")["repo"]
    for path in (f"/repos/{repo}", f"/repos/{repo}/contents", f"/repos/{repo}/releases"):
        first = await github_client.get(path, headers=AUTH)
        again = await github_client.get(path, headers=AUTH)
        assert re.fullmatch(r'"[0-9a-f]{32,40}"', first.headers["etag"]), path
        assert again.headers["etag"] == first.headers["etag"]
        cached = await github_client.get(path, headers={**AUTH, "If-None-Match": first.headers["etag"]})
        assert cached.status_code == 304 and cached.content == b""


async def test_authorised_304_spends_no_budget_and_anonymous_304_does(
    world: World, github_client: httpx.AsyncClient
) -> None:
    repo = _first(world, "changelog")["repo"]
    for headers, charged in ((AUTH, False), ({}, True)):
        first = await github_client.get(f"/repos/{repo}", headers=headers)
        remaining = int(first.headers["x-ratelimit-remaining"])
        cached = await github_client.get(f"/repos/{repo}", headers={**headers, "If-None-Match": first.headers["etag"]})
        assert cached.status_code == 304
        assert int(cached.headers["x-ratelimit-remaining"]) == remaining - (1 if charged else 0)
    stats = world.control.stats["github"]
    assert stats.counters["not_modified"] == 2 and stats.counters["charged"] == 3


async def test_budget_is_60_without_a_token_and_5000_with_one(github_client: httpx.AsyncClient) -> None:
    anonymous = await github_client.get("/repos/nobody/nothing")
    token = await github_client.get("/repos/nobody/nothing", headers=AUTH)
    assert anonymous.headers["x-ratelimit-limit"] == "60" and token.headers["x-ratelimit-limit"] == "5000"
    assert anonymous.headers["x-ratelimit-used"] == "1" and anonymous.headers["x-ratelimit-resource"] == "core"


async def test_spent_budget_answers_403_and_429_alternately_and_counts_over_budget(
    world: World, github_client: httpx.AsyncClient
) -> None:
    repo = _first(world, "changelog")["repo"]
    world.control.budget.set(remaining=2, reset_in_s=600)
    ok = [await github_client.get(f"/repos/{repo}", headers=AUTH) for _ in range(2)]
    refused = [await github_client.get(f"/repos/{repo}", headers=AUTH) for _ in range(3)]
    assert [r.status_code for r in ok] == [200, 200]
    assert ok[-1].headers["x-ratelimit-remaining"] == "0"
    assert sorted(r.status_code for r in refused[:2]) == [403, 429]
    assert refused[0].status_code != refused[1].status_code
    assert all(r.headers["x-ratelimit-remaining"] == "0" for r in refused)
    assert all(r.json()["message"].lower().startswith("api rate limit exceeded") for r in refused)
    assert abs(int(refused[0].headers["x-ratelimit-reset"]) - (time.time() + 600)) < 5
    rate = await github_client.get("/rate_limit", headers=AUTH)
    assert rate.status_code == 200 and rate.json()["resources"]["core"]["remaining"] == 0
    stats = world.control.stats["github"]
    assert stats.counters["over_budget"] == 3 and stats.counters["charged"] == 2


async def test_budget_refills_after_the_reset(world: World, github_client: httpx.AsyncClient) -> None:
    world.control.budget.set(remaining=0, reset_in_s=0.3)
    assert (await github_client.get("/repos/a/b", headers=AUTH)).status_code in {403, 429}
    await asyncio.sleep(0.4)
    after = await github_client.get("/repos/a/b", headers=AUTH)
    assert after.status_code == 404 and after.headers["x-ratelimit-remaining"] == "4999"


async def test_releases_are_paginated_newest_first_with_link_headers(
    world: World, github_client: httpx.AsyncClient
) -> None:
    repo = _repo_with_releases(world, 12)
    everything = (await github_client.get(f"/repos/{repo}/releases", params={"per_page": 100})).json()
    first = await github_client.get(f"/repos/{repo}/releases", params={"per_page": 5})
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["link"]))
    assert set(links) == {"next", "last"} and "/repositories/" in links["next"] and "per_page=5" in links["next"]
    pages, url = [first.json()], links["next"]
    while url:
        page = await github_client.get(url)
        pages.append(page.json())
        rels = dict((rel, u) for u, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', page.headers.get("link", "")))
        assert {"prev", "first", "last"} <= set(rels)
        url = rels.get("next")
    walked = [release["id"] for page in pages for release in page]
    assert walked == [release["id"] for release in everything]
    published = [release["published_at"] for release in everything]
    assert published == sorted(published, reverse=True)
    assert set(everything[0]) >= set(recorded("github/releases_gocardless_business.json")[0])


async def test_single_page_of_releases_has_no_link_header(world: World, github_client: httpx.AsyncClient) -> None:
    repo = _repo_with_releases(world, 1)
    response = await github_client.get(f"/repos/{repo}/releases", params={"per_page": 100})
    assert response.status_code == 200 and "link" not in response.headers


async def test_drafts_are_listed_only_for_authorised_requests(world: World, github_client: httpx.AsyncClient) -> None:
    repos = [e["repo"] for e in world.summary()["repos"]["releases-only"] if e["releases"] < 100]
    for repo in repos:
        url = f"/repos/{repo}/releases?per_page=100"
        authorised = (await github_client.get(url, headers=AUTH, follow_redirects=True)).json()
        if any(r["draft"] for r in authorised):
            anonymous = (await github_client.get(url, follow_redirects=True)).json()
            assert not any(r["draft"] for r in anonymous)
            assert len(anonymous) == len(authorised) - 1
            assert authorised[0]["published_at"] is None
            return
    raise AssertionError("no repository with a draft release")


async def test_renamed_repository_redirects_to_its_id_and_is_served_there(
    world: World, github_client: httpx.AsyncClient
) -> None:
    renamed = world.summary()["repos"]["renamed"][0]
    moved = await github_client.get(f"/repos/{renamed['repo']}")
    assert moved.status_code == 301
    assert moved.headers["location"].endswith(f"/repositories/{renamed['id']}")
    assert moved.json()["message"] == "Moved Permanently" and moved.json()["url"] == moved.headers["location"]
    landed = await github_client.get(moved.headers["location"])
    assert landed.status_code == 200 and landed.json()["full_name"] == renamed["new"]
    sub = await github_client.get(f"/repos/{renamed['repo']}/contents/README.md", params={"ref": "main"})
    assert sub.status_code == 301 and sub.headers["location"].endswith(
        f"/repositories/{renamed['id']}/contents/README.md?ref=main"
    )
    assert (await github_client.get(f"/repos/{renamed['new']}")).status_code == 200


async def test_names_are_case_insensitive(world: World, github_client: httpx.AsyncClient) -> None:
    repo = _first(world, "changelog")["repo"]
    response = await github_client.get(f"/repos/{repo.upper()}")
    assert response.status_code == 200 and response.json()["full_name"] == repo


@pytest.mark.parametrize("outcome", [pytest.param("gone", id="gone"), pytest.param(None, id="never-existed")])
async def test_missing_repository_is_404_with_the_documented_body(
    world: World, github_client: httpx.AsyncClient, outcome: str | None
) -> None:
    repo = _first(world, outcome)["repo"] if outcome else "nobody/never-was"
    for path in ("", "/contents", "/releases"):
        response = await github_client.get(f"/repos/{repo}{path}")
        assert response.status_code == 404
        assert response.json()["message"] == "Not Found" and "documentation_url" in response.json()


async def test_blocked_repository_is_451(world: World, github_client: httpx.AsyncClient) -> None:
    repo = _first(world, "blocked")["repo"]
    response = await github_client.get(f"/repos/{repo}/contents")
    assert response.status_code == 451
    assert response.json()["message"] == "Repository access blocked"
    assert response.json()["block"]["reason"] in {"dmca", "tos"}


async def test_empty_repository_has_no_contents_and_no_commits(world: World, github_client: httpx.AsyncClient) -> None:
    repo = _first(world, "empty")["repo"]
    assert (await github_client.get(f"/repos/{repo}")).json()["size"] == 0
    contents = await github_client.get(f"/repos/{repo}/contents")
    assert contents.status_code == 404 and contents.json()["message"] == "This repository is empty."
    commits = await github_client.get(f"/repos/{repo}/commits")
    assert commits.status_code == 409 and commits.json()["message"] == "Git Repository is empty."


async def test_request_without_user_agent_is_refused_with_text(github_client: httpx.AsyncClient) -> None:
    response = await github_client.get("/rate_limit", headers={"User-Agent": ""})
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/plain")
    assert "User-Agent" in response.text


async def test_malformed_authorization_is_401(github_client: httpx.AsyncClient) -> None:
    response = await github_client.get("/rate_limit", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert response.status_code == 401 and response.json()["message"] == "Bad credentials"


async def test_secondary_rate_limit_fault_has_retry_after(world: World, github_client: httpx.AsyncClient) -> None:
    world.control.set_faults("github", rate_limit_rate=1.0, retry_after_s=7)
    response = await github_client.get("/repos/a/b", headers=AUTH)
    assert response.status_code == 403 and response.headers["retry-after"] == "7"
    assert response.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert int(response.headers["x-ratelimit-remaining"]) > 0


async def test_ref_can_name_a_tag_and_an_unknown_ref_is_404(world: World, github_client: httpx.AsyncClient) -> None:
    repo = _repo_with_releases(world, 1)
    tag = (await github_client.get(f"/repos/{repo}/releases")).json()[0]["tag_name"]
    assert (await github_client.get(f"/repos/{repo}/contents", params={"ref": tag})).status_code == 200
    missing = await github_client.get(f"/repos/{repo}/contents", params={"ref": "no-such-branch"})
    assert missing.status_code == 404 and missing.json()["message"] == "No commit found for the ref no-such-branch"


async def test_recursive_tree_lists_every_file(world: World, github_client: httpx.AsyncClient) -> None:
    monorepo = next(e for e in world.summary()["repos"]["changelog"] if e["directory"])
    unknown = await github_client.get(f"/repos/{monorepo['repo']}/git/trees/no-such-ref")
    assert unknown.status_code == 404
    branch = (await github_client.get(f"/repos/{monorepo['repo']}")).json()["default_branch"]
    data = (await github_client.get(f"/repos/{monorepo['repo']}/git/trees/{branch}", params={"recursive": 1})).json()
    paths = {item["path"]: item for item in data["tree"]}
    assert monorepo["path"] in paths and paths[monorepo["path"]]["type"] == "blob"
    assert paths[monorepo["directory"]]["type"] == "tree" and data["truncated"] is False
    flat = (await github_client.get(f"/repos/{monorepo['repo']}/git/trees/{branch}")).json()
    assert all("/" not in item["path"] for item in flat["tree"])
