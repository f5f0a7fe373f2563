"""Schemathesis over the OpenAPI schema: whatever the input (hostile names, huge or odd query strings, path
tricks), the api answers without a server error."""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from core.settings import Settings
from tests.api.conftest import running, seed

EXAMPLES = 60


def _fuzz(schema: schemathesis.BaseSchema) -> list[str]:
    """Run every operation with generated input; returns the operations run."""
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        run()
        ran.append(operation.label)
    return ran


async def test_no_input_makes_a_server_error(settings: Settings) -> None:
    await seed(settings)
    async with running(settings) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        ran = await asyncio.to_thread(_fuzz, schema)
    assert {
        "GET /search",
        "GET /api/github/{owner}/{repo}",
        "GET /api/github/{owner}/{repo}/range",
        "POST /api/github/{owner}/{repo}/crawl",
        "GET /api/packages/{registry}/{name}",
        "GET /api/recently-crawled",
        "GET /healthz",
    } <= set(ran)
