"""The pipeline on the AWS backends, against moto in server mode with ``infra/data.yaml`` deployed into it: a
sandbox release goes through SNS -> SQS -> crawl-queue -> DynamoDB and S3, the api serves it and the browser's
live feed shows it.

The session stack lends its sandbox and Prefect server; the follower, the api and the crawl-queue flow run as
processes of their own with the AWS settings and a Redis of their own (as ElastiCache is on AWS).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cli.processes import ROOT, Child, free_port, http_ok, python
from core.errors import NotFound
from core.queue import open_queue
from core.redis import EmbeddedRedis
from core.settings import Settings
from core.store import changelog_html_key, changelog_json_key, open_artifacts, open_records
from tests.aws.moto import CREDENTIALS, MotoServer
from tests.e2e.conftest import Stack, get_json, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.aws]

# One crawl-queue flow run (recorded by the stack's Prefect server) that drains the queue for 8 seconds.
CRAWL_QUEUE = (
    "import asyncio, json; from flows.crawl_queue import crawl_queue; "
    "print(json.dumps(asyncio.run(crawl_queue(max_seconds=8))))"
)


def _npm_package_with_changelog(stack: Stack) -> dict[str, Any]:
    summary = stack.sandbox.summary()
    with_changelog = {r["repo"].lower() for r in summary["repos"]["changelog"] if r["source"] != "huge"}
    packages = [
        p for p in summary["packages"]["github"] if p["registry"] == "npm" and p["repo"].lower() in with_changelog
    ]
    return packages[len(packages) // 2]


def _aws_env(
    stack: Stack, settings: Settings, moto: MotoServer, *, data_dir: Path, redis_url: str, site: str
) -> dict[str, str]:
    return {
        **stack.env,
        **CREDENTIALS,
        "CHANGELOGS_DATA_DIR": str(data_dir),
        "CHANGELOGS_SITE_URL": site,
        "CHANGELOGS_STORE": settings.store,
        "CHANGELOGS_ARTIFACTS": settings.artifacts,
        "CHANGELOGS_QUEUE": settings.queue,
        "CHANGELOGS_TOPIC": settings.topic or "",
        "CHANGELOGS_AWS_ENDPOINT_URL": moto.url,
        "REDIS_URL": redis_url,
    }


async def test_a_release_reaches_the_browser_through_sns_sqs_dynamodb_and_s3(
    stack: Stack, aws_settings: Settings, moto_server: MotoServer, browser: Any, tmp_path: Path
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis")
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = _aws_env(stack, aws_settings, moto_server, data_dir=tmp_path, redis_url=redis.start(), site=site)
    records, artifacts, queue = open_records(aws_settings), open_artifacts(aws_settings), open_queue(aws_settings)
    follower = Child("aws-follower", python("-m", "follower"), env, tmp_path / "logs")
    api = Child(
        "aws-api",
        python("-m", "api", "--port", str(port)),
        env,
        tmp_path / "logs",
        ready=http_ok(f"{site}/healthz"),
    )
    try:
        follower.start()
        api.start()
        api.wait_ready(120)

        async def follower_reported() -> bool:
            try:
                return bool(await records.get_status("follower:npm"))
            except NotFound:
                return False

        # The follower starts at the end of npm's feed: publish only once it is there.
        await wait_until(follower_reported, timeout_s=60, what=f"the follower's status\n{follower.tail()}")
        page = await browser.new_page()
        await page.goto(site)
        await page.wait_for_selector("#live-status.connected", timeout=15_000)

        release = stack.sandbox.publish("npm", _npm_package_with_changelog(stack)["name"])
        repo = release["repo"]
        await wait_until(
            lambda: _ready(queue), timeout_s=60, what=f"the discovery on SQS (through SNS)\n{follower.tail()}"
        )

        done = await asyncio.to_thread(
            subprocess.run, python("-c", CRAWL_QUEUE), env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert summary["outcomes"].get("ok", 0) >= 1, summary

        record = await records.get_repo(repo)
        assert record.outcome.value == "ok" and record.versions_count > 0
        assert b"<html" in (await artifacts.get(changelog_html_key(repo))).lower()
        stored = json.loads(await artifacts.get(changelog_json_key(repo)))
        served = await get_json(f"{site}/api/github/{repo}")
        assert served == stored and len(served["contents"]) == record.versions_count

        async def in_feed() -> bool:
            names = await page.locator("#feed .feed-item a").all_inner_texts()
            return repo.lower() in {n.lower() for n in names}

        await wait_until(in_feed, timeout_s=30, what=f"{repo} in the browser's feed")
        stats = await queue.stats()
        assert (stats.ready, stats.in_flight, stats.dead) == (0, 0, 0)
    finally:
        for child in (api, follower):
            child.stop()
        for backend in (records, artifacts, queue):
            await backend.aclose()
        redis.stop()


async def _ready(queue: Any) -> bool:
    return bool((await queue.stats()).ready)
