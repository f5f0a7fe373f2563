"""``/healthz``: what a load balancer probes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.services import Services, get_services

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(services: Annotated[Services, Depends(get_services)]) -> dict[str, Any]:
    """Liveness plus the numbers an operator looks at first."""
    counts = await services.records.counts()
    return {"status": "ok", "indexed": len(services.search), "counts": counts}
