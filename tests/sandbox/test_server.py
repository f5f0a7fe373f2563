"""``Sandbox``: every fake on real loopback sockets (uvicorn in a thread), driven through its control API."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from sandbox import Sandbox
from sandbox.server import APPS, bind
from tests.sandbox.conftest import NOW


@pytest.fixture(scope="module")
def running() -> Iterator[Sandbox]:
    with Sandbox(seed=3, packages=120, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running: Sandbox) -> Iterator[Sandbox]:
    yield running
    running.set_faults("all", clear=True)
    running.set_budget(5000)
    running.reset_stats()


def test_env_points_at_each_fake(sandbox: Sandbox) -> None:
    env = sandbox.env
    assert env["CHANGELOGS_NPM_REPLICATE_URL"].endswith("/registry")
    assert env["SANDBOX_CONTROL_URL"] == f"{env['CHANGELOGS_GITHUB_API_URL']}/_sandbox"
    assert set(sandbox.urls) == set(APPS)
    info = httpx.get(env["CHANGELOGS_NPM_REPLICATE_URL"]).json()
    assert info["update_seq"] == sandbox.world.npm_update_seq()


def test_published_release_is_visible_over_http(sandbox: Sandbox) -> None:
    head = sandbox.world.npm_update_seq()
    release = sandbox.publish("npm")
    page = httpx.get(f"{sandbox.env['CHANGELOGS_NPM_REPLICATE_URL']}/_changes", params={"since": head}).json()
    assert [row["id"] for row in page["results"]] == [release["package"]]
    encoded = release["package"].replace("/", "%2F")
    latest = httpx.get(f"{sandbox.env['CHANGELOGS_NPM_REGISTRY_URL']}/{encoded}/latest").json()
    assert latest["version"] == release["version"]


def test_stats_and_reset_count_real_requests(sandbox: Sandbox) -> None:
    for _ in range(3):
        httpx.get(f"{sandbox.env['CHANGELOGS_GITHUB_API_URL']}/rate_limit", headers={"User-Agent": "t"})
    assert sandbox.stats()["github"]["requests"] == 3
    sandbox.reset_stats()
    assert sandbox.stats()["github"]["requests"] == 0


def test_truncated_body_drops_the_connection_mid_body(sandbox: Sandbox) -> None:
    sandbox.set_faults("npm", truncate_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{sandbox.env['CHANGELOGS_NPM_REPLICATE_URL']}/_changes", params={"since": 0, "limit": 100})
    assert sandbox.stats()["npm"]["faults"] == {"truncated": 1}


def test_stalled_request_outlasts_a_client_timeout(sandbox: Sandbox) -> None:
    sandbox.set_faults("rubygems", stall_rate=1.0, stall_s=1.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{sandbox.env['CHANGELOGS_RUBYGEMS_URL']}/api/v1/activity/latest.json", timeout=0.3)
    assert sandbox.stats()["rubygems"]["faults"] == {"stall": 1}


def test_spent_budget_is_reported_as_over_budget(sandbox: Sandbox) -> None:
    sandbox.set_budget(1, reset_in_s=120)
    api = sandbox.env["CHANGELOGS_GITHUB_API_URL"]
    headers = {"User-Agent": "t", "Authorization": "Bearer tok"}
    statuses = [httpx.get(f"{api}/repos/a/b", headers=headers).status_code for _ in range(3)]
    assert statuses[0] == 404 and sorted(statuses[1:]) == [403, 429]
    stats = sandbox.stats()["github"]
    assert stats["over_budget"] == 2 and stats["charged"] == 1


def test_bind_takes_consecutive_ports_from_the_base() -> None:
    for _ in range(20):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
        probe.close()
        if base + len(APPS) > 65535:
            continue
        try:
            sockets = bind("127.0.0.1", base)
        except OSError:
            continue  # a neighbour port was taken: try another base
        try:
            assert [sockets[name].getsockname()[1] for name in APPS] == list(range(base, base + len(APPS)))
        finally:
            for sock in sockets.values():
                sock.close()
        return
    pytest.fail("found no five consecutive free ports")
