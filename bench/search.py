"""Search at scale: an index of 1,000,000 generated names, queried in process and over HTTP.

    python -m bench.search [--names N] [--queries Q] [--clients C] [--http-seconds S] [--load-processes P]

In process: build time, the index's resident memory, and the latency of ranked queries (prefixes of names,
tokens, and misspelt names that take the typo path). Over HTTP: one api process (uvicorn, uvloop, httptools)
serves ``/search`` from a snapshot of the same index while ``--load-processes`` load-generator processes keep
``--clients`` requests in flight between them (one Python process alone saturates before the server does).
The last line is one JSON object with ``build_s``, ``index_rss_mb``, ``query_p50_us``, ``query_p99_us``,
``http_p50_ms``, ``http_p99_ms`` and ``http_rps`` (the issue asks for p99 under 1,000 µs in process and under
25 ms over HTTP at 100 concurrent clients).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import multiprocessing
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from core.search import SearchIndex

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
    """About ``count`` names: a third repositories, two thirds packages on npm, PyPI and RubyGems pointing at them."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    repos: list[tuple[str, int, dt.datetime | None]] = []
    packages: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    while len(repos) + len(packages) < count:
        repo = f"{rng.choice(_OWNERS)}/{_name(rng)}"
        if repo.lower() in seen:
            continue
        seen.add(repo.lower())
        crawled = now - dt.timedelta(days=rng.randrange(400)) if rng.random() < 0.7 else None
        repos.append((repo, rng.randrange(1, 300) if crawled else 0, crawled))
        for _ in range(rng.choice((1, 1, 2, 3))):
            registry = rng.choice(("npm", "npm", "pypi", "rubygems"))
            base = repo.split("/")[1] if rng.random() < 0.6 else _name(rng)
            name = f"@{repo.split('/')[0]}/{base}" if registry == "npm" and rng.random() < 0.2 else base
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


def in_process(index: SearchIndex, qs: list[str]) -> tuple[float, float]:
    for q in qs[:500]:
        index.search(q)
    times = []
    clock = time.perf_counter_ns
    for q in qs:
        start = clock()
        index.search(q)
        times.append((clock() - start) / 1000)
    return percentile(times, 0.5), percentile(times, 0.99)


def _load_worker(url: str, qs: list[str], clients: int, seconds: float, start_at: float, out: Any) -> None:
    async def run() -> list[float]:
        latencies: list[float] = []
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            stop = time.perf_counter() + seconds

            async def one(offset: int) -> None:
                i = offset
                while time.perf_counter() < stop:
                    q = qs[i % len(qs)]
                    i += clients
                    began = time.perf_counter()
                    response = await client.get("/search", params={"q": q})
                    response.raise_for_status()
                    latencies.append((time.perf_counter() - began) * 1000)

            await asyncio.gather(*(one(c) for c in range(clients)))
        return latencies

    out.put(asyncio.run(run()))


def over_http(snapshot: bytes, qs: list[str], *, clients: int, seconds: float, processes: int) -> dict[str, float]:
    from cli.processes import Child, free_port, http_ok, python
    from core.redis import EmbeddedRedis
    from core.search import SNAPSHOT_KEY

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        artifact = data / "artifacts" / SNAPSHOT_KEY
        artifact.parent.mkdir(parents=True)
        artifact.write_bytes(snapshot)
        redis = EmbeddedRedis(data / "redis")
        port = free_port()
        env = {"CHANGELOGS_DATA_DIR": str(data), "REDIS_URL": redis.start()}
        argv = python(
            "-m", "uvicorn", "--factory", "api.asgi:create_asgi", "--port", str(port), "--log-level", "warning"
        )
        server = Child("api", argv, env, data / "logs", ready=http_ok(f"http://127.0.0.1:{port}/healthz"))
        try:
            server.start()
            server.wait_ready(300)
            url = f"http://127.0.0.1:{port}"
            ctx = multiprocessing.get_context("spawn")
            out = ctx.Queue()
            start_at = time.time() + 3
            share = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
            workers = [
                ctx.Process(target=_load_worker, args=(url, qs[i::processes], n, seconds, start_at, out))
                for i, n in enumerate(share)
            ]
            for w in workers:
                w.start()
            server_proc = psutil.Process(server.process.pid)  # type: ignore[union-attr]
            cpu_before = server_proc.cpu_times()
            latencies: list[float] = []
            for _ in workers:
                latencies += out.get(timeout=seconds + 120)
            cpu_after = server_proc.cpu_times()
            for w in workers:
                w.join()
            rss = server_proc.memory_info().rss / 2**20
        finally:
            server.stop()
            redis.stop()
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return {
        "http_p50_ms": round(percentile(latencies, 0.5), 2),
        "http_p99_ms": round(percentile(latencies, 0.99), 2),
        "http_rps": round(len(latencies) / seconds),
        "http_requests": len(latencies),
        "server_cpu_s": round(cpu, 1),
        "server_rss_mb": round(rss),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--http-seconds", type=float, default=15)
    parser.add_argument("--load-processes", type=int, default=3)
    args = parser.parse_args(argv)

    repos, packages = generate(args.names)
    names = [r[0] for r in repos] + [p[1] for p in packages]
    qs = queries(names, args.queries)
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    index = build(repos, packages)
    build_s = time.perf_counter() - started
    del repos, packages
    gc.collect()
    index_rss_mb = (psutil.Process().memory_info().rss - rss_before) / 2**20
    print(f"built an index of {len(index):,} names in {build_s:.1f} s; {index_rss_mb:.0f} MB resident")
    p50, p99 = in_process(index, qs)
    print(f"in process: p50 {p50:.0f} µs, p99 {p99:.0f} µs over {len(qs):,} queries")
    started = time.perf_counter()
    snapshot = index.to_bytes()
    loaded = SearchIndex.from_bytes(snapshot)
    load_s = time.perf_counter() - started
    assert loaded.search(qs[0]) == index.search(qs[0])
    del loaded
    print(f"snapshot: {len(snapshot) / 2**20:.0f} MB, written and loaded in {load_s:.1f} s")
    http = over_http(snapshot, qs, clients=args.clients, seconds=args.http_seconds, processes=args.load_processes)
    print(
        f"http: {args.clients} clients from {args.load_processes} processes: p50 {http['http_p50_ms']} ms, "
        f"p99 {http['http_p99_ms']} ms, {http['http_rps']} requests/s",
    )
    result = {
        "names": len(index),
        "build_s": round(build_s, 2),
        "index_rss_mb": round(index_rss_mb),
        "snapshot_mb": round(len(snapshot) / 2**20, 1),
        "snapshot_round_trip_s": round(load_s, 2),
        "query_p50_us": round(p50, 1),
        "query_p99_us": round(p99, 1),
        "query_p99_target_us": 1000,
        "http_clients": args.clients,
        "load_processes": args.load_processes,
        **http,
        "http_p99_target_ms": 25,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
