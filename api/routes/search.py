"""``/search?q=``: autocomplete over repositories and package names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.services import Services, get_services

router = APIRouter(tags=["search"])


@router.get("/search")
async def search(
    services: Annotated[Services, Depends(get_services)],
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[dict[str, Any]]:
    """The seed's shape, ``[{"score", "completion"}]``, plus the packages that matched."""
    return [hit.as_json() for hit in services.search.search(q, limit=limit)]
