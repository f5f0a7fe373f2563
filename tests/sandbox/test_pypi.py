"""The PyPI fake against the recorded responses and warehouse's behaviour (docs/API-NOTES.md §2)."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import httpx
import pytest

from sandbox import World, pypi
from sandbox.world import PYPI_SERIAL_BASE
from tests.sandbox.conftest import NOW, recorded

XML = {"Content-Type": "text/xml"}
# Action strings warehouse writes to its journal (git grep over warehouse/), as patterns.
ACTIONS = ("create", "new release", "add source file ", "add py3 file ", "remove release", "remove project",
           "remove file ", "yank release", "add Owner ", "add Maintainer ")  # fmt: skip


async def _call(client: httpx.AsyncClient, method: str, *params: Any) -> Any:
    response = await client.post("/pypi", content=xmlrpc.client.dumps(params, method), headers=XML)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    return xmlrpc.client.loads(response.text, use_builtin_types=True)[0][0]


def _pypi(world: World, index: int = 0) -> Any:
    return world.package(world.packages_of("pypi")[index])


async def test_project_json_has_the_recorded_shape(world: World, pypi_client: httpx.AsyncClient) -> None:
    package = _pypi(world)
    data = (await pypi_client.get(f"/pypi/{package.name}/json")).json()
    theirs = recorded("pypi/json-api_hippounit.json")
    assert set(theirs) <= set(data)
    assert set(theirs["info"]) <= set(data["info"])
    assert set(theirs["urls"][0]) <= set(data["urls"][0])
    assert data["info"]["name"] == package.name and data["info"]["version"] == package.latest
    assert list(data["releases"]) == list(package.versions)
    assert {f["packagetype"] for f in data["urls"]} == {"sdist", "bdist_wheel"}


async def test_version_route_has_no_releases(world: World, pypi_client: httpx.AsyncClient) -> None:
    package = _pypi(world)
    data = (await pypi_client.get(f"/pypi/{package.name}/{package.versions[0]}/json")).json()
    assert "releases" not in data and data["info"]["version"] == package.versions[0]
    assert (await pypi_client.get(f"/pypi/{package.name}/999.0.0/json")).status_code == 404


async def test_project_headers_carry_serial_cache_and_etag(world: World, pypi_client: httpx.AsyncClient) -> None:
    package = _pypi(world, 3)
    response = await pypi_client.get(f"/pypi/{package.name}/json")
    assert response.headers["x-pypi-last-serial"] == str(response.json()["last_serial"])
    assert response.headers["cache-control"] == "max-age=900, public"
    assert response.headers["access-control-expose-headers"] == "X-PyPI-Last-Serial"
    again = await pypi_client.get(f"/pypi/{package.name}/json", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_project_serial_is_never_below_its_journal_rows(world: World, pypi_client: httpx.AsyncClient) -> None:
    rows = await _call(pypi_client, "changelog_since_serial", PYPI_SERIAL_BASE)
    newest: dict[str, int] = {}
    for name, _, _, _, serial in rows:
        newest[name] = serial
    for name, serial in list(newest.items())[:40]:
        response = await pypi_client.get(f"/pypi/{name}/json")
        if response.status_code == 200:
            assert int(response.headers["x-pypi-last-serial"]) >= serial


@pytest.mark.parametrize(
    "spelling", [pytest.param(str.upper, id="upper"), pytest.param(lambda n: n.replace("-", "_"), id="underscore")]
)
async def test_non_canonical_name_redirects_to_the_project_name(
    world: World, pypi_client: httpx.AsyncClient, spelling: Any
) -> None:
    package = next(p for p in map(world.package, world.packages_of("pypi")) if "-" in p.name and p.versions)
    response = await pypi_client.get(f"/pypi/{spelling(package.name)}/json")
    assert response.status_code == 301 and response.headers["location"] == f"/pypi/{package.name}/json"


async def test_unknown_project_is_a_json_404(pypi_client: httpx.AsyncClient) -> None:
    response = await pypi_client.get("/pypi/no-such-project-anywhere/json")
    assert response.status_code == 404 and response.json() == {"message": "Not Found"}


async def test_project_urls_use_varied_real_labels_and_are_sometimes_null(
    world: World, pypi_client: httpx.AsyncClient
) -> None:
    labels: set[str] = set()
    nulls = 0
    for index in world.packages_of("pypi"):
        info = (await pypi_client.get(f"/pypi/{world.package(index).name}/json")).json()["info"]
        labels.update(info["project_urls"] or ())
        nulls += info["project_urls"] is None
    assert {"Source", "Source Code", "Repository", "Homepage", "Bug Tracker"} <= labels
    assert labels & {"Changelog", "Release notes", "Changes", "History"}
    assert nulls > 0


async def test_changelog_last_serial_is_the_newest_row(world: World, pypi_client: httpx.AsyncClient) -> None:
    last = await _call(pypi_client, "changelog_last_serial")
    assert last == world.pypi_last_serial()
    tail = await _call(pypi_client, "changelog_since_serial", last - 5)
    assert [row[4] for row in tail] == list(range(last - 4, last + 1))


async def test_changelog_since_serial_rows_are_ascending_with_real_actions(pypi_client: httpx.AsyncClient) -> None:
    rows = await _call(pypi_client, "changelog_since_serial", PYPI_SERIAL_BASE)
    assert len(rows) > 100
    serials = [row[4] for row in rows]
    assert serials == sorted(serials) and serials[0] == PYPI_SERIAL_BASE + 1
    for name, version, timestamp, action, _ in rows:
        assert isinstance(name, str) and isinstance(timestamp, int) and timestamp <= NOW
        assert action.startswith(ACTIONS), action
        no_version = action in {"create", "remove project"} or action.startswith(("add Owner ", "add Maintainer "))
        assert (version is None) == no_version, action
    assert {None} < {row[1] for row in rows}


async def test_changelog_since_serial_returns_at_most_50000_rows() -> None:
    world = World(seed=7, packages=60, pypi_events=50_010, now=NOW)
    transport = httpx.ASGITransport(app=pypi.create_app(world))
    async with httpx.AsyncClient(transport=transport, base_url="http://pypi.test") as client:
        first = await _call(client, "changelog_since_serial", PYPI_SERIAL_BASE)
        rest = await _call(client, "changelog_since_serial", first[-1][4])
    assert len(first) == 50_000 and len(rest) == 10


async def test_changelog_since_serial_rejects_a_non_integer(pypi_client: httpx.AsyncClient) -> None:
    response = await pypi_client.post(
        "/pypi", content=xmlrpc.client.dumps(("12",), "changelog_since_serial"), headers=XML
    )
    with pytest.raises(xmlrpc.client.Fault, match="valid integer"):
        xmlrpc.client.loads(response.text)


async def test_removed_xmlrpc_method_is_a_fault(pypi_client: httpx.AsyncClient) -> None:
    response = await pypi_client.post("/pypi", content=xmlrpc.client.dumps(("x",), "package_releases"), headers=XML)
    with pytest.raises(xmlrpc.client.Fault, match="RuntimeError"):
        xmlrpc.client.loads(response.text)


async def test_xmlrpc_needs_text_xml(pypi_client: httpx.AsyncClient) -> None:
    body = xmlrpc.client.dumps((), "changelog_last_serial")
    response = await pypi_client.post("/pypi", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 404


async def test_rate_limited_xmlrpc_is_the_documented_fault(world: World, pypi_client: httpx.AsyncClient) -> None:
    world.control.set_faults("pypi", rate_limit_rate=1.0, retry_after_s=3)
    response = await pypi_client.post("/pypi", content=xmlrpc.client.dumps((), "changelog_last_serial"), headers=XML)
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(response.text)
    assert fault.value.faultCode == -32500
    assert fault.value.faultString.startswith("HTTPTooManyRequests") and "reset in 3 seconds" in fault.value.faultString


async def test_published_release_enters_the_journal_and_the_project(
    world: World, pypi_client: httpx.AsyncClient
) -> None:
    package = _pypi(world, 4)
    before = await _call(pypi_client, "changelog_last_serial")
    release = world.publish("pypi", package.name)
    rows = await _call(pypi_client, "changelog_since_serial", before)
    assert [row[3].split(" ")[0] for row in rows] == ["new", "add", "add"]
    assert all(row[0] == package.name and row[1] == release["version"] for row in rows)
    response = await pypi_client.get(f"/pypi/{package.name}/json")
    assert response.json()["info"]["version"] == release["version"]
    assert response.headers["x-pypi-last-serial"] == str(rows[-1][4])
