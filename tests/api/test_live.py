"""The live feed: welcome, every crawl to every browser, catch-up after a reconnect, websocket transport only."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.conftest import ApiServer, SocketClient, running


async def test_a_browser_is_welcomed_on_connect(api: ApiServer) -> None:
    async with SocketClient(api.url) as browser:
        welcome = await browser.next_event("welcome")
    assert "last_id" in welcome


async def test_every_connected_browser_gets_each_crawl_with_the_seed_fields_and_an_id(api: ApiServer) -> None:
    async with SocketClient(api.url) as one, SocketClient(api.url) as two:
        await asyncio.gather(one.next_event("welcome"), two.next_event("welcome"))
        published = await api.publish("encode/httpx", "0.28.2")
        got = await asyncio.gather(one.next_event("crawled_repo"), two.next_event("crawled_repo"))
    for event in got:
        assert {"changelog", "crawledAt", "href", "repo", "changelogUrl", "version", "id"} <= set(event)
        assert event["id"] == published.id
        assert event["changelog"] == "encode/httpx"
        assert event["version"] == "0.28.2"


async def test_a_reconnecting_browser_catches_up_on_what_it_missed(api: ApiServer) -> None:
    seen = await api.publish("a/seen")
    missed = [await api.publish(f"a/missed-{i}") for i in range(3)]
    async with SocketClient(api.url) as browser:
        await browser.next_event("welcome")
        await browser.emit("catch_up", {"after": seen.id})
        got = [await browser.next_event("crawled_repo") for _ in missed]
    assert [e["id"] for e in got] == [e.id for e in missed]


async def test_a_malformed_catch_up_is_ignored(api: ApiServer) -> None:
    async with SocketClient(api.url) as browser:
        await browser.next_event("welcome")
        for bad in (None, "x", {"after": "not-an-id"}, {"after": "1" * 100}, ["0-0"]):
            await browser.emit("catch_up", bad)
        published = await api.publish("a/after-garbage")
        event = await browser.next_event("crawled_repo")
    assert event["id"] == published.id


async def test_long_polling_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 400


async def test_browsers_on_every_api_server_get_each_crawl(api: ApiServer) -> None:
    async with running(api.settings) as second_url, SocketClient(api.url) as one, SocketClient(second_url) as two:
        await asyncio.gather(one.next_event("welcome"), two.next_event("welcome"))
        published = await api.publish("encode/httpx", "0.28.3")
        got = await asyncio.gather(one.next_event("crawled_repo"), two.next_event("crawled_repo"))
    assert [e["id"] for e in got] == [published.id, published.id]
