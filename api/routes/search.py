"""``/search?q=``: autocomplete over repositories and package names.

Every keystroke of every visitor lands here, so a well-formed request (``q`` and ``limit`` within bounds) is
answered by ``fast_search`` in front of the whole ASGI stack, without FastAPI's routing, dependency injection and
validation (which cost about five times the search itself). Anything else falls through to the FastAPI route
below, which documents the operation in the OpenAPI schema and answers odd input with its usual 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from api.services import Services, get_services
from core.search import SearchIndex

router = APIRouter(tags=["search"])

MAX_QUERY = 200
MAX_LIMIT = 50
DEFAULT_LIMIT = 10
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"public, max-age=60"),
    (b"x-content-type-options", b"nosniff"),
]


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


def search_body(index: SearchIndex, q: str, limit: int) -> bytes:
    """The JSON answer to ``q``."""
    return orjson.dumps([hit.as_json() for hit in index.search(q, limit=limit)])


@router.get("/search", response_model=list[SearchHit])
async def search(
    services: Annotated[Services, Depends(get_services)],
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """Ranked matches: exact name, then whole-name prefix, then a prefix of any word of the name; typo-tolerant
    suggestions (``suggestion: true``) follow when fewer than 10 names match."""
    body = search_body(services.search, q, limit)
    return Response(body, media_type="application/json", headers={"Cache-Control": "public, max-age=60"})


def _well_formed(query_string: bytes) -> tuple[str, int] | None:
    """``q`` and ``limit`` when the query string holds nothing else and both are within bounds."""
    try:
        pairs = parse_qsl(query_string.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= {"q", "limit"}:
        return None
    q = params.get("q", "")
    limit = params.get("limit", str(DEFAULT_LIMIT))
    if len(q) > MAX_QUERY or not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        return None
    return q, int(limit)


def fast_search(app: ASGIApp, index: Callable[[], SearchIndex | None]) -> ASGIApp:
    """``app`` with well-formed ``GET /search`` requests answered straight from ``index()`` (``None`` before the
    api has started)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/search" and scope["method"] == "GET":
            current = index()
            params = _well_formed(scope["query_string"]) if current is not None else None
            if current is not None and params is not None:
                body = search_body(current, *params)
                headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return asgi
