"""``/healthz``: what a load balancer probes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.services import Services, get_services

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(services: Annotated[Services, Depends(get_services)]) -> dict[str, Any]:
    """Liveness plus what the search index holds."""
    counts = services.search.counts()
    return {
        "status": "ok",
        "indexed": {"repos": counts.repos, "packages": counts.packages, "versions": counts.versions},
        "names": len(services.search),
        "snapshot": services.keeper.snapshot,
    }
