"""``/healthz``: the follower's status document over HTTP, 200 while it progresses and 503 when stalled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from follower import serve_health

Status = dict[str, Any]


@pytest.fixture
async def health() -> AsyncIterator[tuple[str, Callable[[Status], None]]]:
    """The probe's base URL on a free port, and a setter of the status it serves."""
    status: Status = {"state": "ok", "seq": 40000123, "lag": 7, "changes_per_s": 312.5}

    def set_status(new: Status) -> None:
        status.clear()
        status.update(new)

    server = await serve_health(lambda: dict(status), port=0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", set_status
    server.close()
    await server.wait_closed()


async def test_healthz_serves_the_status_document(health: tuple[str, Callable[[Status], None]]) -> None:
    base, _ = health
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"state": "ok", "seq": 40000123, "lag": 7, "changes_per_s": 312.5}


async def test_a_stalled_follower_answers_503(health: tuple[str, Callable[[Status], None]]) -> None:
    base, set_status = health
    set_status({"state": "stalled", "seq": "12-g1AAAA", "seconds_since_read": 95.0})
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/healthz?verbose=1")
    assert response.status_code == 503
    assert response.json()["seq"] == "12-g1AAAA"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/", 404, id="other-path"),
        pytest.param("POST", "/healthz", 405, id="post"),
        pytest.param("HEAD", "/healthz", 200, id="head"),
    ],
)
async def test_only_get_and_head_of_healthz_are_served(
    health: tuple[str, Callable[[Status], None]], method: str, path: str, status: int
) -> None:
    base, _ = health
    async with httpx.AsyncClient() as client:
        response = await client.request(method, f"{base}{path}")
    assert response.status_code == status
    if method == "HEAD":
        assert response.content == b""
