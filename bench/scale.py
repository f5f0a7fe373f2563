"""Crawl throughput of the production topology with one and with two Prefect workers.

Starts ``infra.topology`` (Prefect server on PostgreSQL, process workers, two api processes, one Redis) against
the sandbox with GitHub answering after ``--github-latency-ms`` (50), and replays ``--releases`` (20,000)
releases of distinct repositories: the first half as discoveries on the queue with one worker running one
``crawl-queue`` run, the second half with two workers and two runs (the deployment's concurrency limit is one run
per worker). A phase ends when the queue is empty; its rate is taken between its first and its last crawl, from
the crawl times the store keeps, so process start-up is not counted.

The sandbox's GitHub budget is kept topped up and the ``github-api`` rate limit is lifted for the run: the bench
measures what the machinery sustains, not GitHub's hourly allowance (``infra/SCALE.md`` turns the figures into
tokens).

CPU seconds per crawl are measured per component (Prefect server, PostgreSQL, workers with their flow-run
processes, sandbox, Redis, apis) with psutil, to show where the time goes.

Each ``crawl-queue`` run crawls ``--concurrency`` repositories at once (1 by default). Every process of the
topology, the sandbox and whatever else runs on the machine share its cores here, whereas on ECS every flow run is
a task with a vCPU of its own: at 8 at once one worker already uses most of the CPU this 2-core machine can
give (measured: 1,797 crawls a minute at 8, 2,408 with two workers), and the second has little left to add. At 1
at once a worker is bound by GitHub's latency, as on ECS, and the run shows whether the shared parts (Prefect server on
PostgreSQL, Redis, the store) let a second worker add its share.

    python -m bench.scale [--releases 20000] [--github-latency-ms 50] [--concurrency 1]

The last line is JSON: ``crawls_per_minute_1``, ``crawls_per_minute_2``, ``ratio``, ``lost`` (releases whose
repository has no record afterwards, plus dead letters; must be 0) and the CPU figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import psutil
from prefect.client.orchestration import PrefectClient
from prefect.states import Cancelling
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from core.errors import NotFound
from core.models import Discovery
from core.queue import open_queue
from core.settings import Settings
from core.store import open_records
from infra.topology import Topology


def _replay(world: dict[str, Any], count: int) -> list[Discovery]:
    """One release for each of ``count`` distinct repositories of the sandbox's world (the odd ones left out)."""
    special = {s["repo"].lower() for s in world["special"].values()}
    seen: set[str] = set()
    releases = []
    for package in world["packages"]["github"]:
        key = package["repo"].lower()
        if key in seen or key in special:
            continue
        seen.add(key)
        releases.append(
            Discovery(
                registry=package["registry"],
                package=package["name"],
                version="99.0.0",
                repo=package["repo"],
                directory=package["directory"],
            )
        )
        if len(releases) == count:
            return releases
    raise SystemExit(f"the sandbox world has {len(releases)} usable repositories; {count} are needed")


class CpuMeter:
    """CPU seconds used by each component (a process and all its descendants) since the last ``mark``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.roots = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.seen: dict[tuple[str, int], float] = {}

    def _tree(self) -> Iterable[tuple[str, psutil.Process]]:
        for name, root in self.roots.items():
            component = name.split("-")[0] if name.startswith(("worker-", "api-")) else name
            try:
                yield component, root
                for child in root.children(recursive=True):
                    yield component, child
            except psutil.NoSuchProcess:
                continue
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] in ("postgres", "postmaster"):
                yield "postgres", proc

    def used(self) -> dict[str, float]:
        """Seconds of CPU per component since the previous call (processes that ended in between are lost)."""
        totals: dict[str, float] = {}
        current: dict[tuple[str, int], float] = {}
        for component, proc in self._tree():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            seconds = times.user + times.system
            current[(component, proc.pid)] = seconds
            totals[component] = totals.get(component, 0.0) + seconds - self.seen.get((component, proc.pid), 0.0)
        self.seen = current
        return totals


async def _top_up_budget(control: str) -> None:
    # A sandbox token has GitHub's 5,000 requests an hour; setting it again every second keeps it from running out
    # (each call moves the reset, so every worker takes the new figure).
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            await http.post(f"{control}/budget", json={"remaining": 5000, "reset_in_s": 3600})
            await asyncio.sleep(1)


async def _phase(
    topology: Topology, settings: Settings, releases: list[Discovery], *, workers: int, concurrency: int
) -> dict[str, Any]:
    queue = open_queue(settings)
    meter = CpuMeter(topology.pids())
    meter.used()
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    await queue.publish(releases)
    async with PrefectClient(api=topology.env["PREFECT_API_URL"]) as client:
        deployment = await client.read_deployment_by_name("crawl-queue/crawl-queue")
        runs = [
            await client.create_flow_run_from_deployment(
                deployment.id, parameters={"max_seconds": 7200, "concurrency": concurrency}
            )
            for _ in range(workers)
        ]
        columns = (TextColumn(f"{workers} worker(s)"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            bar = progress.add_task("crawled", total=len(releases))
            while True:
                stats = await queue.stats()
                progress.update(bar, completed=len(releases) - stats.ready - stats.in_flight)
                if stats.ready + stats.in_flight == 0:
                    break
                states = [(await client.read_flow_run(run.id)).state for run in runs]
                if all(state is not None and state.is_final() for state in states):
                    break  # every run ended with work left: what is left counts as lost
                await asyncio.sleep(1)
        wall_s = time.monotonic() - started
        for run in runs:
            await client.set_flow_run_state(run.id, Cancelling(), force=True)
    cpu = meter.used()
    await queue.aclose()
    crawled = await _crawl_times(settings, releases)
    times = sorted(crawled.values())
    span_s = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span_s * 60 if span_s else 0.0
    return {
        "workers": workers,
        "releases": len(releases),
        "crawled": len(crawled),
        "span_s": round(span_s, 1),
        "wall_s": round(wall_s, 1),
        "crawls_per_minute": round(rate, 1),
        "dead": stats.dead,
        # What else ran on the machine: the figures are only comparable at similar loads.
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_s": {k: round(v, 1) for k, v in sorted(cpu.items())},
        "cpu_ms_per_crawl": {k: round(v * 1000 / max(len(crawled), 1), 1) for k, v in sorted(cpu.items())},
    }


async def _crawl_times(settings: Settings, releases: list[Discovery]) -> dict[str, dt.datetime]:
    records = open_records(settings)
    found = {}
    for release in releases:
        try:
            record = await records.get_repo(release.repo)
        except NotFound:
            continue
        if record.crawled_at is not None:
            found[release.repo.lower()] = record.crawled_at
    await records.aclose()
    return found


async def _run(args: argparse.Namespace, topology: Topology) -> dict[str, Any]:
    settings = Settings(data_dir=Path(topology.env["CHANGELOGS_DATA_DIR"]), redis_url=topology.env["REDIS_URL"])
    control = topology.env["SANDBOX_CONTROL_URL"]
    async with httpx.AsyncClient(timeout=120) as http:
        world = (await http.get(f"{control}/world")).json()
    top_up = asyncio.create_task(_top_up_budget(control))
    releases = _replay(world, args.releases)
    half = len(releases) // 2
    await topology.pause_schedules()
    one = await _phase(topology, settings, releases[:half], workers=1, concurrency=args.concurrency)
    print(json.dumps({"phase": 1, **one}), flush=True)
    topology.add_worker()
    two = await _phase(topology, settings, releases[half:], workers=2, concurrency=args.concurrency)
    print(json.dumps({"phase": 2, **two}), flush=True)
    top_up.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await top_up
    crawled = await _crawl_times(settings, releases)
    return {
        "releases": len(releases),
        "cores": psutil.cpu_count(),
        "github_latency_ms": args.github_latency_ms,
        "concurrency_per_worker": args.concurrency,
        "crawls_per_minute_1": one["crawls_per_minute"],
        "crawls_per_minute_2": two["crawls_per_minute"],
        "ratio": round(two["crawls_per_minute"] / one["crawls_per_minute"], 2) if one["crawls_per_minute"] else None,
        "lost": len(releases) - len(crawled) + two["dead"],
        "load_average_1m_1": one["load_average_1m"],
        "load_average_1m_2": two["load_average_1m"],
        "cpu_ms_per_crawl_1": one["cpu_ms_per_crawl"],
        "cpu_ms_per_crawl_2": two["cpu_ms_per_crawl"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=20_000)
    parser.add_argument("--github-latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=1, help="crawls at once in one crawl-queue run")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    packages = int(args.releases * 1.4) + 1000  # about 88 % of packages name a GitHub repository, some share one
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    topology = Topology(
        data_dir,
        workers=2,
        start_workers=1,
        apis=2,
        database="changelogs_bench_scale",
        sandbox_args=["--packages", str(packages), "--github-latency-ms", str(args.github_latency_ms)],
        extra_env={
            # The bench measures the machinery, not GitHub's hourly allowance (see the module docstring).
            "CHANGELOGS_GITHUB_RATE_LIMIT_SLOTS": "100000",
            "CHANGELOGS_GITHUB_RATE_LIMIT_PER_S": "100000",
        },
    )
    # SIGTERM stops the topology's processes as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with topology:
        result = asyncio.run(_run(args, topology))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
