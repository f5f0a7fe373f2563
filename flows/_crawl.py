"""What the crawl flows share: ``crawl_repo`` over many repositories at bounded concurrency, and the artifacts an
operator reads on each run (a table of every repository and a summary)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from core.errors import RateLimited
from tasks.crawl import crawl_repo

TABLE_COLUMNS = ["repo", "outcome", "versions", "latest_version", "requests", "charged", "ms", "reason"]
MAX_ROWS = 1000


@dataclass(frozen=True, slots=True)
class Crawled:
    """How one ``crawl_repo`` ended: its table row, and the error when it failed after its retries."""

    row: dict[str, Any]
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rate_limited(self) -> bool:
        return isinstance(self.error, RateLimited)


@dataclass(slots=True)
class Tally:
    """The rows of a run and its counts, for the artifacts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    charged: int = 0

    def add(self, crawled: Crawled) -> None:
        self.rows.append(crawled.row)
        self.outcomes[crawled.row["outcome"]] += 1
        self.requests += crawled.row.get("requests") or 0
        self.charged += crawled.row.get("charged") or 0


async def crawl_each(requests: Sequence[dict[str, Any]], *, concurrency: int) -> list[Crawled]:
    """Run ``crawl_repo`` once per request (its keyword arguments), at most ``concurrency`` at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def one(request: dict[str, Any]) -> Crawled:
        async with limit:
            state = await crawl_repo(**request, return_state=True)
        if state.is_completed():
            return Crawled(await state.aresult())
        error = await state.aresult(raise_on_failure=False)
        if not isinstance(error, BaseException):
            error = RuntimeError(f"crawl_repo ended {state.type.value}: {state.message}")
        outcome = "rate-limited" if isinstance(error, RateLimited) else "failed"
        return Crawled({"repo": request["repo"], "outcome": outcome, "reason": str(error)[:300]}, error)

    return list(await asyncio.gather(*(one(r) for r in requests)))


async def crawl_artifacts(key: str, tally: Tally, *, title: str, lines: Sequence[str]) -> None:
    """The run's table (one row per repository: outcome, versions, latest version, GitHub requests, ms) and its
    summary in markdown (``lines`` first, then the outcomes)."""
    if tally.rows:
        shown = tally.rows[:MAX_ROWS]
        more = len(tally.rows) - len(shown)
        await acreate_table_artifact(
            key=key,
            table=[{c: row.get(c) for c in TABLE_COLUMNS} for row in shown],
            description=f"{len(tally.rows)} repositories" + (f"; {more} more not shown" if more > 0 else ""),
        )
    summary = [
        f"# {title}",
        "",
        *lines,
        f"- repositories: **{len(tally.rows)}**",
        f"- GitHub requests: **{tally.requests}**, of which charged to the budget: **{tally.charged}**",
        "",
        "| outcome | repositories |",
        "| --- | ---: |",
        *(f"| {k} | {v} |" for k, v in sorted(tally.outcomes.items())),
    ]
    await acreate_markdown_artifact(key=f"{key}-summary", markdown="\n".join(summary), description=f"{title} summary")
