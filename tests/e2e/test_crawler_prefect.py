"""The crawler's deployments on a Prefect server of their own (these tests deploy to it and restart it, which
the session's stack must not suffer): ``prefect deploy --all`` from ``deployments/prefect.yaml``, and a server
restart in the middle of a ``crawl-queue`` run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect.client.orchestration import PrefectClient

from cli.processes import ROOT, Child, free_port, prefect_env, prefect_server
from core.crawl import Crawler
from core.models import Discovery, Outcome
from core.queue import QueueStats, open_queue
from core.settings import Settings
from sandbox import Sandbox
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

SCHEDULED = {"poll-pypi", "poll-rubygems", "crawl-queue", "recrawl-stale"}


@dataclass
class Server:
    child: Child
    env: dict[str, str]

    def client(self) -> PrefectClient:
        return PrefectClient(api=self.env["PREFECT_API_URL"])

    def run(self, *argv: str, env: dict[str, str] | None = None, timeout_s: float = 180) -> str:
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env={**os.environ, **self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("prefect-own")
    port = free_port()
    child = prefect_server(data_dir, port=port, log_dir=data_dir / "logs")
    child.start()
    try:
        child.wait_ready(180)
        # `python` and `prefect` of this virtualenv, as `prefect deploy` runs from an activated one.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        yield Server(child, {**prefect_env(data_dir, port=port), "PATH": path})
    finally:
        child.stop()


def test_prefect_deploy_creates_every_deployment_with_its_schedule_and_the_github_api_limit(server: Server) -> None:
    prefect = (sys.executable, "-m", "prefect", "--no-prompt")
    server.run(*prefect, "work-pool", "create", "changelogs-local", "--type", "process")
    server.run(*prefect, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
    # Two crawl workers: crawl-queue may run twice at once (the second, documented command).
    server.run(
        *prefect,
        "deploy",
        "--prefect-file",
        "deployments/prefect.yaml",
        "-n",
        "crawl-queue",
        "--concurrency-limit",
        "2",
    )

    async def check() -> None:
        async with server.client() as client:
            deployments = {d.name: d for d in await client.read_deployments()}
            limit = await client.read_global_concurrency_limit_by_name("github-api")
        assert set(deployments) >= SCHEDULED | {"crawl-repo"}
        for name in SCHEDULED:
            schedules = deployments[name].schedules
            assert schedules and schedules[0].active, f"{name} has no active schedule"
            assert schedules[0].schedule.interval.total_seconds() == 300  # type: ignore[union-attr]
            assert deployments[name].work_pool_name == "changelogs-local"
        assert not deployments["crawl-repo"].schedules
        assert deployments["crawl-repo"].parameters == {"force": True}
        limits = {n: deployments[n].global_concurrency_limit for n in SCHEDULED}
        assert {n: lim.limit if lim else None for n, lim in limits.items()} == {
            "poll-pypi": 1,
            "poll-rubygems": 1,
            "crawl-queue": 2,
            "recrawl-stale": 1,
        }
        assert limit.limit == 500 and limit.slot_decay_per_second == pytest.approx(1.38)
        assert limit.active

    asyncio.run(check())


@pytest.fixture
def slow_sandbox() -> Iterator[Sandbox]:
    # 150 ms on every GitHub answer: 30 new repositories, 2 at a time, last long enough to restart the server.
    with Sandbox(seed=17, packages=120, github_latency_ms=150) as sandbox:
        yield sandbox


async def test_a_prefect_server_restart_in_the_middle_of_a_crawl_queue_run_loses_no_discovery(
    server: Server, slow_sandbox: Sandbox, settings: Settings, redis_url: str
) -> None:
    packages = slow_sandbox.summary()["packages"]["github"]
    items = [
        Discovery(registry=p["registry"], package=p["name"], repo=p["repo"], directory=p["directory"])
        for p in packages[:30]
    ]
    settings = settings.model_copy(update={"github_api_url": slow_sandbox.env["CHANGELOGS_GITHUB_API_URL"]})
    queue = open_queue(settings)
    await queue.publish(items)
    env = {
        **slow_sandbox.env,
        "CHANGELOGS_DATA_DIR": str(settings.data_dir),
        "REDIS_URL": redis_url,
        "GITHUB_TOKEN": "restart-token",
        "CHANGELOGS_CRAWL_CONCURRENCY": "2",
        # Messages of a run that died come back after 3 s instead of 10 minutes.
        "CHANGELOGS_QUEUE_VISIBILITY_TIMEOUT_S": "3",
    }
    run = (
        "import asyncio\n"
        "from deployments.serve import create_rate_limit\n"
        "from flows.crawl_queue import crawl_queue\n"
        "asyncio.run(create_rate_limit())\n"
        "asyncio.run(crawl_queue(max_seconds={seconds}))\n"
    )
    crawler = Crawler.open(settings, token=None)
    try:

        async def crawled() -> int:
            return sum(1 for _ in await crawler.feed.recent(limit=1000)) if crawler.feed else 0

        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            run.format(seconds=20),
            cwd=ROOT,
            env={**os.environ, **server.env, **env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=open(settings.data_dir / "worker.log", "wb"),  # noqa: ASYNC230, SIM115 - read if it fails
        )
        try:
            await wait_until(lambda: crawled(), timeout_s=60, what="the first crawls")
            interrupted = await queue.stats()
            server.child.stop()
            await asyncio.sleep(2)
            server.child.start()
            await asyncio.to_thread(server.child.wait_ready, 180)
            await asyncio.wait_for(worker.wait(), 120)
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        during = await queue.stats()
        # A later run takes what the interrupted one left (redelivered after the visibility timeout).
        await asyncio.to_thread(server.run, sys.executable, "-c", run.format(seconds=8), env=env)
        after = await queue.stats()
        for repo in {d.repo for d in items}:
            record = await crawler.records.get_repo(repo)
            if record.renamed_to:
                record = await crawler.records.get_repo(record.renamed_to)
            assert record.outcome is not Outcome.FAILED, record
    finally:
        await crawler.aclose()
        await queue.aclose()
    assert interrupted.ready + interrupted.in_flight > 0, "the restart came after the run's work"
    assert during.dead == 0
    assert after == QueueStats(ready=0, in_flight=0, dead=0)
