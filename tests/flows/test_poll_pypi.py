"""``poll-pypi`` against a real Prefect server and the sandbox: what a run queues, its artifact and its logs; and
the artifact's rows and description on their own."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

from core.settings import Settings
from flows._artifacts import poll_description, poll_rows
from flows.poll_pypi import poll_pypi
from sandbox import Sandbox
from tests.flows.conftest import run_artifacts, table_rows


async def run_logs(flow_run_id: UUID, *, until: str, timeout_s: float = 20) -> list[str]:
    """The messages a flow run and its tasks logged, once one contains ``until`` (logs reach the server in
    batches) or ``timeout_s`` has passed."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with get_client() as client:
        while True:
            logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            messages = [log.message for log in logs]
            if any(until in m for m in messages) or asyncio.get_running_loop().time() > deadline:
                return messages
            await asyncio.sleep(0.5)


def _summary(**changes: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "source": "pypi",
        "discovered": 1,
        "skipped": {"other-host:gitlab": 1},
        "errors": 0,
        "gaps": 0,
        "cursor": "25000300",
        "rate_limited_until": None,
        "discoveries": [
            {
                "registry": "pypi",
                "package": "attrs",
                "version": "23.1.0",
                "repo": "python-attrs/attrs",
                "directory": None,
                "hint": "https://www.attrs.org/en/stable/changelog.html",
                "discovered_at": "2026-11-27T22:00:00+00:00",
            }
        ],
        "skips": [{"registry": "pypi", "package": "lean-wallet", "version": "0.1.0", "reason": "other-host:gitlab"}],
    }
    return summary | changes


def test_rows_say_what_was_queued_and_why_the_rest_was_skipped() -> None:
    assert poll_rows(_summary()) == [
        {"status": "queued", "registry": "pypi", "package": "attrs", "version": "23.1.0", "repo": "python-attrs/attrs",
         "directory": None, "hint": "https://www.attrs.org/en/stable/changelog.html"},
        {"status": "skipped: other-host:gitlab", "registry": "pypi", "package": "lean-wallet", "version": "0.1.0",
         "repo": None, "directory": None, "hint": None},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, ["**1 queued**; skipped: 1 other-host:gitlab", "cursor: `25000300`"], id="counts"),
        pytest.param(
            {"rate_limited_until": "2026-11-27T22:00:00+00:00"},
            ["stopped by a rate limit until 2026-11-27T22:00:00+00:00"],
            id="rate-limited",
        ),
        pytest.param({"discovered": 600}, ["599 more rows not shown"], id="truncated"),
        pytest.param({"skipped": {}, "skips": []}, ["skipped: none"], id="nothing-skipped"),
    ],
)
def test_description_counts_outcomes_and_says_why_a_run_stopped(changes: dict[str, Any], expected: list[str]) -> None:
    description = poll_description(_summary(**changes))
    for text in expected:
        assert text in description


@pytest.mark.e2e
async def test_a_run_queues_new_releases_and_its_artifact_and_logs_say_what_was_skipped_and_why(
    flow_settings: Settings, world_sandbox: Sandbox
) -> None:
    first = await poll_pypi(return_state=True)
    assert (await first.aresult())["discovered"] == 0
    assert table_rows((await run_artifacts(first.state_details.flow_run_id))["poll-pypi"]) == [
        {"status": "nothing new"}
    ]
    releases = [world_sandbox.publish("pypi") for _ in range(8)]
    nowhere = next(p for items in world_sandbox.summary()["packages"]["no_github"].values() for p in items
                   if p["registry"] == "pypi")  # fmt: skip
    releases.append(world_sandbox.publish("pypi", nowhere["name"]))

    state = await poll_pypi(return_state=True)
    result = await state.aresult()
    flow_run_id = state.state_details.flow_run_id
    artifact = (await run_artifacts(flow_run_id))["poll-pypi"]
    rows = table_rows(artifact)
    queued = {(r["package"], r["repo"].lower()) for r in rows if r["status"] == "queued"}
    assert queued == {(r["package"], r["repo"].lower()) for r in releases if r["repo"]}
    skipped = {r["package"]: r["status"] for r in rows if r["status"].startswith("skipped: ")}
    assert set(skipped) == {r["package"] for r in releases if not r["repo"]}
    assert result["discovered"] == len(queued)
    assert sum(result["skipped"].values()) == len(skipped)
    assert f"**{len(queued)} queued**" in (artifact.description or "")
    reason = skipped[nowhere["name"]].removeprefix("skipped: ")
    logs = await run_logs(flow_run_id, until=f"skipped: {reason}")
    assert any(f"pypi: {len(queued)} releases queued, {len(skipped)} skipped" in line for line in logs), logs
    assert any(line.endswith(f"skipped: {reason}") for line in logs), logs


@pytest.mark.e2e
async def test_a_rate_limited_run_completes_and_says_where_the_next_resumes(
    flow_settings: Settings, world_sandbox: Sandbox
) -> None:
    await poll_pypi()
    world_sandbox.publish("pypi")
    world_sandbox.set_faults("pypi", rate_limit_rate=1.0, retry_after_s=30)
    state = await poll_pypi(return_state=True)
    assert state.is_completed()
    result = await state.aresult()
    assert result["rate_limited_until"] is not None
    artifact = (await run_artifacts(state.state_details.flow_run_id))["poll-pypi"]
    assert "stopped by a rate limit" in (artifact.description or "")
