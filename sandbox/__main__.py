"""``python -m sandbox``: serve every fake on consecutive ports and print the environment that points at them.

pypi = port, rubygems = port + 1, npm replicate = port + 2, npm registry = port + 3, github = port + 4 (port 0:
any free ports). The first line on stdout is one JSON object of ``CHANGELOGS_*_URL`` and ``SANDBOX_CONTROL_URL``;
``--urls-file`` gets the same. SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from sandbox.server import bind, env_of, serve, urls_of
from sandbox.world import World


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="first of five consecutive ports; 0 = any free ports")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--npm-changes", type=int, default=None, help="rows pre-filled in npm's change feed")
    parser.add_argument("--pypi-events", type=int, default=None, help="rows pre-filled in PyPI's journal")
    parser.add_argument("--demo", type=float, default=None, metavar="SECONDS", help="publish a release this often")
    parser.add_argument("--github-latency-ms", type=float, default=0)
    parser.add_argument("--urls-file", type=Path, default=None)
    return parser.parse_args(argv)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
    os.replace(handle.name, path)


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox until SIGTERM or SIGINT."""
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    started = time.perf_counter()
    world = World(args.seed, args.packages, npm_changes=args.npm_changes, pypi_events=args.pypi_events)
    if args.github_latency_ms:
        world.control.set_faults("github", latency_ms=args.github_latency_ms)
    sockets = bind(args.host, args.port)
    env = env_of(urls_of(args.host, sockets))
    line = json.dumps(env)
    if args.urls_file is not None:
        _write_atomically(args.urls_file, line + "\n")
    print(line, flush=True)
    built = {"world_built_s": round(time.perf_counter() - started, 3), "packages": world.package_count}
    print(json.dumps(built), file=sys.stderr, flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(world, sockets, stop, demo_s=args.demo)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())


if __name__ == "__main__":
    main()
