"""The npm follower replaying the sandbox's change feed: throughput and memory.

    python -m bench.follower [--changes 100000] [--packages 100000] [--concurrency 8]

Three processes, as in production: the sandbox (``python -m sandbox --npm-changes N``, its feed pre-filled),
an embedded Redis (``core.redis.EmbeddedRedis``) holding the queue, and ``python -m follower`` started from
sequence 0 (``CHANGELOGS_NPM_START=0``) on a fresh data directory. The clock runs from the follower's launch to
the moment its stored cursor reaches the feed's ``update_seq``; the follower's own RSS (not the sandbox's) is
sampled every half second. Then SIGTERM: it must exit 0. The queue must hold one discovery per feed row that
names a GitHub repository (the sandbox's ``counts.npm_feed.with_github_repo``).

The last line is one JSON object with ``changes_per_s`` (issue: at least 300), ``discoveries_per_s`` and
``peak_rss_mb`` (under 250, flat: ``rss_growth_mb`` is the RSS at the end minus the RSS a fifth of the way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from cli.processes import Child, python
from core.redis import EmbeddedRedis
from core.settings import Settings
from core.store import open_records
from follower import NPM_CURSOR

_SAMPLE_S = 0.5


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.follower", description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100_000, help="rows pre-filled in the sandbox's feed")
    parser.add_argument("--packages", type=int, default=100_000, help="packages of the sandbox's world")
    # 8, not the production default of 16: against a sandbox that answers in under a millisecond, a bigger pool
    # only costs CPU (httpcore checks every pooled connection on every request: 2.1 ms of follower CPU per change
    # at 4, 2.4 at 8, 2.8-3.4 at 16, measured on this machine).
    parser.add_argument("--concurrency", type=int, default=8, help="CHANGELOGS_NPM_FETCH_CONCURRENCY")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    return parser.parse_args(argv)


async def _cursor(settings: Settings) -> Any:
    records = open_records(settings)
    try:
        stored = await records.get_cursor(NPM_CURSOR)
    finally:
        await records.aclose()
    return None if stored is None else json.loads(stored)


async def _queued(redis_url: str) -> int:
    from core.queue import open_queue

    queue = open_queue(Settings(redis_url=redis_url))
    try:
        return (await queue.stats()).ready
    finally:
        await queue.aclose()


def _follow(follower: Child, settings: Settings, end: Any, timeout_s: float) -> tuple[float, list[float], float]:
    """Seconds until the cursor reaches ``end``, the follower's RSS samples (MB) meanwhile, and its CPU seconds."""
    started = time.monotonic()
    follower.start()
    assert follower.process is not None
    process = psutil.Process(follower.process.pid)
    samples: list[float] = []
    last_print = started
    while True:
        if not follower.alive():
            raise RuntimeError(f"the follower died:\n{follower.tail()}")
        samples.append(process.memory_info().rss / 2**20)
        position = asyncio.run(_cursor(settings))
        now = time.monotonic()
        if position == end:
            return now - started, samples, sum(process.cpu_times()[:2])
        if now - started > timeout_s:
            raise RuntimeError(f"not caught up after {timeout_s:.0f}s (at {position}, end {end})")
        if now - last_print >= 10:
            last_print = now
            print(f"  {now - started:6.0f}s  seq {position}  rss {samples[-1]:.0f} MB", flush=True)
        time.sleep(_SAMPLE_S)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures, the JSON summary last."""
    args = _parse(argv)
    with tempfile.TemporaryDirectory(prefix="bench-follower-") as tmp:
        root = Path(tmp)
        redis = EmbeddedRedis(root / "redis")
        redis_url = redis.start()
        urls_file = root / "sandbox.json"
        sandbox_argv = python(
            "-m", "sandbox", "--port", "0", "--packages", str(args.packages),
            "--npm-changes", str(args.changes), "--urls-file", str(urls_file),
        )  # fmt: skip
        sandbox = Child("sandbox", sandbox_argv, {}, root / "logs", ready=urls_file.exists, restart=False)
        follower: Child | None = None
        try:
            sandbox.start()
            sandbox.wait_ready(timeout_s=300)
            env = json.loads(urls_file.read_text())
            end = httpx.get(env["CHANGELOGS_NPM_REPLICATE_URL"], timeout=60).json()["update_seq"]
            data_dir = root / "data"
            follower_env = {
                **env,
                "CHANGELOGS_DATA_DIR": str(data_dir),
                "REDIS_URL": redis_url,
                "CHANGELOGS_NPM_START": "0",
                "CHANGELOGS_NPM_FETCH_CONCURRENCY": str(args.concurrency),
            }
            follower = Child("follower", python("-m", "follower"), follower_env, root / "logs", restart=False)
            print(f"follower: {args.changes} changes of {args.packages} packages, concurrency {args.concurrency}")
            settings = Settings(data_dir=data_dir, redis_url=redis_url)
            assert sandbox.process is not None
            sandbox_cpu = sum(psutil.Process(sandbox.process.pid).cpu_times()[:2])
            seconds, rss, follower_cpu = _follow(follower, settings, end, args.timeout)
            sandbox_cpu = sum(psutil.Process(sandbox.process.pid).cpu_times()[:2]) - sandbox_cpu
            assert follower.process is not None
            os.killpg(follower.process.pid, signal.SIGTERM)
            exit_code = follower.process.wait(timeout=60)
            queued = asyncio.run(_queued(redis_url))
            world = httpx.get(f"{env['SANDBOX_CONTROL_URL']}/world", timeout=300).json()
        finally:
            if follower is not None:
                follower.stop()
            sandbox.stop()
            redis.stop()
    feed = world["counts"]["npm_feed"]
    result = {
        "changes": feed["rows"],
        "seconds": round(seconds, 1),
        "changes_per_s": round(feed["rows"] / seconds, 1),
        "discoveries": queued,
        "expected_discoveries": feed["with_github_repo"],
        "discoveries_per_s": round(queued / seconds, 1),
        "peak_rss_mb": round(max(rss), 1),
        "rss_growth_mb": round(rss[-1] - rss[len(rss) // 5], 1),
        "follower_cpu_ms_per_change": round(follower_cpu / feed["rows"] * 1000, 2),
        "sandbox_cpu_ms_per_change": round(sandbox_cpu / feed["rows"] * 1000, 2),
        "sigterm_exit_code": exit_code,
        "concurrency": args.concurrency,
    }
    print(f"changes:        {result['changes']} in {result['seconds']} s = {result['changes_per_s']}/s (issue: >= 300)")
    print(f"discoveries:    {queued} queued of {feed['with_github_repo']} expected = {result['discoveries_per_s']}/s")
    print(f"follower RSS:   peak {result['peak_rss_mb']} MB (issue: < 250), growth {result['rss_growth_mb']} MB")
    print(
        f"CPU per change: follower {result['follower_cpu_ms_per_change']} ms, "
        f"sandbox {result['sandbox_cpu_ms_per_change']} ms"
    )
    print(f"SIGTERM:        exit code {exit_code}")
    print(json.dumps(result))
    if queued < feed["with_github_repo"] or exit_code != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
