"""Fakes for the client tests: ``httpx.MockTransport`` handlers that answer with recorded real responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.clients import RetryPolicy, open_http
from core.settings import Settings, load_settings

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


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """The local fakes of the four services on loopback ports, shared by the session (skipped without them)."""
    module = pytest.importorskip("sandbox")
    with module.Sandbox(seed=11, packages=300) as running:
        yield running


@pytest.fixture
def sandbox_settings(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings read from the environment the sandbox gives, as a service process would; faults and the GitHub
    budget are put back afterwards."""
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    yield load_settings()
    sandbox.set_faults("all", clear=True)
    sandbox.set_budget(5000)


@pytest.fixture
async def sandbox_http(sandbox_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service's own pooled HTTP client, as ``open_http`` builds it."""
    async with open_http(sandbox_settings) as http:
        yield http
