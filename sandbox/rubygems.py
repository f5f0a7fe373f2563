"""A fake of RubyGems.org's API: gems, versions, and the two activity feeds.

Payloads follow ``corpus/registries/rubygems/`` (the ``*_uri`` fields mirror ``metadata`` where the gemspec sets
them). An unknown gem is a text/plain 404 "This rubygem could not be found."; a client sending more than
``world.rubygems_rps`` requests in one second gets 429 with ``Retry-After``, as the load balancer does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox._dice import Dice
from sandbox._http import Edge, conditional, dump
from sandbox.control import Control, control_routes

if TYPE_CHECKING:
    from sandbox.world import Package, World

NOT_FOUND = "This rubygem could not be found."
_CACHE = {
    "Cache-Control": "public, max-age=60",
    "Surrogate-Control": "max-age=3600, stale-while-revalidate=1800, stale-if-error=1800",
}


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def links(world: World, package: Package) -> dict[str, str | None]:
    """The ``*_uri`` links of ``package`` (the gemspec's metadata, else its homepage)."""
    dice = Dice(world.seed, "gem-links", package.index)
    site = f"https://{package.name.replace('_', '-')}.dev"
    found: dict[str, str | None] = dict.fromkeys(
        ("homepage_uri", "source_code_uri", "bug_tracker_uri", "changelog_uri", "documentation_uri"), None
    )
    found["documentation_uri"] = f"https://www.rubydoc.info/gems/{package.name}/{package.latest}"
    if package.repo is None:
        if package.no_repo_reason in {"gitlab", "bitbucket", "codeberg"}:
            found["source_code_uri"] = package.foreign_url
            found["homepage_uri"] = package.foreign_url
        elif package.no_repo_reason != "no-repository":
            found["homepage_uri"] = package.foreign_url or site
        return found
    github = f"https://github.com/{package.repo}"
    if package.link == "source_code_uri":
        found["source_code_uri"] = f"{github}/tree/v{package.latest}" if dice.chance(0.4) else github
        found["homepage_uri"] = github if dice.chance(0.5) else site
    elif package.link == "homepage_uri":
        found["homepage_uri"] = github
    else:
        found["homepage_uri"] = site
        found["bug_tracker_uri"] = f"{github}/issues"
    repo = world.repo(package.repo_key) if package.repo_key is not None else None
    roll = dice.random()
    if repo is not None and repo.changelogs and roll < 0.5:
        found["changelog_uri"] = f"{github}/blob/{repo.default_branch}/{repo.changelogs[0].path}"
    elif roll < 0.7:
        found["changelog_uri"] = f"{github}/releases/tag/v{package.latest}"
    elif roll < 0.8:
        found["changelog_uri"] = f"{site}/changelog"
    return found


def gem_json(world: World, package: Package, version: str, base: str) -> dict[str, Any]:
    """The payload of ``/api/v1/gems/{name}.json`` for ``package`` at ``version``."""
    at = dict(zip(package.versions, package.times, strict=True))[version]
    uris = links(world, package)
    metadata = {k: v for k, v in uris.items() if v is not None and k != "homepage_uri"}
    metadata["rubygems_mfa_required"] = "true"
    sha = hashlib.sha256(f"{package.name}-{version}".encode()).hexdigest()
    return {
        "name": package.name,
        "downloads": 1_000 + int(sha[:6], 16),
        "version": version,
        "version_created_at": _iso(at),
        "version_downloads": 100 + int(sha[6:10], 16),
        "platform": "ruby",
        "authors": package.author,
        "info": package.description,
        "licenses": [package.license],
        "metadata": metadata,
        "yanked": False,
        "sha": sha,
        "spec_sha": hashlib.sha256(sha.encode()).hexdigest(),
        "project_uri": f"{base}/gems/{package.name}",
        "gem_uri": f"{base}/gems/{package.name}-{version}.gem",
        "homepage_uri": uris["homepage_uri"],
        "wiki_uri": None,
        "documentation_uri": uris["documentation_uri"],
        "mailing_list_uri": None,
        "source_code_uri": uris["source_code_uri"],
        "bug_tracker_uri": uris["bug_tracker_uri"],
        "changelog_uri": uris["changelog_uri"],
        "funding_uri": None,
        "dependencies": {"development": [], "runtime": [{"name": "rake", "requirements": ">= 12.0"}]},
    }


def versions_json(package: Package) -> list[dict[str, Any]]:
    """The payload of ``/api/v1/versions/{name}.json``: every version, newest first."""
    rows = []
    for version, at in reversed(list(zip(package.versions, package.times, strict=True))):
        sha = hashlib.sha256(f"{package.name}-{version}".encode()).hexdigest()
        rows.append(
            {
                "authors": package.author,
                "built_at": _iso(at - at % 86_400),
                "created_at": _iso(at),
                "description": package.description,
                "downloads_count": 100 + int(sha[6:10], 16),
                "metadata": {"rubygems_mfa_required": "true"},
                "number": version,
                "summary": package.description,
                "platform": "ruby",
                "rubygems_version": ">= 0",
                "ruby_version": ">= 3.0",
                "prerelease": any(c.isalpha() for c in version),
                "licenses": [package.license],
                "requirements": [],
                "sha": sha,
                "spec_sha": hashlib.sha256(sha.encode()).hexdigest(),
            }
        )
    return rows


class _Throttle:
    """The load balancer's limit: more than ``rps`` requests from one client within a second get 429."""

    def __init__(self, app: ASGIApp, control: Control, rps: float) -> None:
        self.app = app
        self.control = control
        self.rps = rps
        self._windows: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("local", 0))[0]
        second = math.floor(time.time())
        window, count = self._windows[client]
        count = count + 1 if window == second else 1
        self._windows[client] = (second, count)
        if count > self.rps:
            self.control.stats["rubygems"].counters["throttled"] += 1
            refusal = PlainTextResponse(
                "Rate limit exceeded. Retry later.", status_code=429, headers={"Retry-After": "1"}
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(world: World) -> Starlette:
    """RubyGems.org's API for ``world``."""

    def _base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def _gem(name: str) -> Package | None:
        package = world.find_package("rubygems", name)
        return package if package is not None and package.versions else None

    async def gem(request: Request) -> Response:
        package = _gem(request.path_params["name"])
        if package is None:
            return PlainTextResponse(NOT_FOUND, status_code=404)
        body = dump(gem_json(world, package, package.latest, _base(request)))
        return conditional(request, body, headers=_CACHE)

    async def versions(request: Request) -> Response:
        package = _gem(request.path_params["name"])
        if package is None:
            return PlainTextResponse(NOT_FOUND, status_code=404)
        return conditional(request, dump(versions_json(package)), headers=_CACHE)

    async def latest(request: Request) -> Response:
        rows = [gem_json(world, world.package(i), v, _base(request)) for i, v in world.rubygems_latest()]
        return conditional(request, dump(rows), headers=_CACHE)

    async def just_updated(request: Request) -> Response:
        rows = [gem_json(world, world.package(i), v, _base(request)) for i, v in world.rubygems_just_updated()]
        return conditional(request, dump(rows), headers=_CACHE)

    return Starlette(
        routes=[
            control_routes(world),
            Route("/api/v1/gems/{name}.json", gem, methods=["GET"]),
            Route("/api/v1/versions/{name}.json", versions, methods=["GET"]),
            Route("/api/v1/activity/latest.json", latest, methods=["GET"]),
            Route("/api/v1/activity/just_updated.json", just_updated, methods=["GET"]),
        ],
        middleware=[
            Middleware(Edge, service="rubygems", control=world.control),
            Middleware(_Throttle, control=world.control, rps=world.rubygems_rps),
        ],
    )
