"""``crawl-repo``: the operator's button, its artifact, the token and the ``github-api`` rate limit."""

from __future__ import annotations

import asyncio
import hashlib
import math

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, TaskRunFilter, TaskRunFilterFlowRunId

from core.settings import Settings
from flows.crawl_repo import crawl_repo
from sandbox import Sandbox
from tests.flows.conftest import run_artifacts

pytestmark = pytest.mark.e2e


def _with_changelog(sandbox: Sandbox, index: int = 0) -> dict[str, str]:
    changelogs = sandbox.summary()["repos"]["changelog"]
    return [e for e in changelogs if not e["directory"] and e["source"] not in ("huge", "xss")][index]


async def test_a_run_leaves_the_newest_release_notes_and_names_its_task_after_the_repository(
    flow_settings: Settings, world_sandbox: Sandbox
) -> None:
    entry = _with_changelog(world_sandbox)
    state = await crawl_repo(entry["repo"], return_state=True)
    result = await state.aresult()
    assert result["outcome"] == "ok" and result["versions"] > 0
    flow_run_id = state.state_details.flow_run_id
    markdown = (await run_artifacts(flow_run_id))["crawl-repo"].data
    assert markdown.startswith(f"# {entry['repo']}")
    assert f"from `{entry['path']}`" in markdown
    assert f"## {result['latest_version']}" in markdown
    async with get_client() as client:
        tasks = await client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id]))
        )
    assert [t.name for t in tasks] == [f"crawl-{entry['repo']}"]


async def test_the_token_comes_from_a_secret_block_when_github_token_is_unset(
    flow_settings: Settings, world_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("CHANGELOGS_GITHUB_TOKEN_BLOCK", "github-token")
    await Secret(value="token-from-the-block").save("github-token", overwrite=True)
    await crawl_repo(_with_changelog(world_sandbox, 1)["repo"])
    digest = hashlib.sha256(b"token-from-the-block").hexdigest()[:12]
    assert f"token:{digest}" in world_sandbox.stats()["budget"]


async def test_every_charged_request_is_paid_with_a_slot_of_the_github_api_limit(
    flow_settings: Settings, world_sandbox: Sandbox
) -> None:
    async with get_client() as client:
        # Slots that barely decay, so they can be counted after the run.
        await client.upsert_global_concurrency_limit_by_name("github-api", 1000, slot_decay_per_second=0.001)
        before = (await client.read_global_concurrency_limit_by_name("github-api")).active_slots
        world_sandbox.reset_stats()
        result = await crawl_repo(_with_changelog(world_sandbox, 2)["repo"])
        after = (await client.read_global_concurrency_limit_by_name("github-api")).active_slots
    charged = world_sandbox.stats()["github"]["charged"]
    assert result["charged"] == charged > 0
    # Slots are taken twenty at a time, before the requests that spend them.
    assert after - before == 20 * math.ceil(charged / 20)


async def test_without_the_github_api_limit_the_crawl_fails_rather_than_run_unpaced(
    flow_settings: Settings, world_sandbox: Sandbox
) -> None:
    async with get_client() as client:
        await client.delete_global_concurrency_limit_by_name("github-api")
    state = await crawl_repo(_with_changelog(world_sandbox, 3)["repo"], return_state=True)
    assert state.is_failed()
    assert "github-api" in str(await state.aresult(raise_on_failure=False))


async def test_the_logs_say_why_a_repository_was_skipped(flow_settings: Settings, world_sandbox: Sandbox) -> None:
    repo = _with_changelog(world_sandbox, 4)["repo"]
    await crawl_repo(repo)
    state = await crawl_repo(repo, force=False, return_state=True)
    assert (await state.aresult())["outcome"] == "skipped"
    deadline = asyncio.get_running_loop().time() + 20
    async with get_client() as client:
        while True:
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
            )
            messages = [log.message for log in logs]
            if any("skipped" in m for m in messages) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
    assert any(f"{repo}: skipped (crawled recently; next crawl in" in m for m in messages), messages
