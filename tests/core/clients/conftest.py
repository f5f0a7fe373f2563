"""Fakes for the client tests: ``httpx.MockTransport`` handlers that answer with recorded real responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from core.clients import RetryPolicy

CORPUS = Path(__file__).resolve().parents[3] / "corpus" / "registries"

# Retries without waiting, so a test of three attempts takes no time.
FAST_RETRY = RetryPolicy(attempts=3, initial_s=0, max_s=0, jitter_s=0)

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]
MakeHttp = Callable[[Handler], httpx.AsyncClient]


def recorded(path: str) -> bytes:
    """A recorded real response body from ``corpus/registries``."""
    return (CORPUS / path).read_bytes()


@pytest.fixture
async def make_http() -> AsyncIterator[MakeHttp]:
    """Builds an ``httpx.AsyncClient`` whose every request goes to the given handler; closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def make(handler: Handler) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler), headers={"User-Agent": "changelogs-tests"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
