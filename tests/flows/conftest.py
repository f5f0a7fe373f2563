"""Flows run in the test process against a real Prefect server (``prefect_test_harness``, one per session), the
sandbox's fakes and the test Redis, with the environment a worker's flow run would see."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact
from prefect.testing.utilities import prefect_test_harness

from core.settings import Settings, load_settings
from deployments.serve import create_rate_limit
from sandbox import Sandbox


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="module")
def world_sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=13, packages=300) as sandbox:
        yield sandbox


@pytest.fixture
async def flow_settings(
    prefect_server: None,
    world_sandbox: Sandbox,
    data_dir: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Settings]:
    """The environment of a flow run, the ``github-api`` limit the deployment set-up creates, a fresh sandbox
    budget; faults and the budget are put back afterwards."""
    env = {
        **world_sandbox.env,
        "CHANGELOGS_DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "GITHUB_TOKEN": "flow-token",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    world_sandbox.set_faults("all", clear=True)
    world_sandbox.set_budget(5000)
    world_sandbox.reset_stats()
    settings = load_settings()
    await create_rate_limit(settings)
    yield settings
    world_sandbox.set_faults("all", clear=True)
    world_sandbox.set_budget(5000)


async def run_artifacts(flow_run_id: UUID) -> dict[str, Artifact]:
    """The artifacts a flow run left, by key."""
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found if a.key}


def table_rows(artifact: Artifact) -> list[dict[str, Any]]:
    """The rows of a table artifact."""
    data = artifact.data
    rows: list[dict[str, Any]] = data if isinstance(data, list) else json.loads(data)
    return rows
