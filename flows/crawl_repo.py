"""``crawl-repo``: crawl one repository now, whatever its schedule says (the operator's button)."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from core.errors import NotFound
from core.models import ChangelogDocument
from core.store import changelog_json_key
from tasks._services import close_services, get_services
from tasks.crawl import crawl_repo as crawl_repo_task

NEWEST = 3


@flow(name="crawl-repo", log_prints=True)
async def crawl_repo(repo: str, directory: str | None = None, force: bool = True) -> dict[str, Any]:
    """Crawl the GitHub repository ``repo`` (``owner/name``) now.

    ``directory`` names the package's folder in a monorepo. With ``force`` (the default) the crawl ignores the
    skip rules (recently crawled, gone, no changelog). The run's markdown artifact shows the newest release notes.
    A run that failed (GitHub down, say) can be run again with the UI's Retry button or
    ``prefect flow-run retry <id>``.
    """
    try:
        result = await crawl_repo_task(repo, directory=directory, force=force)
        services = await get_services()
        name = result.get("renamed_to") or result["repo"]
        try:
            document = ChangelogDocument.model_validate_json(await services.artifacts.get(changelog_json_key(name)))
        except NotFound:
            markdown = f"# {name}\n\nOutcome: **{result['outcome']}** {result.get('reason') or ''}\n"
        else:
            markdown = _newest_notes(document, outcome=result["outcome"])
        await acreate_markdown_artifact(key="crawl-repo", markdown=markdown, description=f"Release notes of {name}")
        return result
    finally:
        await close_services()


def _newest_notes(document: ChangelogDocument, *, outcome: str) -> str:
    parts = [
        f"# {document.name}",
        "",
        f"Outcome: **{outcome}**. {len(document.contents)} versions, "
        f"from `{document.source.path if document.source else '?'}`",
        "",
    ]
    for notes in document.contents[:NEWEST]:
        date = f" ({notes.date.isoformat()})" if notes.date else ""
        # Raw HTML in a changelog is not trusted anywhere, the Prefect UI included.
        body = notes.body.strip()[:4000].replace("<", "&lt;")
        parts += [f"## {notes.version}{date}", "", body, ""]
    return "\n".join(parts)
