"""Fixtures for the sandbox's tests: a small world, and in-process clients of each fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from sandbox import World, github, npm, pypi, rubygems

RECORDED = Path(__file__).resolve().parents[2] / "corpus" / "registries"
NOW = 1_780_000_000.0  # 2026-05-28: fixed, so timestamps are the same on every run


def recorded(path: str) -> Any:
    """A real response recorded under ``corpus/registries/``."""
    return json.loads((RECORDED / path).read_text())


@pytest.fixture
def world() -> World:
    # RubyGems' 10 requests/s limit is tested on its own; here it would only slow the loops over many gems down.
    return World(seed=7, packages=300, now=NOW, rubygems_rps=1e9)


def _client(app: Starlette, base: str, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base, headers={"User-Agent": "sandbox-tests", **headers}
    )


@pytest.fixture
async def github_client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(github.create_app(world), "http://api.github.test") as client:
        yield client


@pytest.fixture
async def pypi_client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(pypi.create_app(world), "http://pypi.test") as client:
        yield client


@pytest.fixture
async def rubygems_client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(rubygems.create_app(world), "http://rubygems.test") as client:
        yield client


@pytest.fixture
async def replicate_client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(npm.create_replicate_app(world), "http://replicate.test") as client:
        yield client


@pytest.fixture
async def registry_client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(npm.create_registry_app(world), "http://registry.test") as client:
        yield client
