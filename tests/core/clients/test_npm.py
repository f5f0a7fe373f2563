"""NpmClient against recorded npm answers: the replication feed, latest manifests, scoped names, status mapping."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core.clients import DEFAULT_RETRY, Change, NpmClient, RetryPolicy, resolve_manifest
from core.errors import BadResponse, NotFound, RateLimited, Unavailable
from core.models import RepoRef
from tests.core.clients.conftest import FAST_RETRY, MakeHttp, recorded

REGISTRY = "https://registry.npm.test"
REPLICATE = "https://replicate.npm.test/registry"


def client_for(make_http: MakeHttp, handler: Any) -> NpmClient:
    return NpmClient(make_http(handler), base_url=REGISTRY, replicate_url=REPLICATE, retry=FAST_RETRY)


class TestChanges:
    async def test_changes_reads_the_recorded_feed_page(self, make_http: MakeHttp) -> None:
        seen: list[httpx.URL] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.url)
            return httpx.Response(200, content=recorded("npm/changes_include_docs.json"))

        page = await client_for(make_http, handler).changes(7632607, limit=10)
        (url,) = seen
        assert url.path == "/registry/_changes"
        assert dict(url.params) == {"since": "7632607", "limit": "10"}
        assert len(page.results) == 10
        assert page.results[0] == Change(seq=7632608, id="npm-research", deleted=False)
        assert page.last_seq == 7632617
        assert isinstance(page.last_seq, int)

    async def test_update_seq_reads_the_database_root(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert str(request.url) == REPLICATE
            return httpx.Response(200, json={"db_name": "registry", "update_seq": 7632617, "doc_count": 3600000})

        assert await client_for(make_http, handler).update_seq() == 7632617

    async def test_changes_from_the_start_sends_no_since(self, make_http: MakeHttp) -> None:
        seen: list[httpx.URL] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.url)
            return httpx.Response(200, json={"results": [], "last_seq": 0})

        page = await client_for(make_http, handler).changes(None, limit=500)
        assert dict(seen[0].params) == {"limit": "500"}
        assert page.results == ()
        assert page.last_seq == 0

    async def test_changes_keeps_string_seqs_deleted_rows_and_design_documents(self, make_http: MakeHttp) -> None:
        # CouchDB 2+ sequences are opaque strings; the follower decides what to skip, not the client.
        body = {
            "results": [
                {"seq": "12-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQy", "id": "left-pad", "changes": [{"rev": "9-a"}]},
                {"seq": "13-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQz", "id": "gone", "deleted": True, "changes": []},
                {"seq": "14-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQ0", "id": "_design/app", "changes": []},
            ],
            "last_seq": "14-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQ0",
        }
        page = await client_for(make_http, lambda _: httpx.Response(200, json=body)).changes("11-x", limit=3)
        assert [(change.id, change.deleted) for change in page.results] == [
            ("left-pad", False),
            ("gone", True),
            ("_design/app", False),
        ]
        assert page.results[0].seq == "12-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQy"
        assert page.last_seq == "14-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQ0"

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(recorded("npm/changes_include_docs.json")[:4000], id="cut-in-the-middle"),
            pytest.param(b"<html>502 Bad Gateway</html>", id="html"),
            pytest.param(b'{"results": {"seq": 1}}', id="results-not-a-list"),
            pytest.param(b'{"results": [{"id": "x"}]}', id="row-without-seq"),
            pytest.param(b'{"results": [{"seq": [1, "a"], "id": "x"}]}', id="seq-not-scalar"),
            pytest.param(b'{"results": [{"seq": true, "id": "x"}]}', id="seq-boolean"),
        ],
    )
    async def test_malformed_feed_becomes_bad_response(self, make_http: MakeHttp, body: bytes) -> None:
        with pytest.raises(BadResponse):
            await client_for(make_http, lambda _: httpx.Response(200, content=body)).changes(1, limit=10)

    async def test_feed_server_errors_are_retried(self, make_http: MakeHttp) -> None:
        answers = [httpx.Response(502), httpx.Response(200, json={"results": [], "last_seq": 5})]
        page = await client_for(make_http, lambda _: answers.pop(0)).changes(5, limit=10)
        assert page.last_seq == 5

    async def test_feed_dropped_connection_is_retried_then_unavailable(self, make_http: MakeHttp) -> None:
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

        with pytest.raises(Unavailable):
            await client_for(make_http, handler).changes(5, limit=10)
        assert calls == FAST_RETRY.attempts

    async def test_feed_429_is_rate_limited(self, make_http: MakeHttp) -> None:
        with pytest.raises(RateLimited):
            await client_for(make_http, lambda _: httpx.Response(429, headers={"Retry-After": "3"})).changes(
                5, limit=10
            )


class TestLatest:
    async def test_latest_reads_a_recorded_manifest(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert str(request.url) == f"{REGISTRY}/etag/latest"
            return httpx.Response(200, content=recorded("npm/version_etag_1.0.0.json"))

        manifest = await client_for(make_http, handler).latest("etag")
        assert (manifest.name, manifest.version) == ("etag", "1.0.0")
        assert manifest.source.repo == RepoRef("jshttp", "etag")

    async def test_scoped_name_escapes_the_slash(self, make_http: MakeHttp) -> None:
        paths: list[bytes] = []

        def handler(request: httpx.Request) -> httpx.Response:
            paths.append(request.url.raw_path)
            manifest = {
                "name": "@babel/core",
                "version": "7.26.0",
                "repository": {
                    "type": "git",
                    "url": "https://github.com/babel/babel.git",
                    "directory": "packages/babel-core",
                },
            }
            return httpx.Response(200, json=manifest)

        manifest = await client_for(make_http, handler).latest("@babel/core")
        assert paths == [b"/@babel%2Fcore/latest"]
        assert manifest.source.repo == RepoRef("babel", "babel")
        assert manifest.source.directory == "packages/babel-core"

    async def test_missing_package_is_not_found_and_not_retried(self, make_http: MakeHttp) -> None:
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            return httpx.Response(404, json={"error": "Not found"})

        with pytest.raises(NotFound):
            await client_for(make_http, handler).latest("no-such-package")
        assert calls == 1

    async def test_manifest_without_version_becomes_bad_response(self, make_http: MakeHttp) -> None:
        # An unpublished package's stub has no version (docs/API-NOTES.md §4).
        stub = {"name": "gone", "time": {"unpublished": {"time": "2024-01-01T00:00:00.000Z", "versions": ["1.0.0"]}}}
        with pytest.raises(BadResponse):
            await client_for(make_http, lambda _: httpx.Response(200, json=stub)).latest("gone")

    async def test_latest_of_every_recorded_packument_version_resolves(self, make_http: MakeHttp) -> None:
        packument = json.loads(recorded("npm/packument_is-stream.json"))
        for version, manifest in packument["versions"].items():
            client = client_for(make_http, lambda _, manifest=manifest: httpx.Response(200, json=manifest))
            result = await client.latest("is-stream")
            assert result.version == version
            assert result.source.repo == RepoRef("sindresorhus", "is-stream")


@pytest.mark.parametrize(
    ("manifest", "repo", "directory"),
    [
        pytest.param({"repository": "github:a/b"}, "a/b", None, id="shorthand-string"),
        pytest.param(
            {"repository": {"type": "git", "url": "git+https://github.com/a/b.git", "directory": "packages/c"}},
            "a/b",
            "packages/c",
            id="object-with-directory",
        ),
        pytest.param({"homepage": "https://github.com/a/b#readme"}, "a/b", None, id="homepage-when-no-repository"),
        pytest.param(
            {"homepage": "https://example.org", "bugs": {"url": "https://github.com/a/b/issues"}},
            "a/b",
            None,
            id="bugs-url-issues-page",
        ),
        pytest.param({"bugs": "https://github.com/a/b/issues"}, "a/b", None, id="bugs-as-string"),
        pytest.param(
            {"repository": "https://gitlab.com/x/y", "homepage": "https://github.com/a/b"},
            "a/b",
            None,
            id="github-homepage-beats-gitlab-repository",
        ),
        pytest.param({"homepage": [""], "bugs": None}, None, None, id="recorded-homepage-array-of-empty"),
        pytest.param({}, None, None, id="no-links"),
    ],
)
def test_resolve_manifest_order(manifest: dict[str, Any], repo: str | None, directory: str | None) -> None:
    source = resolve_manifest(manifest)
    assert source.repo == (RepoRef.parse(repo) if repo else None)
    assert source.directory == directory
    assert source.hint is None


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
    @staticmethod
    def client(http: httpx.AsyncClient, settings: Any, retry: RetryPolicy = DEFAULT_RETRY) -> NpmClient:
        return NpmClient(
            http, base_url=settings.npm_registry_url, replicate_url=settings.npm_replicate_url, retry=retry
        )

    async def test_feed_pages_from_update_seq(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        npm = self.client(sandbox_http, sandbox_settings)
        head = await npm.update_seq()
        assert head == sandbox.world.npm_update_seq()
        first = await npm.changes(None, limit=25)
        assert len(first.results) == 25
        assert isinstance(first.last_seq, int)
        second = await npm.changes(first.last_seq, limit=25)
        assert second.results[0].seq > first.results[-1].seq
        assert (await npm.changes(head, limit=25)).results == ()

    async def test_every_package_resolves_to_the_repository_its_manifest_names(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        npm = self.client(sandbox_http, sandbox_settings)
        packages = [sandbox.world.package(index) for index in sandbox.world.packages_of("npm")]
        assert any(package.name.startswith("@") for package in packages)
        for package in packages:
            manifest = await npm.latest(package.name)
            assert (manifest.name, manifest.version) == (package.name, package.latest)
            resolution = manifest.source.resolution
            if package.repo is None:
                assert resolution.reason == NO_REPO_REASONS[package.no_repo_reason], package.link
            else:
                assert resolution.repo is not None, package.link
                assert resolution.repo.key == package.repo.lower(), package.link
                assert resolution.directory == package.directory, package.link

    async def test_unknown_package_is_not_found(self, sandbox_http: httpx.AsyncClient, sandbox_settings: Any) -> None:
        with pytest.raises(NotFound):
            await self.client(sandbox_http, sandbox_settings).latest("@nobody/no-such-package")

    @pytest.mark.parametrize(
        ("fault", "error"),
        [
            pytest.param("truncate_rate", Unavailable, id="cut-mid-body-retried"),
            pytest.param("malformed_rate", BadResponse, id="malformed"),
        ],
    )
    async def test_spoiled_feed_bodies(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any, fault: str, error: type[Exception]
    ) -> None:
        sandbox.set_faults("npm", **{fault: 1.0})
        with pytest.raises(error):
            await self.client(sandbox_http, sandbox_settings, FAST_RETRY).changes(None, limit=50)

    async def test_transient_errors_are_ridden_out(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        sandbox.set_faults("npm", error_rate=0.5)
        npm = self.client(sandbox_http, sandbox_settings, RetryPolicy(attempts=8, initial_s=0, max_s=0, jitter_s=0))
        pages = [await npm.changes(None, limit=10) for _ in range(10)]
        assert all(len(page.results) == 10 for page in pages)
