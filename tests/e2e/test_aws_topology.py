"""The production topology on one machine (``infra/topology.py``): the Prefect server on PostgreSQL, two process
workers pulling the deployments of ``deployments/prefect.yaml``, two api processes and one Redis, each a process
of its own. A discovery queued for crawl-queue is crawled by a worker's flow run and served by both apis; the
deployments' ECS twins deploy to an ECS work pool made as ``infra/README.md`` says."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from prefect.client.orchestration import PrefectClient
from prefect.settings import PREFECT_API_URL, temporary_settings

from cli.processes import ROOT, python
from core.models import Discovery
from core.queue import open_queue
from core.settings import Settings
from core.store import open_records
from infra.ecs_pool import POOL as ECS_POOL
from infra.ecs_pool import apply, base_job_template
from infra.topology import ECS_PREFECT_YAML, POOL, Topology, deployment_names
from tests.e2e.conftest import get_json, wait_for_flow_run

pytestmark = pytest.mark.e2e

OUTPUTS = {
    "Cluster": "changelogs",
    "FlowRunTaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/changelogs-flow-run:1",
    "TaskSubnets": "subnet-1,subnet-2",
    "TaskSecurityGroup": "sg-1",
}


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    data_dir = tmp_path_factory.mktemp("topology")
    with Topology(
        data_dir, workers=2, apis=2, database="changelogs_e2e_topology", sandbox_args=["--packages", "300"]
    ) as running:
        asyncio.run(running.pause_schedules())
        yield running


async def test_a_worker_of_the_production_topology_crawls_what_was_queued(topology: Topology) -> None:
    settings = Settings(data_dir=topology.data_dir, redis_url=topology.env["REDIS_URL"])
    async with PrefectClient(api=topology.env["PREFECT_API_URL"]) as client:
        flows = {f.id: f.name for f in await client.read_flows()}
        deployments = {f"{flows[d.flow_id]}/{d.name}": d for d in await client.read_deployments()}
        assert set(deployments) == set(deployment_names())
        assert {d.work_pool_name for d in deployments.values()} == {POOL}
        crawl_queue = deployments["crawl-queue/crawl-queue"]
        limit = crawl_queue.global_concurrency_limit
        assert limit is not None and limit.limit == 2  # one run per worker

        repo = await _repo_with_changelog(topology)
        queue = open_queue(settings)
        await queue.publish([Discovery(registry="npm", package="e2e", version="1.0.0", repo=repo)])
        await queue.aclose()
        run = await client.create_flow_run_from_deployment(crawl_queue.id, parameters={"max_seconds": 10})
        finished = await wait_for_flow_run(client, run.id, timeout_s=180)
        assert finished.state.is_completed(), finished.state

    records = open_records(settings)
    assert (await records.get_repo(repo)).outcome.value == "ok"
    await records.aclose()
    for api in topology.api_urls:
        document = await get_json(f"{api}/api/github/{repo}")
        assert document["name"].lower() == repo.lower()


async def test_the_ecs_twins_deploy_to_the_work_pool_made_from_the_stacks_outputs(topology: Topology) -> None:
    # infra/README.md, steps 5 and 6, against the topology's Prefect server.
    with temporary_settings(updates={PREFECT_API_URL: topology.env["PREFECT_API_URL"]}):
        assert await apply(ECS_POOL, base_job_template(OUTPUTS)) == "created"
    done = await asyncio.to_thread(
        subprocess.run,
        python("-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file", str(ECS_PREFECT_YAML)),
        env={**os.environ, **topology.env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    async with PrefectClient(api=topology.env["PREFECT_API_URL"]) as client:
        twins = [d for d in await client.read_deployments() if d.name == "ecs"]
        pool = await client.read_work_pool(ECS_POOL)
    assert len(twins) == len(deployment_names())
    assert {d.work_pool_name for d in twins} == {ECS_POOL}
    for twin in twins:
        (step,) = twin.pull_steps or []
        assert step["prefect.deployments.steps.set_working_directory"]["directory"] == "/app"
    assert pool.base_job_template["variables"]["properties"]["cluster"]["default"] == "changelogs"


async def _repo_with_changelog(topology: Topology) -> str:
    async with httpx.AsyncClient(timeout=60) as http:
        world = (await http.get(f"{topology.env['SANDBOX_CONTROL_URL']}/world")).json()
    # A changelog at the repository's top (a monorepo member's needs its package's directory).
    special = {s["repo"] for s in world["special"].values()}
    return str(next(r["repo"] for r in world["repos"]["changelog"] if not r["directory"] and r["repo"] not in special))
