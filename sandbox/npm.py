"""A fake of npm: the replication feed (``replicate.npmjs.com``) and the registry (``registry.npmjs.org``).

The feed answers ``GET /registry/_changes?since=&limit=`` with integer ``seq``s and no documents (the 2025 API),
and ``GET /registry/`` with the database info. The registry serves packuments (``/{name}``) and version manifests
(``/{name}/latest``, ``/{name}/{version}``; scoped names as ``/@scope%2Fname``) whose ``repository`` field takes
every form found in the wild.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox._dice import Dice
from sandbox._http import Edge, conditional, dump, json_error

if TYPE_CHECKING:
    from sandbox.world import Package, World

from sandbox.control import control_routes

HUGE_README_BYTES = 4 * 1024 * 1024


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def repository(package: Package) -> Any:
    """The ``repository`` field of ``package``'s manifests, in the form its author wrote it (absent: None)."""
    full = package.repo
    if full is None:
        foreign = package.foreign_url
        if package.no_repo_reason in {"gitlab", "bitbucket", "codeberg"} and foreign:
            return {"type": "git", "url": f"git+{foreign}.git"}
        if package.no_repo_reason == "gist" and foreign:
            return {"type": "git", "url": f"git+{foreign}.git"}
        return None
    owner, name = full.split("/")
    return {
        "object-git+https": {"type": "git", "url": f"git+https://github.com/{full}.git"},
        "object-git": {"type": "git", "url": f"git://github.com/{full}.git"},
        "object-https": {"type": "git", "url": f"https://github.com/{full}"},
        "object-ssh": {"type": "git", "url": f"git+ssh://git@github.com/{full}.git"},
        "shorthand": full,
        "github-prefix": f"github:{full}",
        "string-https": f"https://github.com/{full}",
        "string-git+https": f"git+https://github.com/{full}.git",
        "scp": f"git@github.com:{full}.git",
        "array": [{"type": "git", "url": f"https://github.com/{full}.git"}],
        "www-case": {"type": "git", "url": f"https://www.github.com/{owner.capitalize()}/{name.capitalize()}.git"},
        "object-directory": {
            "type": "git",
            "url": f"git+https://github.com/{full}.git",
            "directory": package.directory,
        },
        "tree-url": f"https://github.com/{full}/tree/main/{package.directory}",
    }[package.link]


def _homepage(package: Package) -> str | None:
    if package.repo is not None:
        return f"https://github.com/{package.repo}#readme"
    return package.foreign_url


def _huge_readme(package: Package) -> str:
    line = f"{package.name}: {package.description}. Lots of generated API documentation follows.\n"
    return f"# {package.name}\n\n" + line * (HUGE_README_BYTES // len(line))


def manifest(package: Package, version: str) -> dict[str, Any]:
    """The document of one version (what ``/{name}/{version}`` returns)."""
    digest = hashlib.sha1(f"{package.name}@{version}".encode(), usedforsecurity=False).hexdigest()
    integrity = hashlib.sha512(digest.encode()).digest().hex()[:86]
    short = package.name.split("/")[-1]
    data: dict[str, Any] = {
        "name": package.name,
        "version": version,
        "description": package.description,
        "main": "dist/index.js",
        "scripts": {"build": "tsc", "test": "vitest run"},
        "author": {"name": package.author},
        "license": package.license,
    }
    repo = repository(package)
    if repo is not None:
        data["repository"] = repo
    if (homepage := _homepage(package)) is not None:
        data["homepage"] = homepage
    if package.repo is not None:
        data["bugs"] = {"url": f"https://github.com/{package.repo}/issues"}
    data.update(
        {
            "gitHead": digest,
            "_id": f"{package.name}@{version}",
            "_nodeVersion": "22.11.0",
            "_npmVersion": "10.9.0",
            "dist": {
                "integrity": f"sha512-{integrity}==",
                "shasum": digest,
                "tarball": f"https://registry.npmjs.org/{package.name}/-/{short}-{version}.tgz",
                "fileCount": 12,
                "unpackedSize": 20_000 + int(digest[:4], 16),
            },
            "_npmUser": {"name": package.author, "email": f"{package.author}@example.com"},
            "directories": {},
            "maintainers": [{"name": package.author, "email": f"{package.author}@example.com"}],
        }
    )
    if package.huge and version == package.latest:
        data["readme"] = _huge_readme(package)
    return data


def packument(package: Package) -> dict[str, Any]:
    """The whole document of ``package`` (what ``/{name}`` returns)."""
    dice = Dice(package.name, len(package.versions))
    data: dict[str, Any] = {
        "_id": package.name,
        "_rev": f"{len(package.versions)}-{dice.hex(32)}",
        "name": package.name,
        "description": package.description,
        "dist-tags": {"latest": package.latest},
        "versions": {v: manifest(package, v) for v in package.versions},
        "time": {
            "modified": _iso(package.times[-1]),
            "created": _iso(package.times[0]),
            **{v: _iso(at) for v, at in zip(package.versions, package.times, strict=True)},
        },
        "maintainers": [{"name": package.author, "email": f"{package.author}@example.com"}],
        "author": {"name": package.author},
        "license": package.license,
        "readme": _huge_readme(package) if package.huge else f"# {package.name}\n\n{package.description}.\n",
        "readmeFilename": "README.md",
    }
    repo = repository(package)
    if repo is not None:
        data["repository"] = repo
    if (homepage := _homepage(package)) is not None:
        data["homepage"] = homepage
    return data


def create_replicate_app(world: World) -> Starlette:
    """npm's replication feed of ``world``: ``/registry/_changes`` and ``/registry/``."""

    async def changes(request: Request) -> Response:
        params = request.query_params
        try:
            since_text = params.get("since", "0")
            since = world.npm_update_seq() if since_text == "now" else int(since_text)
            limit = int(params["limit"]) if "limit" in params else None
            if limit is not None and limit < 1:
                raise ValueError(limit)
        except ValueError:
            return json_error(400, {"error": "bad_request", "reason": "Invalid since or limit parameter"})
        rows = world.npm_changes(since, limit)
        results = []
        for row in rows:
            item: dict[str, Any] = {"seq": row.seq, "id": row.id, "changes": [{"rev": row.rev}]}
            if row.deleted:
                item["deleted"] = True
            results.append(item)
        last_seq = rows[-1].seq if rows else min(since, world.npm_update_seq())
        return Response(dump({"results": results, "last_seq": last_seq}), media_type="application/json")

    async def info(request: Request) -> Response:
        data = {
            "db_name": "registry",
            "engine": "couch_bt_engine",
            "doc_count": len(world.packages_of("npm")),
            "doc_del_count": world.npm_prefilled() // 50,
            "update_seq": world.npm_update_seq(),
            "purge_seq": 0,
            "compact_running": False,
            "instance_start_time": "0",
            "disk_format_version": 8,
        }
        return Response(dump(data), media_type="application/json")

    return Starlette(
        routes=[
            control_routes(world),
            Route("/registry/_changes", changes, methods=["GET"]),
            Route("/_changes", changes, methods=["GET"]),
            Route("/registry/", info, methods=["GET"]),
            Route("/registry", info, methods=["GET"]),
            Route("/", info, methods=["GET"]),
        ],
        middleware=[Middleware(Edge, service="npm", control=world.control)],
    )


def create_registry_app(world: World) -> Starlette:
    """npm's registry of ``world``: packuments and version manifests."""

    async def document(request: Request) -> Response:
        # The path arrives decoded: "/@scope%2Fname/latest" is "/@scope/name/latest" here.
        parts = request.path_params["path"].split("/")
        split = 2 if parts[0].startswith("@") else 1
        name, rest = "/".join(parts[:split]), parts[split:]
        package = world.find_package("npm", name)
        if package is None or not package.versions or len(rest) > 1:
            request.scope["sandbox.route"] = "packument" if not rest else "manifest"
            return json_error(404, {"error": "Not found"})
        headers = {
            "Cache-Control": "public, max-age=300",
            "Last-Modified": dt.datetime.fromtimestamp(package.times[-1], dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        if not rest:
            request.scope["sandbox.route"] = "packument"
            return conditional(request, dump(packument(package)), media_type="application/json", headers=headers)
        request.scope["sandbox.route"] = "manifest"
        version = package.latest if rest[0] == "latest" else rest[0]
        if version not in package.versions:
            return json_error(404, f"version not found: {rest[0]}")
        return conditional(request, dump(manifest(package, version)), media_type="application/json", headers=headers)

    return Starlette(
        routes=[control_routes(world), Route("/{path:path}", document, methods=["GET"])],
        middleware=[Middleware(Edge, service="npm", control=world.control)],
    )
