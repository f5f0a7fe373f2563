"""Search at scale: an index of 1,000,000 generated names, queried in process and over HTTP.

    python -m bench.search [--names N] [--queries Q] [--clients C] [--http-seconds S] [--pace-ms P]

In process: build time, the index's resident memory, and the latency of ranked queries (prefixes of names and
of their words, and misspelt names that take the typo path), plus a snapshot's round trip. Over HTTP: one api
process (``python -m api``) serves ``/search`` from a snapshot of the same index, driven by ``wrk`` (Debian's;
installed when missing: a C load generator that does not saturate before the server, as Python ones do on two
cores). First ``--clients`` connections each send a query every ``--pace-ms`` (people typing into the search box,
debounced): ``http_p50_ms``/``http_p99_ms``/``http_rps``; then the same connections as fast as they go:
``http_max_rps`` and its latencies (closed loop, so p99 there is about clients / throughput). The last line is one
JSON object (the issue asks for p99 under 1,000 µs in process and under 25 ms over HTTP at 100 clients).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil

from cli.processes import Child, free_port, http_ok, python
from core.redis import EmbeddedRedis
from core.search import SearchIndex, write_snapshot
from core.settings import Settings
from core.store import open_artifacts

_VOCABULARY = (
    "react native redux vue angular svelte next nuxt express koa fastify django flask rails rack sinatra rest "
    "api client server core utils helpers parser lexer compiler loader plugin preset config cli tools test "
    "mock spec lint format style theme icons router store state query cache http fetch request socket stream "
    "event emitter logger debug trace metrics auth oauth jwt crypto hash uuid date time moment locale intl "
    "i18n string text markdown yaml json xml csv pdf image svg canvas chart graph map geo color font css sass "
    "less postcss webpack rollup vite babel esbuild swc terser jest mocha chai sinon pytest tox nose rspec "
    "minitest capybara faker factory orm sql mysql postgres redis mongo kafka queue worker job task cron "
    "scheduler aws azure gcp docker kube helm terraform ansible"
)
_WORDS = _VOCABULARY.split()
_OWNERS = [f"{w}{s}" for w in _WORDS[:60] for s in ("", "js", "hq", "labs", "dev", "io", "-team", "-org")]


def _name(rng: random.Random) -> str:
    words = rng.sample(_WORDS, rng.choice((1, 2, 2, 3, 3, 4)))
    return rng.choice("--_.").join(words) + (str(rng.randrange(100)) if rng.random() < 0.3 else "")


def generate(
    count: int, *, seed: int = 6
) -> tuple[list[tuple[str, int, dt.datetime | None]], list[tuple[str, str, str]]]:
    """``count`` distinct names: about a third repositories, the rest packages on npm, PyPI and RubyGems pointing
    at them."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    repos: list[tuple[str, int, dt.datetime | None]] = []
    packages: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    while len(seen) < count:
        repo = f"{rng.choice(_OWNERS)}/{_name(rng)}"
        if ("repo", repo.lower()) in seen:
            continue
        seen.add(("repo", repo.lower()))
        crawled = now - dt.timedelta(days=rng.randrange(400)) if rng.random() < 0.7 else None
        repos.append((repo, rng.randrange(1, 300) if crawled else 0, crawled))
        for _ in range(rng.choice((1, 1, 2, 3))):
            registry = rng.choice(("npm", "npm", "pypi", "rubygems"))
            base = repo.split("/")[1] if rng.random() < 0.6 else _name(rng)
            name = f"@{repo.split('/')[0]}/{base}" if registry == "npm" and rng.random() < 0.2 else base
            if len(seen) < count and (registry, name.lower()) not in seen:
                seen.add((registry, name.lower()))
                packages.append((registry, name, repo))
    return repos, packages


def build(repos: list[tuple[str, int, dt.datetime | None]], packages: list[tuple[str, str, str]]) -> SearchIndex:
    index = SearchIndex(bulk=True)
    for repo, versions, crawled in repos:
        index.add_repo(repo, versions=versions, crawled_at=crawled)
    for registry, name, repo in packages:
        index.add_package(registry, name, repo)  # type: ignore[arg-type]
    index.optimize()
    return index


def queries(names: list[str], count: int, *, seed: int = 7) -> list[str]:
    """Prefixes of names (1 to 12 characters), of their words, and misspelt names (the typo path)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        name = rng.choice(names).lower()
        kind = rng.random()
        if kind < 0.5:
            out.append(name[: rng.randint(1, min(12, len(name)))])
        elif kind < 0.8:
            word = rng.choice([w for w in name.replace("/", "-").replace("_", "-").replace(".", "-").split("-") if w])
            out.append(word[: rng.randint(1, len(word))])
        else:
            i = rng.randrange(2, max(3, len(name) - 1))
            out.append(name[:i] + name[i + 1 : i + 2] + name[i : i + 1] + name[i + 2 : i + 8])
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def in_process(index: SearchIndex, qs: list[str]) -> dict[str, float]:
    """Wall-clock latency of each query, and its CPU time (which leaves out the time this process waited for a
    core: on a busy two-core machine that wait, not the search, makes the wall-clock tail)."""
    for q in qs[:500]:
        index.search(q)
    wall, cpu = [], []
    for q in qs:
        began, began_cpu = time.perf_counter_ns(), time.thread_time_ns()
        index.search(q)
        cpu.append((time.thread_time_ns() - began_cpu) / 1000)
        wall.append((time.perf_counter_ns() - began) / 1000)
    return {
        "query_p50_us": round(percentile(wall, 0.5), 1),
        "query_p99_us": round(percentile(wall, 0.99), 1),
        "query_cpu_p50_us": round(percentile(cpu, 0.5), 1),
        "query_cpu_p99_us": round(percentile(cpu, 0.99), 1),
    }


_WRK_SCRIPT = """
local queries = {}
for line in io.lines(os.getenv("QUERIES")) do queries[#queries + 1] = line end
local pace = tonumber(os.getenv("PACE_MS") or "0")
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/search?q=" .. queries[(i * 7919) % #queries + 1])
end
if pace > 0 then delay = function() return pace end end
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "errors": %d, "seconds": %.3f, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99)))
end
"""


def _wrk() -> str:
    """Debian's wrk, installed when missing (as root, like the browser tests' chromium)."""
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench.search needs wrk: apt-get install wrk")
    return found


def _run_wrk(url: str, folder: Path, *, clients: int, seconds: float, pace_ms: int) -> dict[str, float]:
    script = folder / "search.lua"
    script.write_text(_WRK_SCRIPT)
    env = {**os.environ, "QUERIES": str(folder / "queries.txt"), "PACE_MS": str(pace_ms)}
    argv = [_wrk(), "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout", "5s", "-s", str(script), url]
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


async def _store_snapshot(index: SearchIndex, settings: Settings) -> None:
    artifacts = open_artifacts(settings)
    try:
        await write_snapshot(index, artifacts)
    finally:
        await artifacts.aclose()


def over_http(index: SearchIndex, qs: list[str], *, clients: int, seconds: float, pace_ms: int) -> dict[str, float]:
    """One api process serving a snapshot of ``index``; wrk drives it twice: ``clients`` connections each sending a
    query every ``pace_ms`` (people typing), then the same connections as fast as they can (the saturation rate)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        asyncio.run(_store_snapshot(index, Settings(data_dir=data)))
        (data / "queries.txt").write_text("\n".join(quote(q) for q in qs) + "\n")
        redis = EmbeddedRedis(data / "redis")
        port = free_port()
        env = {"CHANGELOGS_DATA_DIR": str(data), "REDIS_URL": redis.start()}
        argv = python("-m", "api", "--port", str(port), "--log-level", "warning")
        server = Child("api", argv, env, data / "logs", ready=http_ok(f"http://127.0.0.1:{port}/healthz"))
        url = f"http://127.0.0.1:{port}"
        try:
            server.start()
            server.wait_ready(300)
            served = httpx.get(f"{url}/healthz", timeout=10).json()["names"]
            if served != len(index):
                raise SystemExit(f"the api serves {served} names, not the snapshot's {len(index)}")
            proc = psutil.Process(server.process.pid)  # type: ignore[union-attr]
            paced = _run_wrk(url, data, clients=clients, seconds=seconds, pace_ms=pace_ms)
            flat_out = _run_wrk(url, data, clients=clients, seconds=seconds, pace_ms=0)
            rss = proc.memory_info().rss / 2**20
        finally:
            server.stop()
            redis.stop()
    return {
        "http_p50_ms": round(paced["p50_us"] / 1000, 2),
        "http_p99_ms": round(paced["p99_us"] / 1000, 2),
        "http_rps": round(paced["requests"] / paced["seconds"]),
        "http_errors": int(paced["errors"] + flat_out["errors"]),
        "http_max_rps": round(flat_out["requests"] / flat_out["seconds"]),
        "http_saturated_p50_ms": round(flat_out["p50_us"] / 1000, 2),
        "http_saturated_p99_ms": round(flat_out["p99_us"] / 1000, 2),
        "server_rss_mb": round(rss),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--http-seconds", type=float, default=15)
    parser.add_argument("--pace-ms", type=int, default=100, help="each client's pause between queries")
    args = parser.parse_args(argv)

    repos, packages = generate(args.names)
    names = [r[0] for r in repos] + [p[1] for p in packages]
    qs = queries(names, args.queries)
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    started, started_cpu = time.perf_counter(), time.process_time()
    index = build(repos, packages)
    build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    del repos, packages
    gc.collect()
    gc.freeze()  # as the api does once its index is loaded: the collector no longer walks millions of names
    index_rss_mb = (psutil.Process().memory_info().rss - rss_before) / 2**20
    print(f"built an index of {len(index):,} names in {build_s:.1f} s; {index_rss_mb:.0f} MB resident")
    queries_us = in_process(index, qs)
    print(
        f"in process, {len(qs):,} queries: p50 {queries_us['query_p50_us']:.0f} µs, "
        f"p99 {queries_us['query_p99_us']:.0f} µs (CPU time p50 {queries_us['query_cpu_p50_us']:.0f} µs, "
        f"p99 {queries_us['query_cpu_p99_us']:.0f} µs)"
    )
    started = time.perf_counter()
    snapshot = index.to_bytes()
    loaded = SearchIndex.from_bytes(snapshot)
    load_s = time.perf_counter() - started
    assert loaded.search(qs[0]) == index.search(qs[0])
    del loaded
    print(f"snapshot: {len(snapshot) / 2**20:.0f} MB, written and loaded in {load_s:.1f} s")
    http = over_http(index, qs, clients=args.clients, seconds=args.http_seconds, pace_ms=args.pace_ms)
    print(
        f"http, {args.clients} clients each every {args.pace_ms} ms: p50 {http['http_p50_ms']} ms, "
        f"p99 {http['http_p99_ms']} ms, {http['http_rps']} requests/s",
    )
    result = {
        "names": len(index),
        "build_s": round(build_s, 2),
        "build_cpu_s": round(build_cpu_s, 2),
        "index_rss_mb": round(index_rss_mb),
        "snapshot_mb": round(len(snapshot) / 2**20, 1),
        "snapshot_round_trip_s": round(load_s, 2),
        **queries_us,
        "query_p99_target_us": 1000,
        "http_clients": args.clients,
        "http_pace_ms": args.pace_ms,
        "load_generator": "wrk",
        **http,
        "http_p99_target_ms": 25,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
