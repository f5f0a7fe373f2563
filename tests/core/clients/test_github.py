"""GitHubClient against recorded GitHub answers and the documented statuses and headers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.budget import Quota
from core.changelog import FileInfo
from core.clients import BudgetGate, GitHubClient, RateGate, RetryPolicy, open_http
from core.errors import BadResponse, ConfigError, Empty, Gone, NotFound, RateLimited, Unavailable, UpstreamError
from core.models import RepoRef, utcnow
from tests.core.clients.conftest import FAST_RETRY, MakeHttp, recorded

BASE = "https://api.github.test"
REF = RepoRef("gocardless", "statesman")
TOKEN = "ghp_test"


def rate(remaining: int = 4999, reset: int | None = None) -> dict[str, str]:
    """The budget headers GitHub puts on every answer."""
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(5000 - remaining),
        "x-ratelimit-reset": str(reset if reset is not None else int(time.time()) + 3600),
        "x-ratelimit-resource": "core",
    }


def answer(status: int, body: Any = None, *, content: bytes | None = None, **headers: str) -> httpx.Response:
    all_headers = {**rate(), **{name.replace("_", "-"): value for name, value in headers.items()}}
    if content is None and body is not None:
        content = json.dumps(body).encode()
        all_headers.setdefault("content-type", "application/json; charset=utf-8")
    return httpx.Response(status, content=content or b"", headers=all_headers)


class RecordingGate:
    """A ``RateGate`` that records what the client tells it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int | None, dt.datetime | None]] = []
        self.charged: list[bool] = []

    async def acquire(self) -> None:
        self.events.append(("acquire", None, None))

    async def observe(self, quota: Quota | None, *, charged: bool) -> None:
        self.events.append(("observe", quota.remaining, quota.reset_at) if quota else ("observe", None, None))
        self.charged.append(charged)

    async def paused_for(self) -> float:
        return 0.0


def github(
    make_http: MakeHttp, handler: Any, *, token: str | None = TOKEN, gate: RateGate | None = None
) -> GitHubClient:
    return GitHubClient(make_http(handler), base_url=BASE, token=token, gate=gate or RecordingGate(), retry=FAST_RETRY)


class TestRepo:
    async def test_repo_reads_the_recorded_answer_with_the_documented_headers(self, make_http: MakeHttp) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return answer(200, content=recorded("github/repos_gocardless_statesman.json"), etag='"abc"')

        fetched = await github(make_http, handler).repo(REF)
        assert fetched.value is not None
        assert fetched.value.ref == REF
        assert fetched.value.default_branch == "master"
        assert fetched.value.moved_from is None
        assert fetched.etag == '"abc"'
        assert not fetched.not_modified
        (request,) = seen
        assert request.url.path == "/repos/gocardless/statesman"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Accept"] == "application/vnd.github+json"
        assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert request.headers["User-Agent"] == "changelogs-tests"
        assert "If-None-Match" not in request.headers

    async def test_etag_round_trip_answers_not_modified_uncharged(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.headers.get("If-None-Match") == '"v1"':
                return answer(304, etag='"v1"')
            return answer(200, content=recorded("github/repos_gocardless_statesman.json"), etag='"v1"')

        client = github(make_http, handler)
        first = await client.repo(REF)
        second = await client.repo(REF, etag=first.etag)
        assert second.not_modified
        assert second.value is None
        assert second.etag == '"v1"'
        assert client.counts.requests["repo"] == 2
        assert client.counts.not_modified["repo"] == 1
        assert client.counts.charged["repo"] == 1

    async def test_unauthenticated_not_modified_is_still_charged(self, make_http: MakeHttp) -> None:
        client = github(make_http, lambda _: answer(304, etag='"v1"'), token=None)
        fetched = await client.repo(REF, etag='"v1"')
        assert fetched.not_modified
        assert client.counts.charged["repo"] == 1

    async def test_no_token_sends_no_authorization(self, make_http: MakeHttp) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return answer(200, content=recorded("github/repos_pantsbuild_pants.json"))

        await github(make_http, handler, token=None).repo(RepoRef("pantsbuild", "pants"))
        assert "Authorization" not in seen[0].headers

    async def test_renamed_repository_follows_the_301_and_reports_the_new_name(self, make_http: MakeHttp) -> None:
        repo = json.loads(recorded("github/repos_gocardless_statesman.json"))
        gate = RecordingGate()

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/repos/old-owner/old-name":
                return answer(
                    301,
                    {"message": "Moved Permanently", "url": f"{BASE}/repositories/{repo['id']}"},
                    location=f"{BASE}/repositories/{repo['id']}",
                )
            assert request.url.path == f"/repositories/{repo['id']}"
            assert request.headers["Authorization"] == f"Bearer {TOKEN}"
            return answer(200, repo)

        client = github(make_http, handler, gate=gate)
        fetched = await client.repo(RepoRef("old-owner", "old-name"))
        assert fetched.value is not None
        assert fetched.value.ref == REF
        assert fetched.value.moved_from == RepoRef("old-owner", "old-name")
        assert client.counts.requests["repo"] == 2
        assert [event[0] for event in gate.events] == ["acquire", "observe", "acquire", "observe"]

    @pytest.mark.parametrize(
        ("status", "body", "error"),
        [
            pytest.param(404, {"message": "Not Found", "status": "404"}, Gone, id="404-repo-is-gone"),
            pytest.param(
                451,
                {"message": "Repository access blocked", "block": {"reason": "dmca"}},
                Gone,
                id="451-blocked-is-gone",
            ),
            pytest.param(401, {"message": "Bad credentials"}, ConfigError, id="401-bad-token"),
            pytest.param(
                403, {"message": "Resource not accessible by integration"}, UpstreamError, id="403-not-a-limit"
            ),
            pytest.param(422, {"message": "Validation Failed"}, UpstreamError, id="422"),
            pytest.param(410, {"message": "Unsupported API version"}, UpstreamError, id="410"),
        ],
    )
    async def test_repo_status_mapping(
        self, make_http: MakeHttp, status: int, body: dict[str, Any], error: type[Exception]
    ) -> None:
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            return answer(status, body)

        with pytest.raises(error) as caught:
            await github(make_http, handler).repo(REF)
        assert type(caught.value) is error
        assert calls == 1  # 4xx is never retried

    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(recorded("github/repos_gocardless_statesman.json")[:700], id="cut-short"),
            pytest.param(b"<html>Unicorn!</html>", id="html"),
            pytest.param(b'{"id": 1}', id="no-full-name"),
        ],
    )
    async def test_malformed_json_becomes_bad_response(self, make_http: MakeHttp, content: bytes) -> None:
        with pytest.raises(BadResponse):
            await github(make_http, lambda _: answer(200, content=content)).repo(REF)


class TestListDir:
    async def test_root_listing_reads_the_recorded_answer(self, make_http: MakeHttp) -> None:
        paths: list[bytes] = []

        def handler(request: httpx.Request) -> httpx.Response:
            paths.append(request.url.raw_path)
            return answer(200, content=recorded("github/contents_scrapy_root.json"), etag='"dir"')

        fetched = await github(make_http, handler).list_dir(RepoRef("scrapy", "scrapy"))
        assert paths == [b"/repos/scrapy/scrapy/contents/"]
        assert fetched.value is not None
        assert len(fetched.value) == 28
        assert fetched.value[0] == FileInfo(
            path=".bumpversion.cfg",
            name=".bumpversion.cfg",
            size=124,
            type="file",
            download_url="https://raw.githubusercontent.com/scrapy/scrapy/master/.bumpversion.cfg",
            sha="6e7be142ec41bdea6bff584e4645fe8950a450de",
        )
        directories = [entry for entry in fetched.value if entry.type == "dir"]
        assert directories
        assert all(entry.download_url is None for entry in directories)
        assert fetched.etag == '"dir"'

    async def test_sub_directory_path_is_quoted(self, make_http: MakeHttp) -> None:
        paths: list[bytes] = []

        def handler(request: httpx.Request) -> httpx.Response:
            paths.append(request.url.raw_path)
            return answer(200, [])

        await github(make_http, handler).list_dir(REF, "/docs/release notes/")
        assert paths == [b"/repos/gocardless/statesman/contents/docs/release%20notes"]

    @pytest.mark.parametrize(
        ("path", "status", "body", "error"),
        [
            pytest.param("", 404, {"message": "Not Found"}, Gone, id="root-404-repo-gone"),
            pytest.param("docs", 404, {"message": "Not Found"}, NotFound, id="path-404-not-found"),
            pytest.param("", 404, {"message": "This repository is empty."}, Empty, id="contents-empty-404"),
            pytest.param("", 409, {"message": "Git Repository is empty."}, Empty, id="409-empty"),
            pytest.param("", 451, {"message": "Repository access blocked"}, Gone, id="451-gone"),
        ],
    )
    async def test_listing_status_mapping(
        self, make_http: MakeHttp, path: str, status: int, body: dict[str, Any], error: type[Exception]
    ) -> None:
        with pytest.raises(error) as caught:
            await github(make_http, lambda _: answer(status, body)).list_dir(REF, path)
        assert type(caught.value) is error

    async def test_listing_a_file_is_not_found(self, make_http: MakeHttp) -> None:
        file_answer = {"type": "file", "name": "README.md", "path": "README.md", "encoding": "base64", "content": ""}
        with pytest.raises(NotFound):
            await github(make_http, lambda _: answer(200, file_answer)).list_dir(REF, "README.md")

    async def test_listing_not_modified(self, make_http: MakeHttp) -> None:
        fetched = await github(make_http, lambda _: answer(304, etag='"dir"')).list_dir(REF, etag='"dir"')
        assert fetched.not_modified
        assert fetched.etag == '"dir"'

    async def test_renamed_repository_listing_records_the_new_name_from_its_entries(self, make_http: MakeHttp) -> None:
        listing = json.loads(recorded("github/contents_scrapy_root.json"))

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.startswith("/repos/old/scrapy/"):
                return answer(301, {"message": "Moved Permanently"}, location=f"{BASE}/repositories/529502/contents/")
            return answer(200, listing)

        client = github(make_http, handler)
        fetched = await client.list_dir(RepoRef("old", "scrapy"))
        assert fetched.value is not None
        assert len(fetched.value) == len(listing)
        assert client.renamed == {"old/scrapy": "scrapy/scrapy"}
        assert client.counts.requests == {"list_dir": 2}

    async def test_renamed_repository_with_an_empty_listing_asks_for_the_repository(self, make_http: MakeHttp) -> None:
        repo = json.loads(recorded("github/repos_gocardless_statesman.json"))

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.startswith("/repos/old/name"):
                target = "/contents/" if "contents" in request.url.path else ""
                return answer(301, {"message": "Moved Permanently"}, location=f"{BASE}/repositories/1{target}")
            return answer(200, [] if "contents" in request.url.path else repo)

        client = github(make_http, handler)
        await client.list_dir(RepoRef("old", "name"))
        assert client.renamed == {"old/name": "gocardless/statesman"}
        assert client.counts.requests == {"list_dir": 2, "repo": 2}

    async def test_unmoved_repository_records_no_rename(self, make_http: MakeHttp) -> None:
        client = github(make_http, lambda _: answer(200, content=recorded("github/contents_scrapy_root.json")))
        await client.list_dir(RepoRef("Scrapy", "Scrapy"))
        assert client.renamed == {}


class TestFetchFile:
    async def test_raw_download_is_not_charged_to_the_budget(self, make_http: MakeHttp) -> None:
        gate = RecordingGate()
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, content=b"# Changelog\n\n## 1.0\n", headers={"etag": '"raw"'})

        client = github(make_http, handler, gate=gate)
        url = "https://raw.githubusercontent.com/scrapy/scrapy/master/CHANGELOG.md"
        fetched = await client.fetch_file(url, limit=1000)
        assert fetched.value is not None
        assert fetched.value.content == b"# Changelog\n\n## 1.0\n"
        assert not fetched.value.truncated
        assert fetched.value.size == len(b"# Changelog\n\n## 1.0\n")
        assert fetched.etag == '"raw"'
        assert gate.events == []
        assert client.counts.requests["fetch_file"] == 1
        assert client.counts.charged["fetch_file"] == 0
        assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"

    async def test_download_url_on_the_api_host_is_still_an_uncharged_download(self, make_http: MakeHttp) -> None:
        gate = RecordingGate()
        client = github(make_http, lambda _: httpx.Response(200, content=b"notes"), gate=gate)
        await client.fetch_file(f"{BASE}/_raw/a/b/main/CHANGELOG.md", limit=100)
        assert gate.events == []
        assert client.counts.charged.total() == 0

    async def test_token_is_not_sent_to_other_hosts(self, make_http: MakeHttp) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, content=b"x")

        await github(make_http, handler).fetch_file("https://example.org/CHANGELOG.md", limit=10)
        assert "Authorization" not in seen[0].headers

    async def test_a_50_mb_file_is_streamed_and_cut_not_read_whole(self, make_http: MakeHttp) -> None:
        chunk = b"x" * (1024 * 1024)
        produced = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal produced
            for _ in range(50):
                produced += 1
                yield chunk

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=body(), headers={"content-length": str(50 * len(chunk))})

        fetched = await github(make_http, handler).fetch_file(
            "https://raw.githubusercontent.com/a/b/HEAD/big", limit=100_000
        )
        assert fetched.value is not None
        assert len(fetched.value.content) == 100_000
        assert fetched.value.truncated
        assert fetched.value.size == 50 * len(chunk)
        assert produced <= 2

    async def test_file_of_exactly_the_limit_is_not_truncated(self, make_http: MakeHttp) -> None:
        fetched = await github(make_http, lambda _: httpx.Response(200, content=b"12345")).fetch_file(
            "https://raw.githubusercontent.com/a/b/HEAD/f", limit=5
        )
        assert fetched.value is not None
        assert (fetched.value.content, fetched.value.truncated, fetched.value.size) == (b"12345", False, 5)

    async def test_api_path_is_fetched_raw_and_charged(self, make_http: MakeHttp) -> None:
        gate = RecordingGate()
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return answer(200, content=b"# hello-world", content_type="application/vnd.github.v3.raw; charset=utf-8")

        client = github(make_http, handler, gate=gate)
        fetched = await client.fetch_file("README.md", ref=RepoRef("octokit-fixture-org", "hello-world"), limit=100)
        assert fetched.value is not None
        assert fetched.value.content == b"# hello-world"
        assert str(seen[0].url) == f"{BASE}/repos/octokit-fixture-org/hello-world/contents/README.md"
        assert seen[0].headers["Accept"] == "application/vnd.github.raw"
        assert [event[0] for event in gate.events] == ["acquire", "observe"]
        assert client.counts.charged["fetch_file"] == 1

    async def test_a_path_without_its_repository_is_refused(self, make_http: MakeHttp) -> None:
        with pytest.raises(ValueError, match="ref="):
            await github(make_http, lambda _: answer(200, [])).fetch_file("CHANGELOG.md", limit=10)

    async def test_missing_file_is_not_found(self, make_http: MakeHttp) -> None:
        with pytest.raises(NotFound):
            await github(make_http, lambda _: httpx.Response(404, text="404: Not Found")).fetch_file(
                "https://raw.githubusercontent.com/a/b/HEAD/missing", limit=10
            )

    async def test_file_not_modified(self, make_http: MakeHttp) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.headers["If-None-Match"] == '"f1"'
            return httpx.Response(304, headers={"etag": '"f1"'})

        fetched = await github(make_http, handler).fetch_file(
            "https://raw.githubusercontent.com/a/b/HEAD/CHANGES", limit=10, etag='"f1"'
        )
        assert fetched.not_modified
        assert fetched.value is None


class TestReleases:
    async def test_releases_reads_the_recorded_page(self, make_http: MakeHttp) -> None:
        urls: list[httpx.URL] = []

        def handler(request: httpx.Request) -> httpx.Response:
            urls.append(request.url)
            return answer(200, content=recorded("github/releases_gocardless_business.json"), etag='"rel"')

        fetched = await github(make_http, handler).releases(RepoRef("gocardless", "business"))
        assert urls[0].path == "/repos/gocardless/business/releases"
        assert urls[0].params["per_page"] == "100"
        assert fetched.value is not None
        recorded_rows = json.loads(recorded("github/releases_gocardless_business.json"))
        assert [release.tag_name for release in fetched.value] == [row["tag_name"] for row in recorded_rows]
        assert fetched.value[0].tag_name == "1.8.0"
        assert fetched.value[0].published_at is not None
        assert fetched.value[0].published_at.tzinfo is not None
        assert fetched.etag == '"rel"'

    @pytest.mark.parametrize(("max_pages", "expected_requests"), [(2, 2), (5, 3)])
    async def test_releases_follow_link_next_up_to_max_pages(
        self, make_http: MakeHttp, max_pages: int, expected_requests: int
    ) -> None:
        pages = {
            "1": ([{"tag_name": "v3"}], f'<{BASE}/repositories/9/releases?per_page=100&page=2>; rel="next"'),
            "2": ([{"tag_name": "v2"}], f'<{BASE}/repositories/9/releases?per_page=100&page=3>; rel="next"'),
            "3": ([{"tag_name": "v1"}], f'<{BASE}/repositories/9/releases?per_page=100&page=1>; rel="first"'),
        }
        requests = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal requests
            requests += 1
            rows, link = pages[request.url.params.get("page", "1")]
            return answer(200, rows, link=link)

        client = github(make_http, handler)
        fetched = await client.releases(REF, max_pages=max_pages)
        assert fetched.value is not None
        assert [release.tag_name for release in fetched.value] == ["v3", "v2", "v1"][:expected_requests]
        assert requests == expected_requests == client.counts.requests["releases"]

    async def test_releases_not_modified(self, make_http: MakeHttp) -> None:
        fetched = await github(make_http, lambda _: answer(304, etag='"rel"')).releases(REF, etag='"rel"')
        assert fetched.not_modified

    async def test_releases_of_a_missing_repository_is_gone(self, make_http: MakeHttp) -> None:
        with pytest.raises(Gone):
            await github(make_http, lambda _: answer(404, {"message": "Not Found"})).releases(REF)


class TestBudgetAndFailures:
    async def test_every_answer_reports_its_budget_to_the_gate(self, make_http: MakeHttp) -> None:
        gate = RecordingGate()
        reset = int(time.time()) + 1234
        await github(make_http, lambda _: answer(200, [], **rate(4321, reset)), gate=gate).list_dir(REF)
        assert gate.events == [
            ("acquire", None, None),
            ("observe", 4321, dt.datetime.fromtimestamp(reset, dt.UTC)),
        ]

    @pytest.mark.parametrize(
        ("token", "status", "charged"),
        [
            pytest.param(TOKEN, 200, True, id="200"),
            pytest.param(TOKEN, 304, False, id="authorised-304"),
            pytest.param(None, 304, True, id="anonymous-304"),
        ],
    )
    async def test_the_gate_is_told_which_answers_github_charged(
        self, make_http: MakeHttp, token: str | None, status: int, charged: bool
    ) -> None:
        gate = RecordingGate()
        client = github(make_http, lambda _: answer(status, [], etag='"e"'), token=token, gate=gate)
        await client.list_dir(REF, etag='"e"')
        assert gate.charged == [charged]
        assert client.counts.charged.total() == int(charged)

    @pytest.mark.parametrize("status", [403, 429])
    async def test_spent_budget_is_rate_limited_until_reset(self, make_http: MakeHttp, status: int) -> None:
        gate = RecordingGate()
        reset = int(time.time()) + 900
        body = {"message": "API rate limit exceeded for user ID 1."}
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            return answer(status, body, **rate(0, reset))

        with pytest.raises(RateLimited) as caught:
            await github(make_http, handler, gate=gate).repo(REF)
        assert caught.value.reset_at == dt.datetime.fromtimestamp(reset, dt.UTC)
        assert gate.events[-1] == ("observe", 0, dt.datetime.fromtimestamp(reset, dt.UTC))
        assert gate.charged[-1] is False
        calls = 0
        with pytest.raises(RateLimited):
            await github(make_http, handler, gate=BudgetGate(max_wait_s=1)).repo(REF)
        assert calls == 1, "a gate that knows the budget is spent sends nothing more"

    async def test_a_short_secondary_limit_is_waited_out_and_the_request_sent_again(self, make_http: MakeHttp) -> None:
        answers = [
            answer(403, {"message": "You have exceeded a secondary rate limit."}, retry_after="1"),
            answer(200, []),
        ]
        started = time.monotonic()
        fetched = await github(make_http, lambda _: answers.pop(0), gate=BudgetGate(max_wait_s=5)).list_dir(REF)
        assert fetched.value == []
        assert time.monotonic() - started >= 0.5

    @pytest.mark.parametrize(
        ("status", "headers", "message", "wait_s"),
        [
            pytest.param(403, {"retry-after": "30"}, "You have exceeded a secondary rate limit.", 30, id="403-after"),
            pytest.param(429, {"retry-after": "5"}, "", 5, id="429-retry-after"),
            pytest.param(
                403, {}, "You have exceeded a secondary rate limit. Please wait a few minutes.", 60, id="403-message"
            ),
            pytest.param(429, {}, "", 60, id="429-bare"),
        ],
    )
    async def test_secondary_limit_waits_retry_after_or_a_minute(
        self, make_http: MakeHttp, status: int, headers: dict[str, str], message: str, wait_s: int
    ) -> None:
        gate = RecordingGate()

        def handler(request: httpx.Request) -> httpx.Response:
            return answer(status, {"message": message}, **rate(4000), **headers)

        before = utcnow()
        with pytest.raises(RateLimited) as caught:
            await github(make_http, handler, gate=gate).repo(REF)
        assert before + dt.timedelta(seconds=wait_s - 1) <= caught.value.reset_at
        assert caught.value.reset_at <= utcnow() + dt.timedelta(seconds=wait_s + 1)
        # Told to the gate as a spent budget, so the other callers sharing it wait as well.
        assert gate.events[-1] == ("observe", 0, caught.value.reset_at)

    async def test_after_a_spent_budget_the_default_gate_sends_nothing_more(self, make_http: MakeHttp) -> None:
        reset = int(time.time()) + 900
        client = github(
            make_http,
            lambda _: answer(403, {"message": "API rate limit exceeded"}, **rate(0, reset)),
            gate=BudgetGate(max_wait_s=1),
        )
        with pytest.raises(RateLimited):
            await client.repo(REF)
        with pytest.raises(RateLimited) as caught:
            await client.list_dir(REF)
        assert client.counts.total == 1
        assert caught.value.reset_at >= dt.datetime.fromtimestamp(reset, dt.UTC)

    async def test_server_errors_are_retried_with_each_attempt_through_the_gate(self, make_http: MakeHttp) -> None:
        gate = RecordingGate()
        answers = [answer(502, content=b"<html>"), answer(503, {"message": "x"}), answer(200, [])]
        client = github(make_http, lambda _: answers.pop(0), gate=gate)
        fetched = await client.list_dir(REF)
        assert fetched.value == []
        assert client.counts.requests["list_dir"] == 3
        assert [event[0] for event in gate.events] == ["acquire", "observe"] * 3

    async def test_timeouts_are_retried_then_unavailable_and_the_gate_stays_balanced(self, make_http: MakeHttp) -> None:
        gate = RecordingGate()

        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectTimeout("connect timed out", request=request)

        client = github(make_http, handler, gate=gate)
        with pytest.raises(Unavailable):
            await client.repo(REF)
        assert client.counts.requests["repo"] == FAST_RETRY.attempts
        assert gate.events == [("acquire", None, None), ("observe", None, None)] * FAST_RETRY.attempts

    async def test_persistent_server_errors_are_unavailable(self, make_http: MakeHttp) -> None:
        with pytest.raises(Unavailable) as caught:
            await github(make_http, lambda _: answer(500, {"message": "Server Error"})).releases(REF)
        assert caught.value.status == 500


class TestCounting:
    async def test_counting_attributes_requests_to_each_concurrent_crawl(self, make_http: MakeHttp) -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.01)  # let the crawls interleave
            return answer(200, [])

        client = github(make_http, handler)

        async def crawl(requests: int) -> int:
            with client.counting() as count:
                for _ in range(requests):
                    await client.list_dir(REF)
                return count.total

        assert await asyncio.gather(crawl(1), crawl(3), crawl(2)) == [1, 3, 2]
        assert client.counts.total == 6

    async def test_counting_sees_not_modified_and_charged(self, make_http: MakeHttp) -> None:
        client = github(make_http, lambda _: answer(304, etag='"x"'))
        with client.counting() as count:
            await client.repo(REF, etag='"x"')
            await client.fetch_file("https://raw.githubusercontent.com/a/b/HEAD/f", limit=10, etag='"x"')
        assert count.requests == {"repo": 1, "fetch_file": 1}
        assert count.not_modified == {"repo": 1, "fetch_file": 1}
        assert count.charged.total() == 0

    async def test_aclose_closes_the_http_client_it_was_given(self, make_http: MakeHttp) -> None:
        http = make_http(lambda _: answer(200, []))
        client = GitHubClient(http, base_url=BASE, token=None)
        await client.aclose()
        assert http.is_closed


def _world_repos(sandbox: Any) -> list[Any]:
    """Every repository of the sandbox's world that some package points at."""
    world = sandbox.world
    keys = {world.package(i).repo_key for i in range(world.package_count)} - {None}
    return [world.repo(key) for key in sorted(keys)]


class TestAgainstSandbox:
    @staticmethod
    def client(http: httpx.AsyncClient, settings: Any, **kwargs: Any) -> GitHubClient:
        return GitHubClient(http, base_url=settings.github_api_url, token="sandbox-token", **kwargs)

    @staticmethod
    def repo_with(sandbox: Any, outcome: str, *, renamed: bool = False) -> Any:
        return next(r for r in _world_repos(sandbox) if r.outcome == outcome and bool(r.alias) == renamed)

    async def test_conditional_requests_answer_304_uncharged(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        github = self.client(sandbox_http, sandbox_settings)
        repo = self.repo_with(sandbox, "changelog")
        ref = RepoRef.parse(repo.full_name)
        first = await github.repo(ref)
        listing = await github.list_dir(ref)
        assert first.value is not None and first.value.ref == ref
        assert listing.value
        sandbox.reset_stats()
        again = await github.repo(ref, etag=first.etag)
        listed_again = await github.list_dir(ref, etag=listing.etag)
        assert again.not_modified and listed_again.not_modified
        stats = sandbox.stats()["github"]
        assert stats["not_modified"] == 2
        assert stats.get("charged", 0) == 0 == github.counts.charged["list_dir"] - 1

    async def test_changelog_download_is_uncharged_and_conditional(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        github = self.client(sandbox_http, sandbox_settings)
        repo = self.repo_with(sandbox, "changelog")
        listing = await github.list_dir(RepoRef.parse(repo.full_name))
        assert listing.value is not None
        entry = next(e for e in listing.value if e.type == "file" and e.download_url)
        sandbox.reset_stats()
        fetched = await github.fetch_file(entry.download_url, limit=1_000_000)
        assert fetched.value is not None
        assert fetched.value.size == entry.size == len(fetched.value.content)
        assert (await github.fetch_file(entry.download_url, limit=10, etag=fetched.etag)).not_modified
        assert sandbox.stats()["github"].get("charged", 0) == 0

    async def test_renamed_repository_reports_its_new_name(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        github = self.client(sandbox_http, sandbox_settings)
        repo = self.repo_with(sandbox, "changelog", renamed=True)
        old = RepoRef.parse(repo.alias)
        fetched = await github.repo(old)
        assert fetched.value is not None
        assert fetched.value.ref.full_name == repo.full_name
        assert fetched.value.moved_from == old
        github.renamed.clear()
        await github.list_dir(old)
        assert github.renamed == {old.key: repo.full_name}

    @pytest.mark.parametrize(
        ("outcome", "error"),
        [
            pytest.param("gone", Gone, id="gone"),
            pytest.param("blocked", Gone, id="blocked-451"),
            pytest.param("empty", Empty, id="empty"),
        ],
    )
    async def test_root_listing_outcomes(
        self,
        sandbox: Any,
        sandbox_http: httpx.AsyncClient,
        sandbox_settings: Any,
        outcome: str,
        error: type[Exception],
    ) -> None:
        repo = self.repo_with(sandbox, outcome)
        with pytest.raises(error):
            await self.client(sandbox_http, sandbox_settings).list_dir(RepoRef.parse(repo.full_name))

    async def test_releases_match_the_world(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        repo = max(_world_repos(sandbox), key=lambda r: len(sandbox.world.releases(r)) if r.outcome != "gone" else 0)
        fetched = await self.client(sandbox_http, sandbox_settings).releases(RepoRef.parse(repo.full_name), max_pages=5)
        assert fetched.value
        # Authorised requests see drafts too, as on GitHub.
        assert {r.tag_name for r in fetched.value} == {r.tag for r in sandbox.world.releases(repo)}

    async def test_no_request_is_sent_past_the_budget(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        github = self.client(sandbox_http, sandbox_settings, gate=BudgetGate(reserve_share=0, max_wait_s=5))
        refs = [RepoRef.parse(r.full_name) for r in _world_repos(sandbox) if r.outcome == "changelog"][:8]
        sandbox.set_budget(4, reset_in_s=600)
        sandbox.reset_stats()
        outcomes = await asyncio.gather(*(github.list_dir(ref) for ref in refs), return_exceptions=True)
        assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 4
        assert all(isinstance(o, RateLimited) for o in outcomes if isinstance(o, BaseException))
        assert sandbox.stats()["github"].get("over_budget", 0) == 0

    async def test_secondary_limit_is_rate_limited_for_retry_after(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        sandbox.set_faults("github", rate_limit_rate=1.0, retry_after_s=7)
        sandbox.reset_stats()
        before = utcnow()
        github = self.client(sandbox_http, sandbox_settings, gate=BudgetGate(max_wait_s=3))
        with pytest.raises(RateLimited) as caught:
            await github.repo(RepoRef.parse(_world_repos(sandbox)[0].full_name))
        assert before + dt.timedelta(seconds=6) <= caught.value.reset_at <= utcnow() + dt.timedelta(seconds=8)
        # Waiting 7 s is longer than this gate may: it gives up without asking again.
        assert sandbox.stats()["github"]["requests"] == 1

    async def test_server_errors_are_ridden_out_or_unavailable(
        self, sandbox: Any, sandbox_http: httpx.AsyncClient, sandbox_settings: Any
    ) -> None:
        ref = RepoRef.parse(self.repo_with(sandbox, "changelog").full_name)
        sandbox.set_faults("github", error_rate=0.4)
        patient = self.client(sandbox_http, sandbox_settings, retry=RetryPolicy(attempts=10, initial_s=0, max_s=0))
        for _ in range(8):
            assert (await patient.list_dir(ref)).value
        sandbox.set_faults("github", error_rate=1.0)
        with pytest.raises(Unavailable):
            await self.client(sandbox_http, sandbox_settings, retry=FAST_RETRY).list_dir(ref)

    async def test_stalled_answers_time_out_as_unavailable(self, sandbox: Any, sandbox_settings: Any) -> None:
        ref = RepoRef.parse(self.repo_with(sandbox, "changelog").full_name)
        sandbox.set_faults("github", stall_rate=1.0, stall_s=2.0)
        async with open_http(sandbox_settings.model_copy(update={"http_timeout_s": 0.3})) as http:
            github = self.client(http, sandbox_settings, retry=FAST_RETRY)
            with pytest.raises(Unavailable):
                await github.repo(ref)
        assert github.counts.requests["repo"] == FAST_RETRY.attempts
