"""The JSON API: a repository's changelog, an upgrade's combined notes, packages, and what was crawled recently."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.crawl_requests import Requested
from api.services import Services, get_services
from core.errors import NotFound
from core.models import ChangelogDocument, CrawledEvent, Outcome, RepoRef, VersionNotes
from core.pages import upgrade_notes
from core.store import changelog_json_key

router = APIRouter(prefix="/api", tags=["api"])


Owner = Annotated[str, Path(max_length=39)]
Name = Annotated[str, Path(max_length=100)]


def repo_ref(owner: Owner, repo: Name) -> RepoRef:
    """The repository named in the path, or a 404 for a name GitHub could not have."""
    try:
        return RepoRef.parse(f"{owner}/{repo}")
    except ValueError:
        raise HTTPException(status_code=404, detail="not a GitHub repository name") from None


async def load_document(ref: RepoRef, services: Services) -> ChangelogDocument:
    """The stored changelog of ``ref``; raises ``NotFound`` before its first crawl."""
    data = await services.artifacts.get(changelog_json_key(ref.full_name))
    return ChangelogDocument.model_validate_json(data)


class RangeResponse(BaseModel):
    """What changed upgrading ``repo`` from one version to another: each version in between, newest first."""

    repo: str
    from_version: str
    to_version: str
    versions: list[VersionNotes]


class RepoStatus(BaseModel):
    """Where a repository stands: ``crawled`` (its changelog is served), ``pending`` (asked for, not crawled yet),
    or the outcome of its last crawl (``no_changelog``, ``gone``, ``empty``, ``failed``)."""

    repo: str
    status: str
    queued: bool = False


class PackageResponse(BaseModel):
    """A package and the repository its metadata points at."""

    registry: str
    name: str
    repo: str
    version: str | None
    directory: str | None
    href: str
    crawled: bool


@router.get("/github/{owner}/{repo}")
async def repo_changelog(
    ref: Annotated[RepoRef, Depends(repo_ref)], services: Annotated[Services, Depends(get_services)]
) -> Response:
    """The changelog JSON of a repository: the seed's fields (``crawledAt``, ``href``, ``repo``, ``changelog``,
    ``contents``) plus ``name``, ``packages``, ``source`` and each version's ``title`` and ``html``."""
    data = await services.artifacts.get(changelog_json_key(ref.full_name))
    return Response(data, media_type="application/json")


@router.get("/github/{owner}/{repo}/range")
async def repo_range(
    ref: Annotated[RepoRef, Depends(repo_ref)],
    services: Annotated[Services, Depends(get_services)],
    from_version: Annotated[str, Query(alias="from", min_length=1, max_length=100)],
    to_version: Annotated[str, Query(alias="to", min_length=1, max_length=100)],
) -> RangeResponse:
    """The combined notes of an upgrade from ``from`` to ``to`` (either order): every version after ``from`` up to
    and including ``to``, newest first."""
    document = await load_document(ref, services)
    try:
        versions = upgrade_notes(document, from_version, to_version)
    except ValueError:
        raise HTTPException(status_code=400, detail="from and to must be versions") from None
    return RangeResponse(repo=document.name, from_version=from_version, to_version=to_version, versions=versions)


@router.get("/github/{owner}/{repo}/status")
async def repo_status(
    ref: Annotated[RepoRef, Depends(repo_ref)], services: Annotated[Services, Depends(get_services)]
) -> RepoStatus:
    """Whether the repository's changelog is served yet (what a "not crawled yet" page polls)."""
    return RepoStatus(repo=ref.full_name, status=await _status(ref, services))


@router.post(
    "/github/{owner}/{repo}/crawl",
    status_code=202,
    responses={429: {"description": "Too many crawl requests from this site in the last minute"}},
)
async def request_crawl(
    ref: Annotated[RepoRef, Depends(repo_ref)], services: Annotated[Services, Depends(get_services)]
) -> RepoStatus:
    """Ask for a crawl of a repository never crawled: it is queued like a discovery (``registry: "site"``)."""
    status = await _status(ref, services)
    if status != "pending":
        return RepoStatus(repo=ref.full_name, status=status)
    if await services.crawl_requests.request(ref) is Requested.LIMITED:
        raise HTTPException(
            status_code=429, detail="too many crawl requests; try again in a minute", headers={"Retry-After": "60"}
        )
    return RepoStatus(repo=ref.full_name, status=status, queued=True)


async def _status(ref: RepoRef, services: Services) -> str:
    try:
        record = await services.records.get_repo(ref.full_name)
    except NotFound:
        return "pending"
    if record.outcome in (Outcome.OK, Outcome.UNCHANGED) or record.versions_count:
        return "crawled"
    if record.outcome is Outcome.SKIPPED:
        return "pending"
    return record.outcome.value


@router.get("/packages/{registry}/{name:path}")
async def package(
    registry: Literal["npm", "pypi", "rubygems"],
    name: Annotated[str, Path(min_length=1, max_length=214)],
    services: Annotated[Services, Depends(get_services)],
) -> PackageResponse:
    """A package (npm scoped names as ``@scope/name``) and the repository it points at."""
    record = await services.records.get_package(registry, name)
    try:
        crawled = (await services.records.get_repo(record.repo)).outcome in (Outcome.OK, Outcome.UNCHANGED)
    except NotFound:
        crawled = False
    return PackageResponse(
        registry=record.registry,
        name=record.name,
        repo=record.repo,
        version=record.version,
        directory=record.directory,
        href=f"/api/github/{record.repo}",
        crawled=crawled,
    )


@router.get("/recently-crawled")
async def recently_crawled(
    services: Annotated[Services, Depends(get_services)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[CrawledEvent]:
    """The newest ``crawled_repo`` events, newest first (the seed's fields plus ``id``)."""
    return await services.feed.recent(limit=limit)
