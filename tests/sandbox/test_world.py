"""The generated world: determinism, proportions, layouts, and publishing."""

from __future__ import annotations

import base64
import re
from pathlib import PurePosixPath

import httpx
import pytest

from sandbox import Mix, World, github
from sandbox.layout import build_tree
from sandbox.texts import SEE_RELEASES
from tests.sandbox.conftest import NOW

MANIFESTS = {"npm": "package.json", "pypi": "pyproject.toml", "rubygems": ".gemspec"}


def test_same_seed_gives_the_same_world() -> None:
    first, second = World(seed=5, packages=400, now=NOW), World(seed=5, packages=400, now=NOW)
    assert first.summary() == second.summary()
    for index in range(0, 400, 7):
        assert first.package(index) == second.package(index)
        key = first.package(index).repo_key
        if key is not None:
            files = build_tree(first, first.repo(key)).files
            assert {p: b.sha for p, b in files.items()} == {
                p: b.sha for p, b in build_tree(second, second.repo(key)).files.items()
            }


def test_different_seeds_give_different_worlds() -> None:
    first, second = World(seed=5, packages=200, now=NOW), World(seed=6, packages=200, now=NOW)
    assert [first.package(i).name for i in range(200)] != [second.package(i).name for i in range(200)]


def test_proportions_follow_the_mix() -> None:
    world = World(seed=2, packages=6000, now=NOW)
    counts = world.summary()["counts"]
    mix = world.mix
    share = {r: n / 6000 for r, n in counts["by_registry"].items()}
    assert all(abs(share[r] - mix.registries[r]) < 0.03 for r in share), share
    without = sum(counts["packages_without_github_repo"].values()) / 6000
    assert abs(without - mix.no_repo) < 0.02
    repos = counts["repos"]
    single = sum(repos[o] for o in ("releases-only", "no-changelog", "gone", "blocked", "empty"))
    assert abs(repos["gone"] / single - 0.07 / 0.5) < 0.04
    assert repos["renamed"] > 0 and repos["changelog"] > repos["releases-only"] > repos["blocked"]


def test_mix_is_configurable() -> None:
    mix = Mix(no_repo=0.0, monorepo=0.0, renamed=0.0, outcomes={"changelog": 1.0}, authored=1.0)
    summary = World(seed=2, packages=200, mix=mix, specials=False, now=NOW).summary()
    assert summary["counts"]["repos"]["changelog"] == 200
    assert {entry["source"] for entry in summary["repos"]["changelog"]} == {"authored"}
    assert summary["counts"]["packages_with_github_repo"] == 200


def test_repositories_have_realistic_layouts(world: World) -> None:
    summary = world.summary()
    for entry in summary["repos"]["changelog"] + summary["repos"]["no-changelog"]:
        found = world.lookup_repo(entry["repo"])
        assert found is not None
        repo, _ = found
        tree = build_tree(world, repo)
        root = [PurePosixPath(path).name for path, _ in tree.children("")]
        assert any(name.startswith("README") for name in root) and any(name.startswith("LICENSE") for name in root)
        registry = world.package(repo.members[0]).registry
        assert any(name.endswith(MANIFESTS[registry]) for name in root)
        assert ".github" in root
        if "path" in entry:
            assert entry["path"] in tree.files
        for decoy in entry.get("decoys", []):
            assert decoy in tree.files or decoy in tree.dirs


def test_releases_only_repositories_may_keep_a_40_byte_pointer() -> None:
    pointers = [
        e
        for e in World(seed=3, packages=3000, now=NOW).summary()["repos"]["releases-only"]
        if e.get("decoys") == ["CHANGELOG.md"]
    ]
    assert pointers and len(SEE_RELEASES.encode()) == 40


def test_changelog_names_fit_their_format() -> None:
    big = World(seed=4, packages=3000, now=NOW)
    names = {"markdown": set(), "rst": set(), "text": set()}  # type: dict[str, set[str]]
    for entry in big.summary()["repos"]["changelog"]:
        names[entry["format"]].add(entry["path"])
    assert all(p.endswith(".md") for p in names["markdown"])
    assert all(p.endswith(".rst") for p in names["rst"])
    assert not any(p.endswith((".md", ".rst")) for p in names["text"])
    assert {"docs/changelog.rst", "doc/en/changelog.rst"} & names["rst"]
    assert {"History.md", "HISTORY.md", "CHANGES.md"} & names["markdown"] and "CHANGELOG.md" in names["markdown"]
    assert any(p.startswith("packages/") for p in names["markdown"])


def test_corpus_changelogs_are_served_byte_for_byte(world: World) -> None:
    entry = next(e for e in world.summary()["repos"]["changelog"] if e["source"].startswith("corpus:"))
    repo, _ = world.lookup_repo(entry["repo"])  # type: ignore[misc]
    case = next(c for c in world.cases if c.slug == entry["source"].removeprefix("corpus:"))
    assert build_tree(world, repo).files[entry["path"]].data == case.file.read_bytes()


def test_special_changelogs_are_huge_binary_and_hostile(world: World) -> None:
    special = world.summary()["special"]
    files = {kind: build_tree(world, world.lookup_repo(e["repo"])[0]).files[e["path"]] for kind, e in special.items()}  # type: ignore[index]
    assert files["huge"].size == 50 * 1024 * 1024
    assert b"\x00" in files["binary"].data
    assert b"<script>" in files["xss"].data and b"javascript:" in files["xss"].data


def _versions(changelog: str) -> list[str]:
    return [v for v in re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE) if v != "Unreleased"]


async def test_publish_prepends_to_an_authored_changelog_and_changes_its_etag(world: World) -> None:
    entry = next(e for e in world.summary()["repos"]["changelog"] if e["source"] == "authored" and not e["directory"])
    other = next(e for e in world.summary()["repos"]["changelog"] if e["source"].startswith("corpus:"))
    package = next(p for p in world.summary()["packages"]["github"] if p["repo"] == entry["repo"])
    transport = httpx.ASGITransport(app=github.create_app(world))
    async with httpx.AsyncClient(transport=transport, base_url="http://gh.test", headers={"User-Agent": "t"}) as client:
        url = f"/repos/{entry['repo']}/contents/{entry['path']}"
        before = await client.get(url)
        other_before = await client.get(f"/repos/{other['repo']}/contents/{other['path']}")
        release = world.publish(package["registry"], package["name"])
        after = await client.get(url)
        other_after = await client.get(f"/repos/{other['repo']}/contents/{other['path']}")
        not_modified = await client.get(url, headers={"If-None-Match": before.headers["etag"]})
    old, new = (_versions(base64.b64decode(r.json()["content"]).decode()) for r in (before, after))
    assert release["repo"] == entry["repo"]
    assert new == [release["version"], *old]
    assert after.headers["etag"] != before.headers["etag"] and not_modified.status_code == 200
    assert other_after.headers["etag"] == other_before.headers["etag"]


def test_publish_adds_a_github_release(world: World) -> None:
    entry = world.summary()["repos"]["releases-only"][0]
    package = next(p for p in world.summary()["packages"]["github"] if p["repo"] == entry["repo"])
    repo, _ = world.lookup_repo(entry["repo"])  # type: ignore[misc]
    before = [r.version for r in world.releases(repo) if not r.draft]
    release = world.publish(package["registry"], package["name"])
    after = [r.version for r in world.releases(world.repo(repo.key)) if not r.draft]
    assert after == [release["version"], *before]


def test_publish_without_arguments_rotates_registries_and_creates_packages(world: World) -> None:
    releases = [world.publish() for _ in range(30)]
    assert [r["registry"] for r in releases[:3]] == ["npm", "pypi", "rubygems"]
    created = [r for r in releases if r["version"] == "0.1.0"]
    assert created and world.package_count == 300 + len(created)
    for release in releases:
        package = world.find_package(release["registry"], release["package"])
        assert package is not None and release["version"] in package.versions


def test_publish_of_a_named_new_package_creates_it(world: World) -> None:
    release = world.publish("npm", "@sandbox/brand-new")
    assert release["package"] == "@sandbox/brand-new" and release["version"] == "0.1.0"
    assert world.find_package("npm", "@sandbox/brand-new").versions == ("0.1.0",)  # type: ignore[union-attr]


def test_publish_rejects_an_unknown_registry(world: World) -> None:
    with pytest.raises(ValueError, match="unknown registry"):
        world.publish("cargo")
