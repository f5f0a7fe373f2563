"""``changelogs crawl owner/repo`` and ``changelogs backfill FILE``: crawls from the command line.

Both run the crawler of ``core`` in this process, on the stores the settings name. With ``REDIS_URL`` set (as
``changelogs up`` sets it for its children) they share the GitHub budget and the repository locks with the
workers and announce what they crawl on the live feed; without it they run alone. They do not go through
Prefect: no flow run is recorded, and the ``github-api`` rate limit is not taken (the budget still is).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from core.crawl import Crawler, CrawlRequest, CrawlResult
    from core.settings import Settings

console = Console()

_Force = typer.Option("--force/--no-force", help="Ignore the skip rules (crawled recently, gone, no changelog).")


def register(app: typer.Typer) -> None:
    """Add the ``crawl`` and ``backfill`` commands to ``app``."""
    app.command("crawl")(crawl_command)
    app.command("backfill")(backfill_command)


def crawl_command(
    repo: Annotated[str, typer.Argument(help="owner/name, or a GitHub URL (…/tree/main/packages/x names a folder).")],
    directory: Annotated[str | None, typer.Option(help="The package's folder in a monorepo.")] = None,
    force: Annotated[bool, _Force] = True,
) -> None:
    """Crawl one GitHub repository now and show what was found."""
    request = _request(repo, directory=directory, force=force)
    if request is None:
        console.print(f"[red]{repo!r} names no GitHub repository[/]")
        raise typer.Exit(2)
    result = asyncio.run(_crawl_one(request))
    _show(result)
    if result.outcome.value == "failed":
        raise typer.Exit(1)


def backfill_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="One repository a line (owner/name or a URL).")
    ],
    force: Annotated[bool, _Force] = False,
    concurrency: Annotated[
        int | None, typer.Option(help="Crawls at a time [default: CHANGELOGS_CRAWL_CONCURRENCY].")
    ] = None,
) -> None:
    """Crawl every repository listed in FILE (blank lines and # comments are skipped), with a progress bar."""
    requests, unknown = [], []
    for line in file.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        request = _request(text, directory=None, force=force)
        if request is None:
            unknown.append(text)
        else:
            requests.append(request)
    for text in unknown:
        console.print(f"[yellow]skipped {text!r}: not a GitHub repository[/]")
    results = asyncio.run(_backfill(requests, concurrency=concurrency))
    table = Table(title=f"{len(results)} repositories")
    table.add_column("outcome")
    table.add_column("repositories", justify="right")
    for outcome, count in Counter(r.outcome.value for r in results).most_common():
        table.add_row(outcome, str(count))
    console.print(table)
    console.print(
        f"GitHub requests: {sum(r.requests for r in results)}, charged to the budget: {sum(r.charged for r in results)}"
    )
    if any(r.outcome.value == "failed" for r in results):
        raise typer.Exit(1)


def _request(text: str, *, directory: str | None, force: bool) -> CrawlRequest | None:
    from core.crawl import CrawlRequest
    from core.repourl import resolve

    resolution = resolve(text)
    if resolution.repo is None:
        return None
    return CrawlRequest(resolution.repo, directory=directory or resolution.directory, force=force, discovered=False)


def _open(settings: Settings) -> Crawler:
    from core.crawl import Crawler

    token = settings.github_token.get_secret_value() if settings.github_token else None
    if token is None:
        console.print("[yellow]GITHUB_TOKEN is not set: GitHub allows 60 requests an hour without one[/]")
    if not settings.redis_url:
        console.print("[dim]REDIS_URL is not set: crawling alone (own budget, no live feed)[/]")
    return Crawler.open(settings, token=token)


async def _crawl_one(request: CrawlRequest) -> CrawlResult:
    from core.settings import load_settings

    crawler = _open(load_settings())
    try:
        with console.status(f"crawling [bold]{request.repo}[/]…") as status:
            task = asyncio.ensure_future(_guarded(crawler, request))
            while not task.done():
                counts = crawler.github.counts
                status.update(
                    f"crawling [bold]{request.repo}[/]… {counts.total} GitHub requests "
                    f"({counts.charged.total()} charged, {counts.not_modified.total()} not modified)"
                )
                await asyncio.wait({task}, timeout=0.1)
            return task.result()
    finally:
        await crawler.aclose()


async def _backfill(requests: list[CrawlRequest], *, concurrency: int | None) -> list[CrawlResult]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from core.settings import load_settings

    settings = load_settings()
    crawler = _open(settings)
    limit = asyncio.Semaphore(concurrency or settings.crawl_concurrency)
    outcomes: Counter[str] = Counter()
    columns = (
        TextColumn("[bold]backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[outcomes]}"),
    )
    try:
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("backfill", total=len(requests), outcomes="")

            async def one(request: CrawlRequest) -> CrawlResult:
                async with limit:
                    result = await _guarded(crawler, request)
                outcomes[result.outcome.value] += 1
                shown = " ".join(f"{k} {v}" for k, v in outcomes.most_common())
                progress.update(bar, advance=1, outcomes=shown)
                return result

            return list(await asyncio.gather(*(one(r) for r in requests)))
    finally:
        await crawler.aclose()


async def _guarded(crawler: Crawler, request: CrawlRequest) -> CrawlResult:
    """The crawl's result; a failure (after the client's own retries) is recorded and reported, not raised."""
    from core.crawl import CrawlResult
    from core.errors import ChangelogsError
    from core.models import Outcome

    started = time.perf_counter()
    try:
        return await crawler.crawl(request)
    except ChangelogsError as exc:
        await crawler.record_failure(request, exc)
        ms = int((time.perf_counter() - started) * 1000)
        return CrawlResult(request.repo.full_name, Outcome.FAILED, ms=ms, reason=f"{type(exc).__name__}: {exc}")


def _show(result: CrawlResult) -> None:
    table = Table(show_header=False, title=result.repo)
    rows = [
        ("outcome", result.outcome.value + (f" ({result.reason})" if result.reason else "")),
        ("versions", str(result.versions)),
        ("latest version", result.latest_version or "—"),
        ("source", result.source or "—"),
        ("renamed to", result.renamed_to or "—"),
        ("GitHub requests", f"{result.requests} ({result.charged} charged)"),
        ("time", f"{result.ms} ms"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
