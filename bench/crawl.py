"""The crawler's cost and speed against the sandbox's GitHub with 50 ms of latency on every request.

    python -m bench.crawl [--repos 1000] [--latency-ms 50] [--budget-repos 200]

Runs the crawl path of one crawl worker: ``Crawler.open`` (the budget shared through Redis, the repository locks,
the live feed, SQLite and files) and ``Crawler.crawl`` at the concurrency of ``crawl-queue``
(``CHANGELOGS_CRAWL_CONCURRENCY``), in this one process. It leaves out Prefect's task bookkeeping and the
``github-api`` rate limit, whose slot decay would pace a real worker at 5,000 charged requests an hour. The
sandbox runs in a process of its own.

1. ``--repos`` repositories of the generated world, never crawled: GitHub requests per repository and crawls
   per minute.
2. The same repositories again, unchanged (those with a changelog, releases or nothing; gone and empty ones have
   nothing to ask conditionally and wait 180/7 days): charged requests per recrawl.
3. ``--budget-repos`` more new repositories while the budget is set just short of what they need, with no
   reserve kept back: requests sent after the budget hit zero (must be 0), and every crawl still completes
   after the reset.

The last line is one JSON object with ``requests_per_new_repo`` (issue: at most 2.5),
``charged_requests_per_unchanged_recrawl`` (at most 0.05), ``crawls_per_minute`` (at least 600) and
``budget_overruns`` (0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from core.crawl import Crawler, CrawlRequest, CrawlResult
from core.models import Outcome, RepoRef
from core.redis import EmbeddedRedis
from core.settings import Settings

TOKEN = "bench-token"


class SandboxProcess:
    """``python -m sandbox`` on free ports, for as long as the ``with`` block lasts."""

    def __init__(self, directory: Path, *, packages: int, latency_ms: float) -> None:
        self.urls_file = directory / "sandbox.json"
        self.argv = [
            sys.executable, "-m", "sandbox", "--port", "0", "--packages", str(packages),
            "--github-latency-ms", str(latency_ms), "--urls-file", str(self.urls_file),
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> SandboxProcess:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not self.urls_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.1)
        self.env = json.loads(self.urls_file.read_text())
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.env['SANDBOX_CONTROL_URL']}{path}", json=body, timeout=120)
        response.raise_for_status()
        return response.json()

    def github(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.control("GET", "/stats")["github"]
        return stats


def repositories(summary: dict[str, Any]) -> list[CrawlRequest]:
    """Every repository a package of the world points at, with the package's directory, as crawl-queue asks."""
    requests: dict[str, CrawlRequest] = {}
    for package in summary["packages"]["github"]:
        key = package["repo"].lower()
        if key not in requests or package["directory"]:
            requests[key] = CrawlRequest(RepoRef.parse(package["repo"]), directory=package["directory"])
    return list(requests.values())


async def crawl_all(crawler: Crawler, requests: Sequence[CrawlRequest], *, concurrency: int) -> list[CrawlResult]:
    limit = asyncio.Semaphore(concurrency)

    async def one(request: CrawlRequest) -> CrawlResult:
        async with limit:
            return await crawler.crawl(request)

    return list(await asyncio.gather(*(one(r) for r in requests)))


def _outcomes(results: Sequence[CrawlResult]) -> dict[str, int]:
    return dict(Counter(r.outcome.value for r in results).most_common())


async def run(args: argparse.Namespace, sandbox: SandboxProcess, data_dir: Path, redis_url: str) -> dict[str, Any]:
    summary = sandbox.control("GET", "/world")
    every = repositories(summary)
    if len(every) < args.repos + args.budget_repos:
        raise SystemExit(f"the world has {len(every)} repositories; raise --packages")
    new, later = every[: args.repos], every[args.repos : args.repos + args.budget_repos]
    settings = Settings(data_dir=data_dir, redis_url=redis_url, github_api_url=sandbox.env["CHANGELOGS_GITHUB_API_URL"])
    concurrency = settings.crawl_concurrency
    crawler = Crawler.open(settings, token=TOKEN)
    figures: dict[str, Any] = {}
    try:
        # 1. New repositories.
        sandbox.control("POST", "/reset-stats")
        started, cpu = time.perf_counter(), time.process_time()
        results = await crawl_all(crawler, new, concurrency=concurrency)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        stats = sandbox.github()
        requests = sum(r.requests for r in results)
        print(f"new: {len(results)} repositories in {wall:.1f} s ({cpu:.1f} s CPU), concurrency {concurrency}")
        print(f"  outcomes {_outcomes(results)}")
        print(f"  {requests} requests ({stats['requests']} seen by the sandbox), {stats.get('charged', 0)} charged")
        figures["requests_per_new_repo"] = round(requests / len(results), 3)
        figures["charged_requests_per_new_repo"] = round(stats.get("charged", 0) / len(results), 3)
        figures["crawls_per_minute"] = round(len(results) / wall * 60, 1)
        figures["cpu_ms_per_new_repo"] = round(cpu / len(results) * 1000, 1)

        # 2. The same repositories, unchanged.
        revisited = [
            r
            for r, first in zip(new, results, strict=True)
            if first.outcome in (Outcome.OK, Outcome.NO_CHANGELOG) and not first.renamed_to
        ]
        again = [CrawlRequest(r.repo, directory=r.directory, force=True) for r in revisited]
        sandbox.control("POST", "/reset-stats")
        started = time.perf_counter()
        recrawled = await crawl_all(crawler, again, concurrency=concurrency)
        wall = time.perf_counter() - started
        stats = sandbox.github()
        print(f"unchanged: {len(recrawled)} recrawls in {wall:.1f} s, outcomes {_outcomes(recrawled)}")
        not_modified, charged = stats.get("not_modified", 0), stats.get("charged", 0)
        print(f"  {stats['requests']} requests, {not_modified} answered 304, {charged} charged")
        figures["charged_requests_per_unchanged_recrawl"] = round(charged / len(recrawled), 4)
        figures["requests_per_unchanged_recrawl"] = round(sum(r.requests for r in recrawled) / len(recrawled), 3)
        figures["recrawls_per_minute"] = round(len(recrawled) / wall * 60, 1)
    finally:
        await crawler.aclose()

    # 3. New repositories with a budget that runs out, no reserve kept back: the crawler must stop at zero.
    strict = settings.model_copy(update={"github_budget_reserve": 0.0})
    crawler = Crawler.open(strict, token=TOKEN)
    try:
        budget = args.budget_repos  # about half of what they need
        sandbox.control("POST", "/budget", {"remaining": budget, "reset_in_s": args.reset_s})
        sandbox.control("POST", "/reset-stats")
        started = time.perf_counter()
        results = await crawl_all(crawler, later, concurrency=concurrency)
        wall = time.perf_counter() - started
        stats = sandbox.github()
        unfinished = [r for r in results if r.outcome in (Outcome.FAILED, Outcome.SKIPPED)]
        print(
            f"budget: {len(results)} new repositories with {budget} requests left for {args.reset_s:.0f} s: "
            f"{wall:.1f} s, outcomes {_outcomes(results)}, {stats.get('charged', 0)} charged, "
            f"{stats.get('over_budget', 0)} refused for want of budget"
        )
        figures["budget_overruns"] = stats.get("over_budget", 0)
        figures["budget_crawls_unfinished"] = len(unfinished)
    finally:
        await crawler.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--budget-repos", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--reset-s", type=float, default=10)
    parser.add_argument("--packages", type=int, default=1500, help="packages of the generated world")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        directory = Path(tmp)
        redis = EmbeddedRedis(directory / "redis")
        redis_url = redis.start()
        try:
            with SandboxProcess(directory, packages=args.packages, latency_ms=args.latency_ms) as sandbox:
                figures = asyncio.run(run(args, sandbox, directory / "data", redis_url))
        finally:
            redis.stop()
    figures |= {"repos": args.repos, "latency_ms": args.latency_ms, "path": "core.crawl.Crawler (no Prefect)"}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
