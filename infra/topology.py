"""``python -m infra.topology``: the production topology on this machine, every part a separate process.

The Prefect server on PostgreSQL (127.0.0.1:5432, user ``postgres``, a database of its own), Prefect process
workers pulling the deployments of ``deployments/prefect.yaml`` from the ``changelogs-local`` work pool, api
processes on their own ports, and one Redis; with ``--sandbox``, the sandbox stands in for the registries and
GitHub. It is the AWS layout (ECS worker and flow-run tasks, api tasks behind the ALB, ElastiCache) with local
store and artifact backends. ``bench.scale`` drives it.

    python -m infra.topology --workers 2 --apis 2 --sandbox --github-latency-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType

from cli.processes import ROOT, Child, free_port, http_ok, prefect_env, python, stop_on_signals
from core.redis import EmbeddedRedis

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
POOL = "changelogs-local"
PREFECT_YAML = ROOT / "deployments" / "prefect.yaml"
ECS_PREFECT_YAML = ROOT / "deployments" / "prefect-ecs.yaml"


async def create_database(name: str, *, fresh: bool) -> None:
    """Create the Prefect server's database on the local PostgreSQL (dropped first when ``fresh``)."""
    conn = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        if fresh:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def deployment_names(prefect_file: Path = PREFECT_YAML) -> list[str]:
    """``flow/deployment`` of every deployment a prefect.yaml declares."""
    config = yaml.safe_load(prefect_file.read_text())
    return [
        f"{entry['entrypoint'].rsplit(':', 1)[1].replace('_', '-')}/{entry['name']}" for entry in config["deployments"]
    ]


@dataclass
class Topology:
    """The processes of the production layout; a context manager that stops them all."""

    data_dir: Path
    workers: int = 2
    apis: int = 2
    # Workers started at once (default: all); the deployment allows ``workers`` crawl-queue runs regardless.
    start_workers: int | None = None
    database: str = "changelogs_prefect"
    fresh: bool = True
    sandbox_args: list[str] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)
    api_urls: list[str] = field(default_factory=list)
    _redis: EmbeddedRedis | None = None

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    def __enter__(self) -> Topology:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything, register the deployments, and return once every api answers ``/healthz``."""
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(create_database(self.database, fresh=self.fresh))
        self._redis = EmbeddedRedis(self.data_dir / "redis")
        prefect_port = free_port()
        self.env = {
            **prefect_env(self.data_dir, port=prefect_port),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.database}",
            # Workers look for scheduled runs every 2 s instead of 10.
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "CHANGELOGS_DATA_DIR": str(self.data_dir),
            "CHANGELOGS_CRAWL_WORKERS": str(self.workers),
            "REDIS_URL": self._redis.start(),
            **self.extra_env,
        }
        if self.sandbox_args is not None:
            self.env |= self._start_sandbox()
            self.env.setdefault("GITHUB_TOKEN", "topology-token")
        self._launch(
            "prefect-server",
            python("-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)),
            ready=http_ok(f"{self.env['PREFECT_API_URL']}/health"),
            timeout_s=180,
        )
        self.deploy()
        for _ in range(self.workers if self.start_workers is None else self.start_workers):
            self.add_worker()
        for i in range(self.apis):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            argv = python("-m", "api", "--port", str(port), "--no-access-log")
            self._launch(f"api-{i + 1}", argv, ready=http_ok(f"{url}/healthz"), timeout_s=120)
            self.api_urls.append(url)

    def _start_sandbox(self) -> dict[str, str]:
        urls_file = self.data_dir / "sandbox-urls.json"
        urls_file.unlink(missing_ok=True)
        argv = python("-m", "sandbox", "--port", "0", "--urls-file", str(urls_file), *(self.sandbox_args or []))
        self._launch("sandbox", argv, ready=urls_file.exists, timeout_s=180)
        env: dict[str, str] = json.loads(urls_file.read_text())
        return env

    def deploy(self) -> None:
        """Create the process work pool and ``prefect deploy`` the deployments of ``deployments/prefect.yaml`` to it;
        ``crawl-queue`` again with one run per worker, as the file's header says."""
        self._prefect("work-pool", "create", POOL, "--type", "process", "--overwrite")
        self._prefect("deploy", "--all", "--prefect-file", str(PREFECT_YAML))
        self._prefect(
            "deploy", "--prefect-file", str(PREFECT_YAML), "-n", "crawl-queue", "--concurrency-limit", str(self.workers)
        )

    def _prefect(self, *args: str) -> None:
        done = subprocess.run(
            python("-m", "prefect", "--no-prompt", *args),
            env={**os.environ, **self.env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")

    def add_worker(self) -> str:
        """Start one more process worker (one flow run at a time, like one ECS task); returns its name."""
        name = f"worker-{sum(1 for n in self.children if n.startswith('worker-')) + 1}"
        argv = python("-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process", "--name", name)
        self._launch(name, [*argv, "--limit", "1"])
        return name

    def _launch(self, name: str, argv: list[str], *, ready: Any = None, timeout_s: float = 60) -> None:
        child = Child(name, argv, self.env, self.logs, ready=ready, restart=False)
        self.children[name] = child
        child.start()
        child.wait_ready(timeout_s)

    async def pause_schedules(self) -> None:
        """Turn every deployment's schedules off and drop the runs already scheduled, so that only the runs started
        by hand (a benchmark's, a test's) take the workers."""
        async with PrefectClient(api=self.env["PREFECT_API_URL"]) as client:
            for deployment in await client.read_deployments():
                for schedule in deployment.schedules:
                    await client.update_deployment_schedule(deployment.id, schedule.id, active=False)
            scheduled = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])))
            for run in await client.read_flow_runs(flow_run_filter=scheduled):
                await client.delete_flow_run(run.id)

    def pids(self) -> dict[str, int]:
        """The process id of every child and of Redis, by name (for measuring where the CPU goes)."""
        pids = {name: c.process.pid for name, c in self.children.items() if c.process is not None and c.alive()}
        if self._redis is not None and self._redis.process is not None:
            pids["redis"] = self._redis.process.pid
        return pids

    def stop(self) -> None:
        for child in reversed(list(self.children.values())):
            child.stop()
        self.children.clear()
        if self._redis is not None:
            self._redis.stop()
            self._redis = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.topology", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data/topology"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--database", default="changelogs_prefect")
    parser.add_argument("--keep", action="store_true", help="keep the Prefect database of a previous run")
    parser.add_argument("--sandbox", action="store_true", help="run against the sandbox instead of the real services")
    parser.add_argument("--packages", type=int, default=300, help="with --sandbox: packages in its world")
    parser.add_argument("--github-latency-ms", type=float, default=0, help="with --sandbox: GitHub's latency")
    args = parser.parse_args(argv)
    sandbox = ["--packages", str(args.packages), "--github-latency-ms", str(args.github_latency_ms)]
    topology = Topology(
        args.data_dir,
        workers=args.workers,
        apis=args.apis,
        database=args.database,
        fresh=not args.keep,
        sandbox_args=sandbox if args.sandbox else None,
    )
    stopping = stop_on_signals()
    with topology:
        ui = topology.env["PREFECT_API_URL"].removesuffix("/api")
        print(json.dumps({"prefect_ui": ui, "apis": topology.api_urls}))
        print(f"logs in {topology.logs}; Ctrl-C stops everything", flush=True)
        while not stopping() and all(c.alive() for c in topology.children.values()):
            time.sleep(0.5)
        for name, child in topology.children.items():
            if not child.alive():
                print(f"{name} exited:\n{child.tail()}")


if __name__ == "__main__":
    main()
