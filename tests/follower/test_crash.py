"""``python -m follower`` as a real process against ``python -m sandbox --npm-changes 5000``: killed with SIGKILL at
random points while releases keep coming, restarted each time; then stopped with SIGTERM. Every change whose
package has a GitHub repository must be in the queue."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.processes import Child, free_port, python
from core.queue import DiscoveryQueue
from core.settings import Settings
from core.store import RecordStore
from follower import STATUS
from tests.follower.conftest import cursor, drain, wait_for
from tests.follower.test_follower import assert_whole_feed

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``python -m sandbox`` with 5,000 rows in npm's feed; yields the environment that points at it."""
    urls = tmp_path / "sandbox.json"
    argv = python(
        "-m", "sandbox", "--port", "0", "--packages", "2000", "--npm-changes", "5000", "--urls-file", str(urls)
    )  # fmt: skip
    sandbox = Child("sandbox", argv, {}, tmp_path / "logs", ready=urls.exists, restart=False)
    sandbox.start()
    try:
        sandbox.wait_ready(timeout_s=60)
        yield json.loads(urls.read_text())
    finally:
        sandbox.stop()


async def test_sigkill_at_random_points_loses_no_change_and_sigterm_exits_0(
    sandbox_process: dict[str, str],
    settings: Settings,
    records: RecordStore,
    queue: DiscoveryQueue,
    tmp_path: Path,
) -> None:
    health_port = free_port()
    env = {
        **sandbox_process,
        "CHANGELOGS_DATA_DIR": str(settings.data_dir),
        "REDIS_URL": settings.redis_url or "",
        "CHANGELOGS_NPM_START": "0",
        "CHANGELOGS_NPM_POLL_INTERVAL_S": "0.2",
        "CHANGELOGS_NPM_FETCH_CONCURRENCY": "4",
        "CHANGELOGS_FOLLOWER_HEALTH_PORT": str(health_port),
    }
    follower = Child("follower", python("-m", "follower"), env, tmp_path / "logs", restart=False)
    rng = random.Random(2026)
    positions: list[Any] = []
    async with httpx.AsyncClient(base_url=sandbox_process["SANDBOX_CONTROL_URL"], timeout=60) as control:
        for _ in range(3):
            before = await cursor(records)
            follower.start()

            async def moved(before: Any = before) -> bool:
                return await cursor(records) not in (None, before)

            await wait_for(moved, timeout_s=40)
            await asyncio.sleep(rng.uniform(0, 1.5))
            assert follower.process is not None
            os.killpg(follower.process.pid, signal.SIGKILL)
            assert await asyncio.to_thread(follower.process.wait, 10) == -signal.SIGKILL
            follower.stop()
            positions.append(await cursor(records))
            for _ in range(5):  # releases keep coming while it is down
                (await control.post("/publish", json={"registry": "npm", "package": None})).raise_for_status()

        summary = (await control.get("/world")).json()
        end = summary["counts"]["npm_update_seq"]
        assert positions == sorted(positions) and positions[-1] < end
        follower.start()

        async def caught_up() -> bool:
            return await cursor(records) == end

        await wait_for(caught_up, timeout_s=60)
        async with httpx.AsyncClient(timeout=5) as http:
            health = await http.get(f"http://127.0.0.1:{health_port}/healthz")
        assert health.status_code == 200
        assert health.json()["state"] == "ok"
        assert follower.process is not None
        os.killpg(follower.process.pid, signal.SIGTERM)
        assert await asyncio.to_thread(follower.process.wait, 15) == 0
        follower.stop()
    assert await cursor(records) == end
    assert_whole_feed(await drain(queue), summary)
    status = await records.get_status(STATUS)
    assert (status["seq"], status["lag"]) == (end, 0)
