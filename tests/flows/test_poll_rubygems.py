"""``poll-rubygems`` against a real Prefect server and the sandbox: what a run queues, and its artifact."""

from __future__ import annotations

import pytest

from core.settings import Settings
from flows.poll_rubygems import poll_rubygems
from sandbox import Sandbox
from tests.flows.conftest import run_artifacts, table_rows

pytestmark = pytest.mark.e2e


async def test_each_run_queues_the_releases_since_the_last_and_lists_them(
    flow_settings: Settings, world_sandbox: Sandbox
) -> None:
    first = await poll_rubygems(return_state=True)
    rows = table_rows((await run_artifacts(first.state_details.flow_run_id))["poll-rubygems"])
    assert (await first.aresult())["discovered"] == sum(r["status"] == "queued" for r in rows) > 0
    assert all(r["repo"] for r in rows if r["status"] == "queued")

    releases = [world_sandbox.publish("rubygems") for _ in range(4)]
    state = await poll_rubygems(return_state=True)
    rows = table_rows((await run_artifacts(state.state_details.flow_run_id))["poll-rubygems"])
    assert {(r["package"], r["version"], r["status"] == "queued") for r in rows} == {
        (r["package"], r["version"], r["repo"] is not None) for r in releases
    }
    assert all(r["status"].startswith("skipped: ") for r in rows if r["status"] != "queued")
    assert (await state.aresult())["gaps"] == 0
