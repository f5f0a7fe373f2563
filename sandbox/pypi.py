"""A fake of PyPI: the JSON API (``/pypi/{name}/json``) and the XML-RPC mirroring methods on ``POST /pypi``.

Shapes follow ``corpus/registries/pypi/`` and warehouse's ``legacy/api/json.py``: ``project_urls`` merges
``home_page`` as "Homepage" and ``download_url`` as "Download" and is null when empty; a non-canonical name gets a
301 to the project's own name; an unknown project a JSON 404. XML-RPC offers ``changelog_last_serial``,
``changelog_since_serial`` (ascending, at most 50,000 rows) and ``list_packages_with_serial``; its rate limit is
a fault with code -32500.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import xmlrpc.client
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from sandbox._dice import Dice
from sandbox._http import Edge, conditional, dump, json_error
from sandbox.control import control_routes

if TYPE_CHECKING:
    from sandbox.world import Package, World

LIMIT = 50_000
_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "X-PyPI-Last-Serial"}
_REMOVED = {"changelog", "list_packages", "package_releases", "release_data", "release_urls", "search", "top_packages"}
_THROTTLED = (
    "HTTPTooManyRequests: The action could not be performed because there were too many requests by the client. "
    "Limit may reset in {seconds} seconds."
)


def _stamp(at: float) -> tuple[str, str]:
    moment = dt.datetime.fromtimestamp(at, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _is_prerelease(version: str) -> bool:
    return bool(re.search(r"(a|b|rc|dev)\d*$", version))


def _github_url(dice: Dice, full_name: str) -> str:
    name = full_name.lower() if dice.chance(0.1) else full_name
    return dice.choice(
        (
            f"https://github.com/{name}",
            f"https://github.com/{name}",
            f"http://github.com/{name}",
            f"https://github.com/{name}/",
            f"https://github.com/{name}.git",
            f"https://www.github.com/{name}#readme",
        )
    )


def urls(world: World, package: Package) -> tuple[str, str, dict[str, str]]:
    """``home_page``, ``download_url`` and the declared ``project_urls`` of ``package``."""
    dice = Dice(world.seed, "pypi-urls", package.index)
    slug = package.name.lower().replace("_", "-").replace(".", "-")
    docs = f"https://{slug}.readthedocs.io/"
    home, download, declared = "", "", {}
    if package.repo is None:
        if package.no_repo_reason == "no-repository":
            home = dice.choice(("", "", "UNKNOWN"))
        elif package.no_repo_reason == "website":
            home = package.foreign_url or docs
        elif package.no_repo_reason in {"github-pages", "gist"}:
            declared["Homepage"] = package.foreign_url or docs
        else:
            declared[dice.choice(("Source", "Repository", "Homepage"))] = package.foreign_url or docs
        return home, download, declared
    url = _github_url(dice, package.repo)
    style = package.link
    if style == "home_page":
        home = url
    elif style == "download_url":
        home = docs
        download = f"https://github.com/{package.repo}/archive/refs/tags/v{package.latest}.tar.gz"
    else:
        if style != "Homepage" and dice.chance(0.6):
            declared["Homepage"] = docs if dice.chance(0.5) else url
        if dice.chance(0.4):
            declared["Documentation"] = docs
        declared[style] = url
    if dice.chance(0.4):
        declared[dice.choice(("Bug Tracker", "Issues", "Tracker"))] = f"https://github.com/{package.repo}/issues"
    if dice.chance(0.35):
        label = dice.choice(("Changelog", "Release notes", "Changes", "History"))
        repo = world.repo(package.repo_key) if package.repo_key is not None else None
        changelog = repo.changelogs[0].path if repo is not None and repo.changelogs else None
        if changelog and dice.chance(0.7):
            declared[label] = f"https://github.com/{package.repo}/blob/{repo.default_branch}/{changelog}"  # type: ignore[union-attr]
        else:
            declared[label] = f"https://github.com/{package.repo}/releases" if dice.chance(0.5) else f"{docs}changes"
    return home, download, declared


def _files(package: Package, version: str, at: float) -> list[dict[str, Any]]:
    stem = f"{re.sub(r'[-_.]+', '_', package.name).lower()}-{version}"
    upload, upload_iso = _stamp(at)
    files = []
    for filename, kind, python in (
        (f"{stem}-py3-none-any.whl", "bdist_wheel", "py3"),
        (f"{stem}.tar.gz", "sdist", "source"),
    ):
        sha = hashlib.sha256(filename.encode()).hexdigest()
        blake = hashlib.blake2b(filename.encode(), digest_size=32).hexdigest()
        md5 = hashlib.md5(filename.encode(), usedforsecurity=False).hexdigest()
        files.append(
            {
                "comment_text": "",
                "digests": {"blake2b_256": blake, "md5": md5, "sha256": sha},
                "downloads": -1,
                "filename": filename,
                "has_sig": False,
                "md5_digest": md5,
                "packagetype": kind,
                "python_version": python,
                "requires_python": ">=3.9",
                "size": 10_000 + int(sha[:4], 16),
                "upload_time": upload,
                "upload_time_iso_8601": upload_iso,
                "url": f"https://files.pythonhosted.org/packages/{blake[:2]}/{blake[2:4]}/{blake[4:]}/{filename}",
                "yanked": False,
                "yanked_reason": None,
            }
        )
    return files


def project_json(world: World, package: Package, base: str, version: str | None) -> dict[str, Any]:
    """The JSON API document of ``package`` (at ``version``, or at its latest release with ``releases``)."""
    times = dict(zip(package.versions, package.times, strict=True))
    stable = [v for v in package.versions if not _is_prerelease(v)]
    shown = version or (stable or list(package.versions))[-1]
    home, download, declared = urls(world, package)
    project_urls = {**({"Homepage": home} if home else {}), **({"Download": download} if download else {}), **declared}
    info = {
        "author": package.author,
        "author_email": f"{package.author}@users.noreply.github.com",
        "bugtrack_url": None,
        "classifiers": ["Programming Language :: Python :: 3", f"License :: OSI Approved :: {package.license} License"],
        "description": f"# {package.name}\n\n{package.description}.\n",
        "description_content_type": "text/markdown",
        "docs_url": None,
        "download_url": download,
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "dynamic": None,
        "home_page": home,
        "keywords": "",
        "license": None,
        "license_expression": package.license,
        "license_files": ["LICENSE"],
        "maintainer": None,
        "maintainer_email": None,
        "name": package.name,
        "package_url": f"{base}/project/{package.name}/",
        "platform": None,
        "project_url": f"{base}/project/{package.name}/",
        "project_urls": project_urls or None,
        "provides_extra": None,
        "release_url": f"{base}/project/{package.name}/{shown}/",
        "requires_dist": None,
        "requires_python": ">=3.9",
        "summary": package.description,
        "version": shown,
        "yanked": False,
        "yanked_reason": None,
    }
    data: dict[str, Any] = {"info": info, "last_serial": world.pypi_project_serial(package.index)}
    if version is None:
        data["releases"] = {v: _files(package, v, times[v]) for v in package.versions}
    data["urls"] = _files(package, shown, times[shown])
    data["ownership"] = {"organization": None, "roles": [{"role": "Owner", "user": package.author}]}
    data["vulnerabilities"] = []
    return data


def _rate_limited(scope: Scope, retry_after: int) -> Response:
    if scope["method"] == "POST":
        fault = xmlrpc.client.Fault(-32500, _THROTTLED.format(seconds=retry_after))
        return Response(xmlrpc.client.dumps(fault, methodresponse=True), media_type="text/xml")
    return json_error(429, {"message": "Too Many Requests"}, headers={"Retry-After": str(retry_after)})


def create_app(world: World) -> Starlette:
    """PyPI's JSON API and XML-RPC for ``world``."""

    async def project(request: Request) -> Response:
        return _serve(request, request.path_params["name"], None)

    async def release(request: Request) -> Response:
        return _serve(request, request.path_params["name"], request.path_params["version"])

    def _serve(request: Request, name: str, version: str | None) -> Response:
        package = world.find_package("pypi", name)
        if package is None or not package.versions or (version is not None and version not in package.versions):
            return json_error(404, {"message": "Not Found"}, headers=_CORS)
        if package.name != name:
            target = f"/pypi/{package.name}/{version}/json" if version else f"/pypi/{package.name}/json"
            return Response(status_code=301, headers={**_CORS, "Location": target})
        base = str(request.base_url).rstrip("/")
        serial = world.pypi_project_serial(package.index)
        headers = {
            **_CORS,
            "X-PyPI-Last-Serial": str(serial),
            "Cache-Control": "max-age=900, public",
            "X-Cache": "MISS",
            "X-Cache-Hits": "0",
        }
        return conditional(request, dump(project_json(world, package, base, version)), headers=headers)

    async def xmlrpc_call(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "text/xml":
            return json_error(404, {"message": "Not Found"})
        try:
            params, method = xmlrpc.client.loads(await request.body())
        except Exception as exc:  # any parse failure is the client's error, as warehouse reports it
            fault = xmlrpc.client.Fault(-32700, f"parse error; {exc}")
            return Response(xmlrpc.client.dumps(fault, methodresponse=True), media_type="text/xml")
        request.scope["sandbox.route"] = f"xmlrpc.{method}"
        result = _call(method or "", params)
        payload = result if isinstance(result, xmlrpc.client.Fault) else (result,)
        body = xmlrpc.client.dumps(payload, methodresponse=True, allow_none=True)
        return Response(body, media_type="text/xml")

    def _call(method: str, params: tuple[Any, ...]) -> Any:
        if method == "changelog_last_serial":
            return world.pypi_last_serial()
        if method == "changelog_since_serial":
            if len(params) != 1 or isinstance(params[0], bool) or not isinstance(params[0], int):
                return xmlrpc.client.Fault(-32500, "client error; serial: Input should be a valid integer")
            return [list(row) for row in world.pypi_log(params[0], LIMIT)]
        if method == "list_packages_with_serial":
            return {world.package(i).name: world.pypi_project_serial(i) for i in world.packages_of("pypi")}
        if method in _REMOVED:
            return xmlrpc.client.Fault(-32500, f"RuntimeError: The {method} method has been removed.")
        return xmlrpc.client.Fault(-32601, f"server error; requested method not found: {method}")

    return Starlette(
        routes=[
            control_routes(world),
            Route("/pypi/{name}/json", project, methods=["GET"]),
            Route("/pypi/{name}/{version}/json", release, methods=["GET"]),
            Route("/pypi", xmlrpc_call, methods=["POST"]),
            Route("/pypi/", xmlrpc_call, methods=["POST"]),
            Route("/RPC2", xmlrpc_call, methods=["POST"]),
        ],
        middleware=[Middleware(Edge, service="pypi", control=world.control, rate_limited=_rate_limited)],
    )
