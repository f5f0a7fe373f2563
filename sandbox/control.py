"""The sandbox's own knobs and counters, shared by every fake serving one world, and the ``/_sandbox/`` API.

``GET stats``, ``POST reset-stats``, ``POST publish``, ``POST faults``, ``POST budget`` and ``GET world`` answer on
every app, so a test or a benchmark can drive the whole sandbox through any one base URL.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

if TYPE_CHECKING:
    from sandbox.world import World

SERVICES = ("github", "npm", "pypi", "rubygems")


@dataclass
class Faults:
    """What one service does wrong, and how often (rates are per request, between 0 and 1)."""

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    stall_rate: float = 0.0  # hold the request for stall_s before answering
    stall_s: float = 30.0
    latency_ms: float = 0.0  # added to every request
    malformed_rate: float = 0.0  # a complete response whose body does not parse
    truncate_rate: float = 0.0  # the connection drops halfway through the body
    rate_limit_rate: float = 0.0  # the service's own rate-limit answer (GitHub: the secondary limit)
    retry_after_s: int = 1  # Retry-After of 429/503 answers and of GitHub's secondary limit


@dataclass
class ServiceStats:
    """Request counters of one service."""

    requests: int = 0
    counters: Counter[str] = field(default_factory=Counter)  # e.g. charged, over_budget, not_modified
    statuses: Counter[str] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    repos: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            **{name: self.counters[name] for name in sorted(self.counters)},
            "statuses": dict(sorted(self.statuses.items())),
            "routes": dict(sorted(self.routes.items())),
            "faults": dict(sorted(self.faults.items())),
            "repos": dict(sorted(self.repos.items())),
        }


@dataclass
class Bucket:
    """One GitHub rate-limit budget (a token's, or the anonymous one)."""

    limit: int
    remaining: int
    reset_at: float

    @property
    def used(self) -> int:
        return self.limit - self.remaining

    @property
    def reset_epoch(self) -> int:
        return math.ceil(self.reset_at)


class Budget:
    """GitHub's primary rate limit: 5,000 requests an hour per token, 60 without one."""

    WINDOW_S = 3600.0
    AUTHENTICATED = 5000
    ANONYMOUS = 60

    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._preset: tuple[int, float] | None = None  # (remaining, reset_at) imposed by set()

    def bucket(self, key: str, *, authenticated: bool) -> Bucket:
        """The bucket of ``key`` (a token, or "anonymous"), refilled if its window has passed."""
        now = time.time()
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self.AUTHENTICATED if authenticated else self.ANONYMOUS
            bucket = Bucket(limit, limit, now + self.WINDOW_S)
            if self._preset is not None and self._preset[1] > now:
                bucket.remaining, bucket.reset_at = min(self._preset[0], limit), self._preset[1]
            self._buckets[key] = bucket
        elif now >= bucket.reset_at:
            bucket.remaining, bucket.reset_at = bucket.limit, now + self.WINDOW_S
        return bucket

    def set(self, remaining: int, reset_in_s: float) -> None:
        """Set every bucket, and those created before the reset, to ``remaining`` until ``reset_in_s`` from now."""
        reset_at = time.time() + reset_in_s
        self._preset = (remaining, reset_at)
        for bucket in self._buckets.values():
            bucket.remaining, bucket.reset_at = min(remaining, bucket.limit), reset_at

    def as_dict(self) -> dict[str, Any]:
        return {
            key: {"limit": b.limit, "remaining": b.remaining, "used": b.used, "reset": b.reset_epoch}
            for key, b in sorted(self._buckets.items())
        }


class Control:
    """Faults, counters and the GitHub budget of one sandbox; reached by every app through ``world.control``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.faults = {service: Faults() for service in SERVICES}
        self.stats = {service: ServiceStats() for service in SERVICES}
        self.budget = Budget()

    def set_faults(self, service: str, *, clear: bool = False, **changes: Any) -> dict[str, Any]:
        """Update the faults of ``service`` ("all" for every one), after clearing them when ``clear``.

        Raises ``ValueError`` for an unknown service or fault name.
        """
        targets = SERVICES if service == "all" else (service,)
        if any(t not in SERVICES for t in targets):
            raise ValueError(f"unknown service {service!r}: expected one of {(*SERVICES, 'all')}")
        known = {f.name for f in dataclasses.fields(Faults)}
        if unknown := sorted(set(changes) - known):
            raise ValueError(f"unknown faults {unknown}: expected some of {sorted(known)}")
        if "error_statuses" in changes:
            changes["error_statuses"] = tuple(int(s) for s in changes["error_statuses"])
        for target in targets:
            base = Faults() if clear else self.faults[target]
            self.faults[target] = dataclasses.replace(base, **changes)
        return {t: dataclasses.asdict(self.faults[t]) for t in targets}

    def reset_stats(self) -> None:
        """Zero every counter (the budget is left as it is)."""
        self.stats = {service: ServiceStats() for service in SERVICES}

    def stats_dict(self) -> dict[str, Any]:
        return {
            **{service: stats.as_dict() for service, stats in self.stats.items()},
            "budget": self.budget.as_dict(),
        }


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def control_routes(world: World) -> Mount:
    """The ``/_sandbox/`` API of ``world``, mounted in every app."""

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(world.control.stats_dict())

    async def reset_stats(request: Request) -> JSONResponse:
        world.control.reset_stats()
        return JSONResponse({"ok": True})

    async def publish(request: Request) -> JSONResponse:
        try:
            body = await _json_body(request)
            return JSONResponse(world.publish(body.get("registry"), body.get("package")))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def faults(request: Request) -> JSONResponse:
        try:
            body = await _json_body(request)
            service = body.pop("service", "all")
            return JSONResponse(world.control.set_faults(service, **body))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def budget(request: Request) -> JSONResponse:
        try:
            body = await _json_body(request)
            world.control.budget.set(int(body["remaining"]), float(body.get("reset_in_s", 3600)))
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"expected {{remaining, reset_in_s}}: {exc}"}, status_code=400)
        return JSONResponse(world.control.budget.as_dict())

    async def summary(request: Request) -> JSONResponse:
        return JSONResponse(world.summary())

    return Mount(
        "/_sandbox",
        routes=[
            Route("/stats", stats, methods=["GET"]),
            Route("/reset-stats", reset_stats, methods=["POST"]),
            Route("/publish", publish, methods=["POST"]),
            Route("/faults", faults, methods=["POST"]),
            Route("/budget", budget, methods=["POST"]),
            Route("/world", summary, methods=["GET"]),
        ],
    )
