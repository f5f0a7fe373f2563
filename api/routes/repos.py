"""The JSON API: a repository's changelog, and what was crawled recently."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from api.services import Services, get_services
from core.models import RepoRef
from core.store import changelog_json_key

router = APIRouter(prefix="/api", tags=["api"])


def repo_ref(owner: str, repo: str) -> RepoRef:
    """The repository named in the path, or a 404 for a name GitHub could not have."""
    try:
        return RepoRef.parse(f"{owner}/{repo}")
    except ValueError:
        raise HTTPException(status_code=404, detail="not a GitHub repository name") from None


@router.get("/github/{owner}/{repo}")
async def changelog(ref: Annotated[RepoRef, Depends(repo_ref)], services: Annotated[Services, Depends(get_services)]):
    """The changelog JSON of a repository: the seed's fields plus packages, source and each version's html."""
    data = await services.artifacts.get(changelog_json_key(ref.full_name))
    return Response(data, media_type="application/json")


@router.get("/recently-crawled")
async def recently_crawled(
    services: Annotated[Services, Depends(get_services)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[dict[str, Any]]:
    """The newest crawled events, newest first."""
    events = await services.feed.recent(limit=limit)
    return [json.loads(e.model_dump_json()) for e in events]
