"""RubyGemsClient against recorded RubyGems answers: feeds, gems, versions, status mapping and request rate."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import httpx
import pytest

from core.clients import RubyGemsClient, resolve_gem
from core.errors import BadResponse, NotFound, RateLimited, Unavailable
from core.models import RepoRef, utcnow
from tests.core.clients.conftest import FAST_RETRY, MakeHttp, recorded

BASE = "https://rubygems.test"
ACTIVERECORD = json.loads(recorded("rubygems/gems_activerecord.json"))
RAILS = json.loads(recorded("rubygems/v2-rubygems_rails_versions_8.0.2.json"))


def client_for(make_http: MakeHttp, handler: Any, **kwargs: Any) -> RubyGemsClient:
    # A fast limiter unless a test is about the rate itself.
    kwargs.setdefault("requests_per_s", 1000.0)
    return RubyGemsClient(make_http(handler), base_url=BASE, retry=FAST_RETRY, **kwargs)


class TestEndpoints:
    async def test_gem_reads_the_recorded_activerecord_payload(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/api/v1/gems/activerecord.json"
            return httpx.Response(200, content=recorded("rubygems/gems_activerecord.json"))

        gem = await client_for(make_http, handler).gem("activerecord")
        assert (gem.name, gem.version) == ("activerecord", "5.2.2")
        assert gem.source.repo == RepoRef("rails", "rails")
        assert gem.source.directory == "activerecord"
        assert gem.source.hint == "https://github.com/rails/rails/blob/v5.2.2/activerecord/CHANGELOG.md"

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            pytest.param("just_updated", "/api/v1/activity/just_updated.json", id="just-updated"),
            pytest.param("latest", "/api/v1/activity/latest.json", id="latest"),
        ],
    )
    async def test_feeds_return_each_gem_payload(self, make_http: MakeHttp, method: str, path: str) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.url.path == path
            return httpx.Response(200, json=[RAILS, ACTIVERECORD, RAILS])

        gems = await getattr(client_for(make_http, handler), method)()
        assert [(gem.name, gem.version) for gem in gems] == [
            ("rails", "8.0.2"),
            ("activerecord", "5.2.2"),
            ("rails", "8.0.2"),
        ]
        assert gems[0].version_created_at == dt.datetime(2025, 3, 12, 3, 9, 11, 97000, tzinfo=dt.UTC)
        assert gems[0].source.repo == RepoRef("rails", "rails")
        assert gems[0].source.hint == "https://github.com/rails/rails/releases/tag/v8.0.2"

    async def test_versions_reads_the_recorded_list(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/api/v1/versions/zuck.json"
            return httpx.Response(200, content=recorded("rubygems/versions_zuck.json"))

        versions = await client_for(make_http, handler).versions("zuck")
        assert versions[0].number == "3.0.0"
        assert versions[0].created_at == dt.datetime(2015, 9, 22, 12, 8, 40, 621000, tzinfo=dt.UTC)
        assert versions[0].platform == "ruby"
        assert not versions[0].prerelease
        assert len(versions) == len(json.loads(recorded("rubygems/versions_zuck.json")))

    async def test_unknown_gem_is_not_found(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(404, text="This rubygem could not be found.")

        with pytest.raises(NotFound):
            await client_for(make_http, handler).gem("no-such-gem")

    async def test_429_is_rate_limited_after_retry_after(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(429, headers={"Retry-After": "7"}, text="Too Many Requests")

        with pytest.raises(RateLimited) as caught:
            await client_for(make_http, handler).latest()
        assert caught.value.reset_at >= utcnow() + dt.timedelta(seconds=6)

    async def test_server_errors_are_retried(self, make_http: MakeHttp) -> None:
        answers = [httpx.Response(500), httpx.Response(200, json=[RAILS])]
        gems = await client_for(make_http, lambda _: answers.pop(0)).latest()
        assert [gem.name for gem in gems] == ["rails"]

    async def test_persistent_server_errors_are_unavailable(self, make_http: MakeHttp) -> None:
        with pytest.raises(Unavailable):
            await client_for(make_http, lambda _: httpx.Response(503)).latest()

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(recorded("rubygems/gems_activerecord.json")[:300], id="cut-short"),
            pytest.param(b'{"name": "x"}', id="feed-is-not-a-list"),
            pytest.param(b'[{"version": "1.0"}]', id="payload-without-name"),
        ],
    )
    async def test_malformed_feed_becomes_bad_response(self, make_http: MakeHttp, body: bytes) -> None:
        with pytest.raises(BadResponse):
            await client_for(make_http, lambda _: httpx.Response(200, content=body)).just_updated()


class TestRate:
    async def test_default_rate_stays_under_ten_requests_a_second(self, make_http: MakeHttp) -> None:
        sent: list[float] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(time.monotonic())
            return httpx.Response(200, json=[])

        client = RubyGemsClient(make_http(handler), base_url=BASE)
        # Concurrent callers share the instance's limiter.
        await asyncio.gather(*(client.latest() for _ in range(11)))
        busiest_second = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
        assert len(sent) == 11
        assert busiest_second < 10


@pytest.mark.parametrize(
    ("payload", "repo", "hint"),
    [
        pytest.param(
            {"source_code_uri": None, "homepage_uri": "https://github.com/a/home", "metadata": {}},
            "a/home",
            None,
            id="homepage-when-no-source",
        ),
        pytest.param(
            {
                "source_code_uri": "https://gitlab.com/x/y",
                "homepage_uri": "https://github.com/a/home",
                "metadata": {},
            },
            "a/home",
            None,
            id="github-homepage-beats-gitlab-source",
        ),
        pytest.param(
            {
                "homepage_uri": "https://example.org",
                "metadata": {"bug_tracker_uri": "https://github.com/a/b/issues"},
            },
            "a/b",
            None,
            id="metadata-bug-tracker",
        ),
        pytest.param(
            {
                "homepage_uri": "https://example.org",
                "wiki_uri": "https://github.com/a/b/wiki",
                "metadata": {"changelog_uri": "https://example.org/changes"},
            },
            "a/b",
            "https://example.org/changes",
            id="other-uri-field-and-metadata-changelog-hint",
        ),
        pytest.param({"homepage_uri": "http://rubyonrails.org", "metadata": None}, None, None, id="no-github"),
    ],
)
def test_resolve_gem_order(payload: dict[str, Any], repo: str | None, hint: str | None) -> None:
    source = resolve_gem(payload)
    assert source.repo == (RepoRef.parse(repo) if repo else None)
    assert source.hint == hint


class TestAgainstSandbox:
    async def test_feeds_gems_and_versions_match_the_world(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        client = RubyGemsClient(sandbox_http, base_url=sandbox_settings.rubygems_url)
        latest = await client.latest()
        assert latest
        assert len(await client.just_updated()) <= 50
        package = next(
            sandbox.world.package(index)
            for index in sandbox.world.packages_of("rubygems")
            if sandbox.world.package(index).repo is not None
        )
        gem = await client.gem(package.name)
        assert (gem.name, gem.version) == (package.name, package.latest)
        assert gem.source.repo is not None
        assert gem.source.repo.key == package.repo.lower()
        versions = await client.versions(package.name)
        assert sorted(v.number for v in versions) == sorted(package.versions)

    async def test_a_burst_stays_under_the_sandbox_limit(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        # The sandbox answers 429 past 10 requests/s per client, as RubyGems' load balancer does.
        client = RubyGemsClient(sandbox_http, base_url=sandbox_settings.rubygems_url)
        names = [sandbox.world.package(index).name for index in sandbox.world.packages_of("rubygems")[:12]]
        gems = await asyncio.gather(*(client.gem(name) for name in names))
        assert [gem.name for gem in gems] == names

    async def test_unknown_gem_is_not_found(self, sandbox_http: httpx.AsyncClient, sandbox_settings: Any) -> None:
        with pytest.raises(NotFound):
            await RubyGemsClient(sandbox_http, base_url=sandbox_settings.rubygems_url).gem("no_such_gem_anywhere")
