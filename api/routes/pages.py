"""The pages people read: the homepage, one page per repository (and its Atom feed), and "not crawled yet"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from api.routes.repos import load_document, repo_ref
from api.services import Services, get_services
from core.errors import NotFound
from core.models import PackageLink, RepoRef
from core.pages import Upgrade, render_repo_feed, render_repo_page, render_template, upgrade_notes

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)

RECENT = 20


@router.get("/", include_in_schema=False)
async def homepage(services: Annotated[Services, Depends(get_services)]) -> HTMLResponse:
    recent = await services.feed.recent(limit=RECENT)
    html = render_template(
        "index.html",
        site_url="",
        recent=recent,
        last_id=recent[0].id if recent else "",
        counts=services.search.counts(),
    )
    return HTMLResponse(html)


@router.get("/github/{owner}/{repo}.atom", include_in_schema=False)
async def repo_feed(
    ref: Annotated[RepoRef, Depends(repo_ref)], services: Annotated[Services, Depends(get_services)]
) -> Response:
    document = await load_document(ref, services)
    xml = render_repo_feed(document, site_url=services.settings.site_url)
    return Response(xml, media_type="application/atom+xml; charset=utf-8")


@router.get("/github/{owner}/{repo}", include_in_schema=False)
async def repo_page(
    ref: Annotated[RepoRef, Depends(repo_ref)],
    services: Annotated[Services, Depends(get_services)],
    from_version: Annotated[str | None, Query(alias="from", max_length=100)] = None,
    to_version: Annotated[str | None, Query(alias="to", max_length=100)] = None,
) -> HTMLResponse:
    try:
        document = await load_document(ref, services)
    except NotFound:
        html = render_template("pending.html", site_url="", repo=ref.full_name)
        return HTMLResponse(html, status_code=404)
    # Packages discovered since the crawl point at the repository too.
    known = {(p.registry, p.name) for p in document.packages}
    later = [
        PackageLink(registry=p.registry, name=p.name)
        for p in await services.records.packages_for_repo(ref.full_name)
        if (p.registry, p.name) not in known
    ]
    if later:
        document = document.model_copy(update={"packages": [*document.packages, *later]})
    upgrade = None
    if from_version and to_version:
        try:
            upgrade = Upgrade(from_version, to_version, upgrade_notes(document, from_version, to_version))
        except ValueError:
            upgrade = Upgrade(from_version, to_version, [])
    return HTMLResponse(render_repo_page(document, site_url="", upgrade=upgrade))
