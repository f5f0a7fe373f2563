"""The pages people read: the homepage and one page per repository."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from api.routes.repos import repo_ref
from api.services import Services, get_services
from core.errors import NotFound
from core.models import ChangelogDocument, Outcome, RepoRef
from core.pages import render_repo_page, render_template
from core.store import changelog_json_key

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


@router.get("/", include_in_schema=False)
async def homepage(services: Annotated[Services, Depends(get_services)]) -> HTMLResponse:
    counts = await services.records.counts()
    recent = await services.feed.recent(limit=20)
    repos = counts.get(f"repos:{Outcome.OK.value}", 0)
    packages = sum(n for k, n in counts.items() if k.startswith("packages:"))
    html = render_template(
        "index.html",
        site_url="",
        recent=recent,
        last_id=recent[0].id if recent else "",
        counts={"repos": repos, "packages": packages, "versions": 0},
    )
    return HTMLResponse(html)


@router.get("/github/{owner}/{repo}", include_in_schema=False)
async def repo_page(
    ref: Annotated[RepoRef, Depends(repo_ref)], services: Annotated[Services, Depends(get_services)]
) -> HTMLResponse:
    try:
        data = await services.artifacts.get(changelog_json_key(ref.full_name))
    except NotFound:
        html = render_template("pending.html", site_url="", repo=ref.full_name)
        return HTMLResponse(html, status_code=404)
    document = ChangelogDocument.model_validate_json(data)
    return HTMLResponse(render_repo_page(document, site_url=""))
