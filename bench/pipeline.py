"""How long the demo takes to come up, and how long a release takes to reach a browser's live feed.

Runs ``changelogs up --sandbox`` exactly as ``make demo`` does (on free ports and a fresh data directory), opens
the homepage in headless Chromium, publishes releases on the sandbox's npm one at a time and times each from the
publish call to the moment the repository appears in the page's feed.

    python -m bench.pipeline [--releases 20]

The last line is JSON: ``startup_s`` (command start to a homepage that answers), ``feed_latency_p50_s``,
``feed_latency_max_s`` and the individual latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

from cli.processes import free_port

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def _wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


async def _measure(site: str, control: str, releases: int) -> list[float]:
    latencies = []
    async with async_playwright() as p, httpx.AsyncClient(timeout=30) as http:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(site)
        await page.wait_for_selector("#live-status.connected", timeout=30_000)
        world = (await http.get(f"{control}/world")).json()
        # Changelogs the sandbox authored get each published version on top: the feed then shows that version.
        # Renamed repositories are left out: the feed shows them under their new name.
        renamed = {r["repo"].lower() for r in world["repos"]["renamed"]}
        with_changelog = {r["repo"].lower() for r in world["repos"]["changelog"] if r["source"] == "authored"} - renamed
        # One package per repository: a repository crawled less than an hour ago is not crawled again.
        by_repo = {
            p["repo"].lower(): p["name"]
            for p in world["packages"]["github"]
            if p["registry"] == "npm" and p["repo"].lower() in with_changelog
        }
        candidates = list(by_repo.values())
        for i in range(min(releases, len(candidates))):
            package = candidates[i]
            seen = await page.eval_on_selector_all("#feed .feed-item", "items => items.map((li) => li.dataset.id)")
            started = time.monotonic()
            release = (await http.post(f"{control}/publish", json={"registry": "npm", "package": package})).json()
            # A feed item that was not on the page before the release, for its repository (GitHub names are
            # case-insensitive: the feed shows the repository's own spelling).
            await page.wait_for_function(
                """([repo, before]) => Array.from(document.querySelectorAll("#feed .feed-item")).some(
                    (li) => !before.includes(li.dataset.id)
                        && li.querySelector("a").textContent.toLowerCase() === repo)""",
                arg=[release["repo"].lower(), seen],
                timeout=600_000,
            )
            latencies.append(time.monotonic() - started)
            took = latencies[-1]
            print(f"release {i + 1}/{releases}: {release['repo']} {release['version']} in {took:.2f}s", flush=True)
        await browser.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=20)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    port, prefect_port = free_port(), free_port()
    site = f"http://127.0.0.1:{port}"
    argv = [
        *(sys.executable, "-m", "cli.app", "up", "--sandbox", "--demo", "0"),
        *("--port", str(port), "--prefect-port", str(prefect_port), "--data-dir", str(data_dir)),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHANGELOGS_", "PREFECT_")) and k != "REDIS_URL"}
    started = time.monotonic()
    up = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_http(f"{site}/", timeout_s=300)
        startup_s = time.monotonic() - started
        print(f"homepage answers {startup_s:.1f}s after `changelogs up --sandbox` started", flush=True)
        control = json.loads((data_dir / "sandbox-urls.json").read_text())["SANDBOX_CONTROL_URL"]
        latencies = asyncio.run(_measure(site, control, args.releases))
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=60)
    print(
        json.dumps(
            {
                "startup_s": round(startup_s, 1),
                "releases": len(latencies),
                "feed_latency_p50_s": round(statistics.median(latencies), 2),
                "feed_latency_max_s": round(max(latencies), 2),
                "feed_latencies_s": [round(x, 2) for x in latencies],
            }
        )
    )


if __name__ == "__main__":
    main()
