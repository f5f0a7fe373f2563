"""PyPIClient against recorded PyPI answers: XML-RPC change log, JSON API, status mapping, faults, retries."""

from __future__ import annotations

import datetime as dt
import json
import xmlrpc.client
from typing import Any

import httpx
import pytest

from core.clients import PyPIClient, normalize_label, resolve_project
from core.errors import BadResponse, NotFound, RateLimited, Unavailable, UpstreamError
from core.models import RepoRef, utcnow
from tests.core.clients.conftest import FAST_RETRY, MakeHttp, recorded

BASE = "https://pypi.test"


def xmlrpc_answer(value: Any) -> httpx.Response:
    body = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True)
    return httpx.Response(200, content=body.encode(), headers={"Content-Type": "text/xml"})


def xmlrpc_fault(code: int, message: str) -> httpx.Response:
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True)
    return httpx.Response(200, content=body.encode(), headers={"Content-Type": "text/xml"})


def recorded_rows(name: str) -> list[list[Any]]:
    rows: list[list[Any]] = json.loads(recorded(f"pypi/{name}"))
    return rows


class TestChangeLog:
    async def test_last_serial_posts_xmlrpc_to_the_pypi_endpoint(self, make_http: MakeHttp) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return xmlrpc_answer(7198870)

        client = PyPIClient(make_http(handler), base_url=BASE)
        assert await client.last_serial() == 7198870
        (request,) = seen
        assert request.method == "POST"
        assert str(request.url) == f"{BASE}/pypi"
        assert request.headers["Content-Type"] == "text/xml"
        assert xmlrpc.client.loads(request.content) == ((), "changelog_last_serial")

    async def test_changes_since_decodes_the_recorded_batch(self, make_http: MakeHttp) -> None:
        rows = recorded_rows("xmlrpc-changelog_since_serial_1.json")
        params: list[tuple[Any, ...]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            args, method = xmlrpc.client.loads(request.content)
            assert method == "changelog_since_serial"
            params.append(args)
            return xmlrpc_answer(rows)

        changes = await PyPIClient(make_http(handler), base_url=BASE).changes_since(7198859)
        assert params == [(7198859,)]
        assert len(changes) == len(rows)
        first = changes[0]
        assert (first.name, first.version, first.action, first.serial) == ("hippounit", "1.3.4", "new release", 7198860)
        assert first.timestamp == dt.datetime(2020, 5, 8, 17, 48, 18, tzinfo=dt.UTC)
        assert first.is_new_release
        removed = next(change for change in changes if change.action == "remove project")
        assert removed.version is None
        assert not removed.is_new_release
        assert [change.serial for change in changes] == sorted(change.serial for change in changes)

    async def test_changes_since_keeps_a_very_long_project_name(self, make_http: MakeHttp) -> None:
        rows = recorded_rows("xmlrpc-changelog_with_long_project_name.json")
        changes = await PyPIClient(make_http(lambda _: xmlrpc_answer(rows)), base_url=BASE).changes_since(0)
        assert max(len(change.name) for change in changes) > 200

    async def test_rate_limit_fault_becomes_rate_limited_with_its_reset(self, make_http: MakeHttp) -> None:
        # The fault string warehouse's xmlrpc views emit when the per-IP limit is exceeded.
        message = (
            "HTTPTooManyRequests: The action could not be performed because there were too many requests by the "
            "client. Limit may reset in 42 seconds."
        )
        client = PyPIClient(make_http(lambda _: xmlrpc_fault(-32500, message)), base_url=BASE, retry=FAST_RETRY)
        before = utcnow()
        with pytest.raises(RateLimited) as caught:
            await client.changes_since(1)
        assert before + dt.timedelta(seconds=41) <= caught.value.reset_at <= utcnow() + dt.timedelta(seconds=43)

    async def test_other_fault_is_an_upstream_error_not_retried(self, make_http: MakeHttp) -> None:
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            return xmlrpc_fault(-32500, "client error; serial: Input should be a valid integer")

        client = PyPIClient(make_http(handler), base_url=BASE, retry=FAST_RETRY)
        with pytest.raises(UpstreamError) as caught:
            await client.changes_since(1)
        assert type(caught.value) is UpstreamError
        assert "valid integer" in str(caught.value)
        assert calls == 1

    async def test_http_429_on_xmlrpc_honours_retry_after(self, make_http: MakeHttp) -> None:
        client = PyPIClient(
            make_http(lambda _: httpx.Response(429, headers={"Retry-After": "120"})), base_url=BASE, retry=FAST_RETRY
        )
        with pytest.raises(RateLimited) as caught:
            await client.last_serial()
        assert caught.value.reset_at >= utcnow() + dt.timedelta(seconds=118)

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"<?xml version='1.0'?><methodResponse><params><param><value><int>1", id="cut-short"),
            pytest.param(b"<html>Service Unavailable</html>", id="html-page"),
            pytest.param(b"", id="empty"),
        ],
    )
    async def test_malformed_xmlrpc_becomes_bad_response(self, make_http: MakeHttp, body: bytes) -> None:
        client = PyPIClient(make_http(lambda _: httpx.Response(200, content=body)), base_url=BASE, retry=FAST_RETRY)
        with pytest.raises(BadResponse):
            await client.last_serial()

    async def test_rows_of_the_wrong_shape_become_bad_response(self, make_http: MakeHttp) -> None:
        client = PyPIClient(make_http(lambda _: xmlrpc_answer([["x", None]])), base_url=BASE)
        with pytest.raises(BadResponse):
            await client.changes_since(1)

    async def test_server_errors_are_retried_until_success(self, make_http: MakeHttp) -> None:
        answers = [httpx.Response(503), httpx.Response(502), xmlrpc_answer(5)]
        client = PyPIClient(make_http(lambda _: answers.pop(0)), base_url=BASE, retry=FAST_RETRY)
        assert await client.last_serial() == 5
        assert answers == []

    async def test_timeouts_are_retried_then_unavailable(self, make_http: MakeHttp) -> None:
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            raise httpx.ReadTimeout("read timed out", request=request)

        client = PyPIClient(make_http(handler), base_url=BASE, retry=FAST_RETRY)
        with pytest.raises(Unavailable):
            await client.last_serial()
        assert calls == FAST_RETRY.attempts


class TestProject:
    async def test_project_reads_the_recorded_luigi_answer(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/pypi/luigi/json"
            return httpx.Response(200, content=recorded("pypi/json-api_luigi.json"))

        project = await PyPIClient(make_http(handler), base_url=BASE).project("luigi")
        assert (project.name, project.version, project.last_serial) == ("luigi", "2.6.0", None)
        assert project.source.repo == RepoRef("spotify", "luigi")
        assert project.source.hint is None

    async def test_project_follows_the_canonical_name_redirect(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/pypi/HippoUnit/json":
                return httpx.Response(301, headers={"Location": f"{BASE}/pypi/hippounit/json"})
            assert request.url.path == "/pypi/hippounit/json"
            return httpx.Response(
                200, content=recorded("pypi/json-api_hippounit.json"), headers={"X-PyPI-Last-Serial": "7198862"}
            )

        project = await PyPIClient(make_http(handler), base_url=BASE).project("HippoUnit")
        assert project.name == "hippounit"
        assert project.version == "1.3.4"
        assert project.last_serial == 7198862
        assert project.source.repo == RepoRef("kalilab", "hippounit")

    async def test_project_without_a_github_link_says_why(self, make_http: MakeHttp) -> None:
        client = PyPIClient(
            make_http(lambda _: httpx.Response(200, content=recorded("pypi/json-api_cage_legacy.json"))), base_url=BASE
        )
        project = await client.project("CAGE")
        assert project.source.repo is None
        assert project.source.resolution.reason == "unknown-host"

    async def test_unknown_project_is_not_found(self, make_http: MakeHttp) -> None:
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            return httpx.Response(404, json={"message": "Not Found"})

        with pytest.raises(NotFound):
            await PyPIClient(make_http(handler), base_url=BASE, retry=FAST_RETRY).project("no-such-project")
        assert calls == 1

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(recorded("pypi/json-api_luigi.json")[:500], id="cut-short"),
            pytest.param(b"{'info': {}}", id="not-json"),
            pytest.param(b"[]", id="wrong-shape"),
            pytest.param(b'{"info": {"version": "1.0"}}', id="no-name"),
        ],
    )
    async def test_malformed_json_becomes_bad_response(self, make_http: MakeHttp, body: bytes) -> None:
        client = PyPIClient(make_http(lambda _: httpx.Response(200, content=body)), base_url=BASE)
        with pytest.raises(BadResponse):
            await client.project("luigi")

    async def test_project_name_is_escaped_in_the_path(self, make_http: MakeHttp) -> None:
        paths: list[bytes] = []

        def handler(request: httpx.Request) -> httpx.Response:
            paths.append(request.url.raw_path)
            return httpx.Response(404, json={"message": "Not Found"})

        with pytest.raises(NotFound):
            await PyPIClient(make_http(handler), base_url=BASE).project("a/../b")
        assert paths == [b"/pypi/a%2F..%2Fb/json"]


@pytest.mark.parametrize(
    ("label", "normalized"),
    [
        pytest.param("Source Code", "sourcecode", id="space"),
        pytest.param("Source-Code", "sourcecode", id="dash"),
        pytest.param("  Repository: ", "repository", id="colon-and-padding"),
        pytest.param("What's New", "whatsnew", id="apostrophe"),
        pytest.param("Release_Notes", "releasenotes", id="underscore"),
        pytest.param("GitHub", "github", id="case"),
    ],
)
def test_normalize_label_follows_pep_753(label: str, normalized: str) -> None:
    assert normalize_label(label) == normalized


@pytest.mark.parametrize(
    ("info", "repo", "directory", "hint"),
    [
        pytest.param(
            {
                "project_urls": {
                    "Homepage": "https://github.com/wrong/home",
                    "Source Code": "https://github.com/pallets/flask/",
                    "Changes": "https://flask.palletsprojects.com/changes/",
                },
                "home_page": "https://github.com/wrong/home-page",
            },
            "pallets/flask",
            None,
            "https://flask.palletsprojects.com/changes/",
            id="source-label-beats-homepage",
        ),
        pytest.param(
            {"project_urls": {"Code": "https://github.com/a/code", "Repository": "https://github.com/a/repository"}},
            "a/repository",
            None,
            None,
            id="repository-label-beats-code-label",
        ),
        pytest.param(
            {"project_urls": {"Homepage": "https://example.org"}, "home_page": "https://github.com/a/b"},
            "a/b",
            None,
            None,
            id="home-page-after-homepage-label",
        ),
        pytest.param(
            {"project_urls": None, "home_page": "UNKNOWN", "download_url": "https://github.com/a/b/archive/1.0.tar.gz"},
            "a/b",
            None,
            None,
            id="download-url-archive-link",
        ),
        pytest.param(
            {
                "project_urls": {
                    "Documentation": "https://a.readthedocs.io",
                    "Bug Tracker": "https://github.com/a/b/issues",
                    "Change Log": "https://github.com/a/b/blob/main/CHANGES.rst",
                },
                "home_page": "",
            },
            "a/b",
            None,
            "https://github.com/a/b/blob/main/CHANGES.rst",
            id="any-github-link-last",
        ),
        pytest.param(
            {"project_urls": {"Source": "https://github.com/googleapis/python/tree/main/packages/storage"}},
            "googleapis/python",
            "packages/storage",
            None,
            id="source-with-directory",
        ),
        pytest.param(
            {"project_urls": {"Release Notes": "https://example.org/notes", "History": "https://example.org/history"}},
            None,
            None,
            "https://example.org/notes",
            id="first-changelog-label-is-the-hint",
        ),
        pytest.param(
            {"project_urls": {"Source": "https://gitlab.com/a/b", "Funding": "https://github.com/sponsors/a"}},
            None,
            None,
            None,
            id="gitlab-only",
        ),
    ],
)
def test_resolve_project_order(info: dict[str, Any], repo: str | None, directory: str | None, hint: str | None) -> None:
    source = resolve_project(info)
    assert source.repo == (RepoRef.parse(repo) if repo else None)
    assert source.directory == directory
    assert source.hint == hint


def test_resolve_project_records_other_hosts() -> None:
    source = resolve_project({"project_urls": {"Source": "https://gitlab.com/a/b"}})
    assert (source.resolution.host, source.resolution.reason, source.resolution.project) == (
        "gitlab",
        "other-host",
        "a/b",
    )


def test_resolve_project_without_any_link_is_missing() -> None:
    source = resolve_project({"project_urls": None, "home_page": None, "download_url": ""})
    assert source.resolution.reason == "missing"


# What the sandbox's packages with no GitHub repository point at, and the reason resolution gives for each.
NO_REPO_REASONS = {
    "no-repository": "missing",
    "gitlab": "other-host",
    "bitbucket": "other-host",
    "codeberg": "other-host",
    "website": "unknown-host",
    "github-pages": "github-pages",
    "gist": "gist",
}


class TestAgainstSandbox:
    async def test_change_log_pages_by_serial(self, sandbox_http: httpx.AsyncClient, sandbox_settings: Any) -> None:
        client = PyPIClient(sandbox_http, base_url=sandbox_settings.pypi_url)
        last = await client.last_serial()
        changes = await client.changes_since(last - 40)
        assert [change.serial for change in changes] == list(range(last - 39, last + 1))
        assert await client.changes_since(last) == []

    async def test_every_project_resolves_to_the_repository_its_metadata_names(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        client = PyPIClient(sandbox_http, base_url=sandbox_settings.pypi_url)
        packages = [sandbox.world.package(index) for index in sandbox.world.packages_of("pypi")]
        assert len(packages) > 50
        for package in packages:
            project = await client.project(package.name)
            assert project.version == package.latest
            resolution = project.source.resolution
            if package.repo is None:
                assert resolution.reason == NO_REPO_REASONS[package.no_repo_reason], package.link
            else:
                assert resolution.repo is not None, package.link
                assert resolution.repo.key == package.repo.lower(), package.link
                assert resolution.directory == package.directory

    async def test_non_canonical_name_redirects_to_the_project(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        package = sandbox.world.package(sandbox.world.packages_of("pypi")[0])
        project = await PyPIClient(sandbox_http, base_url=sandbox_settings.pypi_url).project(package.name.upper())
        assert project.name == package.name

    async def test_unknown_project_is_not_found(self, sandbox_http: httpx.AsyncClient, sandbox_settings: Any) -> None:
        with pytest.raises(NotFound):
            await PyPIClient(sandbox_http, base_url=sandbox_settings.pypi_url).project("no-such-project-anywhere")

    async def test_server_errors_are_retried_then_unavailable(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        sandbox.reset_stats()
        sandbox.set_faults("pypi", error_rate=1.0)
        with pytest.raises(Unavailable):
            await PyPIClient(sandbox_http, base_url=sandbox_settings.pypi_url, retry=FAST_RETRY).last_serial()
        assert sandbox.stats()["pypi"]["faults"]["error"] == FAST_RETRY.attempts
