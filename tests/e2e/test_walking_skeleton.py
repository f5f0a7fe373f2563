"""The whole service end to end: releases published on the sandbox's registries reach the browser's live feed,
and their repositories' pages list the versions of their changelogs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Stack, get_json, wait_until

pytestmark = pytest.mark.e2e

DEPLOYMENTS = {"poll-pypi", "poll-rubygems", "crawl-queue", "crawl-repo"}


def _packages_with_changelog(stack: Stack, registry: str) -> list[dict[str, Any]]:
    summary = stack.sandbox.summary()
    with_changelog = {r["repo"].lower() for r in summary["repos"]["changelog"] if r["source"] != "huge"}
    return [
        p for p in summary["packages"]["github"] if p["registry"] == registry and p["repo"].lower() in with_changelog
    ]


async def test_the_prefect_server_shows_every_deployment_with_its_schedule(stack: Stack) -> None:
    async with stack.prefect() as client:
        deployments = {d.name: d for d in await client.read_deployments()}
    assert set(deployments) >= DEPLOYMENTS
    for name in DEPLOYMENTS - {"crawl-repo"}:
        assert deployments[name].schedules, f"{name} has no schedule"
        limit = deployments[name].global_concurrency_limit
        # crawl-queue: one run per worker plus the next one starting while the last finishes.
        expected = 2 if name == "crawl-queue" else 1
        assert limit is not None and limit.limit == expected, f"{name}: {limit}"
    assert not deployments["crawl-repo"].schedules


async def test_a_crawl_repo_run_started_through_the_prefect_api_stores_the_repository(stack: Stack) -> None:
    package = _packages_with_changelog(stack, "npm")[0]
    run = await stack.run_deployment("crawl-repo/crawl-repo", {"repo": package["repo"]})
    assert run.state.is_completed(), run.state
    document = await get_json(f"{stack.site}/api/github/{package['repo']}")
    assert document["name"].lower() == package["repo"].lower()
    assert len(document["contents"]) > 0
    assert all({"version", "date", "body"} <= set(v) for v in document["contents"])


async def test_new_releases_on_every_registry_reach_the_browser_feed_and_their_pages(stack: Stack, browser) -> None:
    # A first poll of PyPI starts from its current serial: what is published after it is new.
    await stack.run_deployment("poll-pypi/poll-pypi")
    page = await browser.new_page()
    await page.goto(stack.site)
    await page.wait_for_selector("#live-status.connected", timeout=15_000)
    # The feed shows the newest 20 crawls: remember every repository that ever entered it, so that the first
    # polls' backlog crawled at the same moment cannot push ours out between two looks.
    await page.evaluate(
        """() => {
            window.seenRepos = new Set();
            const feed = document.getElementById("feed");
            new MutationObserver(() => feed.querySelectorAll(".feed-item a").forEach(
                (a) => window.seenRepos.add(a.textContent.toLowerCase()))).observe(feed, {childList: true});
        }"""
    )

    published = []
    for registry in ("npm", "pypi", "rubygems"):
        candidates = _packages_with_changelog(stack, registry)
        assert candidates, f"the sandbox world has no {registry} package with a changelog"
        release = stack.sandbox.publish(registry, candidates[-1]["name"])
        assert release["repo"], release
        published.append(release)
    await asyncio.gather(
        stack.run_deployment("poll-pypi/poll-pypi"), stack.run_deployment("poll-rubygems/poll-rubygems")
    )

    async def feed_names() -> set[str]:
        return set(await page.evaluate("() => Array.from(window.seenRepos)"))

    expected = {r["repo"].lower() for r in published}
    await wait_until(
        lambda: _contains(feed_names(), expected), timeout_s=150, what=f"{sorted(expected)} in the browser's feed"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "homepage.png", full_page=True)

    repo = published[0]["repo"]
    await page.goto(f"{stack.site}/github/{repo}")
    versions = await page.locator(".versions section h2 a.anchor").all_inner_texts()
    document = await get_json(f"{stack.site}/api/github/{repo}")
    assert versions == [v["version"] for v in document["contents"]]
    assert len(versions) > 1
    await page.screenshot(path=ARTIFACTS / "repository.png")


async def _contains(names: Any, expected: set[str]) -> bool:
    return expected <= await names
