"""``recrawl-stale``: due repositories are revisited (for free when unchanged), others are left alone."""

from __future__ import annotations

import datetime as dt

import pytest

from core.crawl import Crawler, CrawlRequest
from core.models import Outcome, RepoRef, utcnow
from core.settings import Settings
from flows.recrawl_stale import recrawl_stale
from sandbox import Sandbox
from tests.flows.conftest import run_artifacts, table_rows

pytestmark = pytest.mark.e2e


async def test_due_repositories_are_revisited_without_charged_requests_and_the_rest_wait(
    flow_settings: Settings, world_sandbox: Sandbox
) -> None:
    entries = [e for e in world_sandbox.summary()["repos"]["changelog"] if not e["directory"]][10:16]
    crawler = Crawler.open(flow_settings, token="flow-token")
    try:
        for entry in entries:
            assert (await crawler.crawl(CrawlRequest(RepoRef.parse(entry["repo"])))).outcome is Outcome.OK
        due, later = entries[:4], entries[4:]
        for entry in due:
            record = await crawler.records.get_repo(entry["repo"])
            await crawler.records.put_repo(record.model_copy(update={"next_crawl_at": utcnow()}))
        before = {e["repo"]: (await crawler.records.get_repo(e["repo"])).crawled_at for e in later}
        world_sandbox.reset_stats()

        state = await recrawl_stale(return_state=True)
        result = await state.aresult()

        assert result["due"] == 4 and result["outcomes"] == {"unchanged": 4}
        assert world_sandbox.stats()["github"].get("charged", 0) == 0
        for entry in due:
            record = await crawler.records.get_repo(entry["repo"])
            assert record.next_crawl_at is not None and record.next_crawl_at > utcnow() + dt.timedelta(hours=17)
        for entry in later:
            assert (await crawler.records.get_repo(entry["repo"])).crawled_at == before[entry["repo"]]
    finally:
        await crawler.aclose()
    rows = table_rows((await run_artifacts(state.state_details.flow_run_id))["recrawl-stale"])
    assert sorted(r["repo"] for r in rows) == sorted(e["repo"] for e in due)
    assert all(r["charged"] == 0 for r in rows)
