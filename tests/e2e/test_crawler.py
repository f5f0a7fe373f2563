"""The crawler in the running service: an operator re-runs a failed crawl the way the UI's Retry button does."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.e2e.conftest import Stack, get_json, wait_for_flow_run

pytestmark = pytest.mark.e2e


async def test_a_failed_crawl_repo_run_succeeds_when_retried_after_the_fault_is_removed(stack: Stack) -> None:
    summary = stack.sandbox.summary()
    entry = next(e for e in summary["repos"]["changelog"] if not e["directory"] and e["source"] not in ("huge",))
    # Every GitHub answer unreadable: the crawl fails (a malformed body is not worth retrying).
    stack.sandbox.set_faults("github", malformed_rate=1.0)
    try:
        failed = await stack.run_deployment("crawl-repo/crawl-repo", {"repo": entry["repo"]})
    finally:
        stack.sandbox.set_faults("github", clear=True)
    assert failed.state.is_failed(), failed.state

    # What the UI's Retry button does, from the command line.
    retry = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prefect",
        "flow-run",
        "retry",
        str(failed.id),
        env={**os.environ, **stack.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(retry.communicate(), 120)
    assert retry.returncode == 0, output.decode()
    async with stack.prefect() as client:
        again = await wait_for_flow_run(client, failed.id, timeout_s=120)
    assert again.state.is_completed(), again.state
    assert again.run_count == 2
    document = await get_json(f"{stack.site}/api/github/{entry['repo']}")
    assert document["source"]["path"] == entry["path"]
    assert len(document["contents"]) > 0
