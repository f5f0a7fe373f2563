"""The pages: homepage counts, repository pages (anchors, packages, source, upgrade picker), Atom, pending, CSP."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import httpx
import pytest

from core.models import PackageRecord
from core.store import open_records
from tests.api.conftest import ApiServer

ATOM = "{http://www.w3.org/2005/Atom}"


class _Scripts(HTMLParser):
    """What could run: every <script> (with its attributes and any inline code), every on* attribute, every URL
    attribute with the javascript: scheme, and every frame or plugin element."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self.js_urls: list[str] = []
        self.frames: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.js_urls += [
            value
            for name, value in attrs
            if name in {"href", "src", "action", "formaction", "xlink:href"}
            and (value or "").strip().lower().startswith("javascript:")
        ]
        if tag in {"iframe", "frame", "object", "embed"}:
            self.frames.append(tag)
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def _scripts(html: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(html)
    return parser


def _assert_inert(html: str) -> None:
    found = _scripts(html)
    assert all((s.get("src") or "").startswith("/static/") for s in found.scripts)
    assert (found.inline, found.handlers, found.js_urls, found.frames) == ([], [], [], [])


async def test_the_homepage_counts_repositories_packages_and_versions(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    counts = dict(re.findall(r"<dt>(\w+)</dt><dd>([\d,]+)</dd>", response.text))
    assert counts == {"repositories": "4", "packages": "6", "versions": "14"}


@pytest.mark.parametrize("path", ["/", "/github/encode/httpx", "/github/nobody/nothing", "/github/evil/xss"])
async def test_pages_run_only_self_hosted_scripts_under_a_strict_csp(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "object-src 'none'" in csp
    found = _scripts(response.text)
    assert found.scripts and all((s.get("src") or "").startswith("/static/") for s in found.scripts)
    assert found.inline == [] and found.handlers == []


async def test_the_socket_io_client_is_served_from_this_origin(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/vendor/socket.io.min.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]


async def test_a_repository_page_has_every_version_with_anchor_packages_source_and_feed(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/github/encode/httpx")).text
    assert re.findall(r'<section class="version" id="([^"]+)"', html) == ["v0.28.1", "v0.28.0", "v0.27.2", "v0.27.0"]
    assert '<time datetime="2024-12-06">' in html
    assert 'href="https://pypi.org/project/httpx/"' in html
    assert 'href="https://github.com/encode/httpx/blob/HEAD/CHANGELOG.md"' in html
    assert 'type="application/atom+xml"' in html and "/github/encode/httpx.atom" in html
    assert re.findall(r'<option value="([^"]+)"', html) == ["0.28.1", "0.28.0", "0.27.2", "0.27.0"] * 2


async def test_the_upgrade_picker_without_javascript_shows_the_combined_notes(client: httpx.AsyncClient) -> None:
    html = (await client.get("/github/encode/httpx", params={"from": "0.27.0", "to": "0.28.1"})).text
    assert re.findall(r'class="version upgrade-version" data-version="([^"]+)"', html) == ["0.28.1", "0.28.0", "0.27.2"]


async def test_the_atom_feed_has_one_entry_per_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/github/encode/httpx.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        f"encode/httpx {v}" for v in ("0.28.1", "0.28.0", "0.27.2", "0.27.0")
    ]
    assert entries[0].findtext(f"{ATOM}updated") == "2024-12-06T00:00:00Z"
    assert "<li>" in (entries[0].findtext(f"{ATOM}content") or "")


async def test_changelog_payloads_are_never_rendered_as_markup(client: httpx.AsyncClient) -> None:
    page = (await client.get("/github/evil/xss")).text
    assert "window.__xss" in page  # the payloads are there, as text
    _assert_inert(page)
    _assert_inert((await client.get("/github/evil/xss", params={"from": "1.0.0", "to": "2.0.0"})).text)
    feed = ET.fromstring((await client.get("/github/evil/xss.atom")).content)
    for entry in feed.findall(f"{ATOM}entry"):
        _assert_inert(entry.findtext(f"{ATOM}content") or "")
    for version in (await client.get("/api/github/evil/xss")).json()["contents"]:
        _assert_inert(version["html"])


async def test_a_repository_never_crawled_gets_the_pending_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/github/rack/rack-attack", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert 'id="pending" data-repo="rack/rack-attack"' in response.text


async def test_a_name_github_could_not_have_gets_an_error_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/github/-x/y", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "not a GitHub repository name" in response.text


async def test_a_repository_page_lists_packages_discovered_after_its_crawl(
    api: ApiServer, client: httpx.AsyncClient
) -> None:
    records = open_records(api.settings)
    try:
        await records.put_package(PackageRecord(registry="rubygems", name="httpx-rb", repo="encode/httpx"))
    finally:
        await records.aclose()
    html = (await client.get("/github/encode/httpx")).text
    assert 'href="https://pypi.org/project/httpx/"' in html
    assert 'href="https://rubygems.org/gems/httpx-rb"' in html
