"""The website in a real browser against the whole stack: search as you type, the live feed (within a second,
and caught up after an api restart), a changelog full of script payloads that runs none, the upgrade picker."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import pytest

from core.feed import CrawlFeed
from core.models import CrawledEvent
from core.settings import Settings
from tests.e2e.conftest import ARTIFACTS, Stack, get_json

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


async def _crawl(stack: Stack, repo: str) -> dict[str, Any]:
    run = await stack.run_deployment("crawl-repo/crawl-repo", {"repo": repo})
    assert run.state.is_completed(), run.state
    return await get_json(f"{stack.site}/api/github/{repo}")


def _changelog_repos(stack: Stack) -> list[str]:
    """Repositories whose changelog (written by the sandbox, several versions) sits at their root, those that npm
    packages point at first (the npm follower has stored those packages: their pages list them)."""
    summary = stack.sandbox.summary()
    repos = [
        r["repo"] for r in summary["repos"]["changelog"] if r["source"] == "authored" and r["path"] == "CHANGELOG.md"
    ]
    npm = {p["repo"].lower() for p in summary["packages"]["github"] if p["registry"] == "npm"}
    return sorted(repos, key=lambda repo: repo.lower() not in npm)


def _changelog_repo(stack: Stack) -> str:
    return _changelog_repos(stack)[0]


async def _publish(stack: Stack, repo: str) -> CrawledEvent:
    feed = CrawlFeed.open(Settings(redis_url=stack.env["REDIS_URL"]))
    try:
        return await feed.publish(
            CrawledEvent(
                changelog=repo,
                crawledAt=dt.datetime.now(dt.UTC),
                href=f"/api/github/{repo}",
                repo=f"https://github.com/{repo}",
                changelogUrl=None,
                version="9.9.9",
            )
        )
    finally:
        await feed.aclose()


async def _home(stack: Stack, browser: Any) -> Any:
    page = await browser.new_page()
    await page.goto(stack.site)
    await page.wait_for_selector("#live-status.connected", timeout=15_000)
    return page


async def test_typing_shows_ranked_suggestions_and_enter_opens_the_page(stack: Stack, browser: Any) -> None:
    repo = _changelog_repo(stack)
    document = await _crawl(stack, repo)
    name = repo.split("/")[1]
    page = await browser.new_page()
    await page.goto(stack.site)
    await page.locator("#q").press_sequentially(name, delay=40)
    await page.wait_for_selector("#suggestions li", timeout=5_000)
    expected = [h["completion"] for h in await get_json(f"{stack.site}/search?q={name}")]
    shown = await page.locator("#suggestions li .name").all_inner_texts()
    assert shown == expected
    assert shown[0].lower() == repo.lower()
    await page.locator("#q").press("Enter")
    await page.wait_for_url(f"**/github/{shown[0]}")
    versions = await page.locator(".versions section h2 a.anchor").all_inner_texts()
    assert versions == [v["version"] for v in document["contents"]]


async def test_the_live_feed_shows_a_crawl_within_a_second(stack: Stack, browser: Any) -> None:
    page = await _home(stack, browser)
    repo = f"e2e-live/crawl-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    await _publish(stack, repo)
    await page.locator("#feed .feed-item a", has_text=repo).wait_for(timeout=1_000)
    assert time.monotonic() - started < 1.0
    assert await page.locator("#feed .feed-item").first.locator("a").inner_text() == repo
    ARTIFACTS.mkdir(exist_ok=True)
    await page.wait_for_timeout(1_000)  # the newest item's entrance animation
    await page.screenshot(path=ARTIFACTS / "site-homepage.png", full_page=True)


async def test_after_an_api_restart_the_page_catches_up_on_what_it_missed(stack: Stack, browser: Any) -> None:
    run = await stack.run_deployment("rebuild-search-index/rebuild-search-index")
    assert run.state.is_completed(), run.state
    page = await _home(stack, browser)
    api = stack.children["api"]
    await asyncio.to_thread(api.stop)
    await page.wait_for_selector("#live-status:not(.connected)", timeout=10_000)
    missed = [f"e2e-restart/missed-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    for repo in missed:
        await _publish(stack, repo)
    api.start()
    await asyncio.to_thread(api.wait_ready, 120)
    for repo in missed:
        await page.locator("#feed .feed-item a", has_text=repo).wait_for(timeout=20_000)
    shown = await page.locator("#feed .feed-item a").all_inner_texts()
    assert shown[:3] == list(reversed(missed))  # newest first, none lost
    health = await get_json(f"{stack.site}/healthz")
    assert health["snapshot"] is not None  # the restarted api loaded the snapshot...
    hits = await get_json(f"{stack.site}/search?q={missed[0].split('/')[1]}")
    assert hits[0]["completion"] == missed[0]  # ...and replayed the crawls announced after it


async def test_a_changelog_full_of_script_payloads_runs_none(stack: Stack, browser: Any) -> None:
    repo = stack.sandbox.summary()["special"]["xss"]["repo"]
    document = await _crawl(stack, repo)
    assert document["contents"]
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{stack.site}/github/{repo}")
    await page.locator(".versions section").first.wait_for()
    await page.wait_for_timeout(500)  # time for anything that would run on load
    dangerous = await page.evaluate(
        """() => Array.from(document.querySelectorAll('.notes *')).filter((el) =>
               ['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'svg'].includes(el.tagName) ||
               Array.from(el.attributes).some((a) => a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value))
           ).length"""
    )
    assert dangerous == 0
    assert dialogs == []
    assert await page.locator("script:not([src])").count() == 0


async def test_the_range_picker_shows_the_versions_of_an_upgrade(stack: Stack, browser: Any) -> None:
    repo = _changelog_repo(stack)
    await _crawl(stack, repo)
    page = await browser.new_page()
    await page.goto(f"{stack.site}/github/{repo}")
    options = await page.locator("#upgrade-from option").all_inner_texts()
    assert len(options) >= 3
    low, high = options[-1], options[1]
    await page.select_option("#upgrade-from", low)
    await page.select_option("#upgrade-to", high)
    await page.locator("#upgrade-form button").click()
    await page.locator("#upgrade .upgrade-version").first.wait_for(timeout=5_000)
    shown = await page.locator("#upgrade .upgrade-version").evaluate_all("els => els.map((e) => e.dataset.version)")
    expected = await get_json(f"{stack.site}/api/github/{repo}/range?from={low}&to={high}")
    assert shown == [v["version"] for v in expected["versions"]]
    assert shown and shown[0] == high and low not in shown
    assert f"from={low}" in page.url
    ARTIFACTS.mkdir(exist_ok=True)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=ARTIFACTS / "site-repository.png")
    await page.set_viewport_size(PHONE)
    await page.goto(f"{stack.site}/github/{repo}")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than a phone's screen
    await page.screenshot(path=ARTIFACTS / "site-phone.png")


async def test_a_page_not_crawled_yet_queues_the_crawl_and_shows_the_notes_when_it_lands(
    stack: Stack, browser: Any
) -> None:
    async def never_crawled() -> str:
        for repo in reversed(_changelog_repos(stack)):
            status = await get_json(f"{stack.site}/api/github/{repo}/status")
            if status["status"] == "pending":
                return repo
        raise AssertionError("every sandbox repository with a changelog is crawled already")

    repo = await never_crawled()
    page = await browser.new_page()
    await page.goto(f"{stack.site}/github/{repo}")
    await page.locator("#pending").wait_for()
    # The page asked for the crawl; crawl-queue takes it off the queue, and the page reloads when it lands.
    await page.locator(".versions section").first.wait_for(timeout=90_000)
    document = await get_json(f"{stack.site}/api/github/{repo}")
    assert await page.locator(".versions section h2 a.anchor").all_inner_texts() == [
        v["version"] for v in document["contents"]
    ]
