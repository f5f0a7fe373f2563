"""The whole service as real processes, for end-to-end tests: Redis, a Prefect server, the runner serving every
deployment, the npm follower, the api under uvicorn, and the sandbox; plus a headless Debian Chromium.

One stack per test session (a Prefect server takes ~20 s to start). Tests that change shared state (faults, the
budget) must undo it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

from cli.processes import Child, free_port, http_ok, prefect_env, prefect_server, python
from core.redis import EmbeddedRedis
from sandbox import Sandbox

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class Stack:
    """The running service: where to reach each part, and the environment its processes share."""

    data_dir: Path
    env: dict[str, str]
    site: str
    prefect_api: str
    sandbox: Sandbox
    children: dict[str, Child]

    def prefect(self) -> PrefectClient:
        return PrefectClient(api=self.prefect_api)

    async def run_deployment(
        self, name: str, parameters: dict[str, Any] | None = None, *, timeout_s: float = 120
    ) -> Any:
        """Start a run of deployment ``name`` (``flow/deployment``) through the Prefect API and wait for its end."""
        async with self.prefect() as client:
            deployment = await client.read_deployment_by_name(name)
            run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters or {})
            return await wait_for_flow_run(client, run.id, timeout_s=timeout_s)


async def wait_for_flow_run(client: PrefectClient, run_id: Any, *, timeout_s: float) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        run = await client.read_flow_run(run_id)
        if run.state is not None and run.state.is_final():
            return run
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"flow run {run.name} still {run.state_name} after {timeout_s}s")
        await asyncio.sleep(0.5)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    logs = data_dir / "logs"
    children: dict[str, Child] = {}
    redis = EmbeddedRedis(data_dir / "redis")
    with Sandbox(seed=11, packages=300) as sandbox:
        try:
            redis_url = redis.start()
            prefect_port, api_port = free_port(), free_port()
            server = prefect_server(data_dir, port=prefect_port, log_dir=logs)
            children["prefect-server"] = server
            server.start()
            server.wait_ready(180)
            site = f"http://127.0.0.1:{api_port}"
            env = {
                **prefect_env(data_dir, port=prefect_port),
                **sandbox.env,
                "CHANGELOGS_DATA_DIR": str(data_dir),
                "CHANGELOGS_SITE_URL": site,
                "CHANGELOGS_NPM_POLL_INTERVAL_S": "0.5",
                # crawl-queue runs every minute and consumes for 54 s of it: new releases are crawled at once.
                "CHANGELOGS_SCHEDULE_INTERVAL_S": "60",
                "REDIS_URL": redis_url,
                "GITHUB_TOKEN": "e2e-token",
            }
            for name, argv, ready in (
                ("runner", python("-m", "deployments.serve"), None),
                ("follower", python("-m", "follower"), None),
                (
                    "api",
                    python("-m", "api", "--port", str(api_port)),
                    http_ok(f"{site}/healthz"),
                ),
            ):
                child = Child(name, argv, env, logs, ready=ready)
                children[name] = child
                child.start()
                child.wait_ready(120)
            stack = Stack(data_dir, env, site, env["PREFECT_API_URL"], sandbox, children)
            asyncio.run(_wait_for_deployments(stack))
            yield stack
        finally:
            for child in reversed(list(children.values())):
                child.stop()
            redis.stop()
            _keep_logs(logs)


async def _wait_for_deployments(stack: Stack, timeout_s: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with stack.prefect() as client:
        while True:
            found = await client.read_deployments(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["crawl-repo"]))
            )
            if found:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the runner did not register its deployments:\n{stack.children['runner'].tail()}")
            await asyncio.sleep(0.5)


def _keep_logs(logs: Path) -> None:
    """Copy the processes' logs next to the screenshots, so a CI failure can be read."""
    target = ARTIFACTS / "logs"
    target.mkdir(parents=True, exist_ok=True)
    for path in logs.glob("*.log"):
        (target / path.name).write_bytes(path.read_bytes()[-200_000:])


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - one stat before the browser starts
        pytest.fail(f"Debian's chromium is needed at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def wait_until(predicate: Any, *, timeout_s: float, interval_s: float = 0.25, what: str = "condition") -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what} not reached after {timeout_s}s")
        await asyncio.sleep(interval_s)


async def get_json(url: str) -> Any:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
        response.raise_for_status()
        return response.json()
