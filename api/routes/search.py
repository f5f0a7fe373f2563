"""``/search?q=``: autocomplete over repositories and package names."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.services import Services, get_services

router = APIRouter(tags=["search"])


class PackageMatch(BaseModel):
    registry: str
    name: str


class SearchHit(BaseModel):
    """The seed's ``score`` and ``completion`` (``owner/repo``), plus the package names that matched."""

    score: float
    completion: str
    packages: list[PackageMatch]
    versions: int
    suggestion: bool


@router.get("/search", response_model=list[SearchHit])
async def search(
    services: Annotated[Services, Depends(get_services)],
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    """Ranked matches: exact name, then whole-name prefix, then a prefix of any word of the name; typo-tolerant
    suggestions (``suggestion: true``) follow when fewer than 10 names match."""
    # Serialised directly (the hits are already plain data): the hot path of every keystroke.
    body = orjson.dumps([hit.as_json() for hit in services.search.search(q, limit=limit)])
    return Response(body, media_type="application/json", headers={"Cache-Control": "public, max-age=60"})
