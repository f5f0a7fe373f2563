"""Repository resolution over real-world forms, from the recorded registry samples and well-known packages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.models import RepoRef
from core.repourl import MISSING, Resolution, pick, resolve

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "registries"


def github(full_name: str, directory: str | None = None) -> Resolution:
    return Resolution(host="github", repo=RepoRef.parse(full_name), directory=directory)


def other(host: str, project: str) -> Resolution:
    return Resolution(host=host, reason="other-host", project=project)  # type: ignore[arg-type]


def failed(reason: str, host: str | None = None) -> Resolution:
    return Resolution(host=host, reason=reason)  # type: ignore[arg-type]


FORMS = [
    # --- npm: recorded packuments and _changes documents (corpus/registries/npm) ---
    pytest.param("git+https://github.com/ostera/2112.git", github("ostera/2112"), id="npm-2112-git+https"),
    pytest.param("https://github.com/reissbaker/0flux.git", github("reissbaker/0flux"), id="npm-0flux-https.git"),
    pytest.param("git://github.com/kesla/etag.git", github("kesla/etag"), id="npm-etag-git-protocol"),
    pytest.param("https://github.com/jshttp/etag", github("jshttp/etag"), id="npm-etag-https"),
    pytest.param(
        "git+https://github.com/sindresorhus/is-stream.git", github("sindresorhus/is-stream"), id="npm-is-stream"
    ),
    pytest.param("https://github.com/ostera/2112#readme", github("ostera/2112"), id="npm-homepage-readme-fragment"),
    pytest.param(
        "git://github.com/jprichardson/npm-research.git", github("jprichardson/npm-research"), id="npm-changes-git"
    ),
    pytest.param("https://www.github.com/RetainD", failed("user-page", "github"), id="npm-homepage-user-page-www"),
    pytest.param(
        "git://github.com/RetainD/js-client.git", github("RetainD/js-client"), id="npm-changes-renamed-project"
    ),
    pytest.param(
        {"type": "git", "url": "git+https://github.com/fredybawa/npm-restflow.git"},
        github("fredybawa/npm-restflow"),
        id="npm-repository-object",
    ),
    pytest.param(
        [{"type": "git", "url": "https://github.com/reissbaker/0flux.git"}],
        github("reissbaker/0flux"),
        id="npm-repository-array-legacy",
    ),
    pytest.param([""], MISSING, id="npm-homepage-array-of-empty-string"),
    # --- npm: monorepo objects with a directory (npm RFC 0010) ---
    pytest.param(
        {"type": "git", "url": "https://github.com/babel/babel.git", "directory": "packages/babel-core"},
        github("babel/babel", "packages/babel-core"),
        id="npm-directory-babel",
    ),
    pytest.param(
        {"type": "git", "url": "git+https://github.com/facebook/react.git", "directory": "packages/react"},
        github("facebook/react", "packages/react"),
        id="npm-directory-react",
    ),
    pytest.param(
        {"type": "git", "url": "https://github.com/DefinitelyTyped/DefinitelyTyped.git", "directory": "types/node"},
        github("DefinitelyTyped/DefinitelyTyped", "types/node"),
        id="npm-directory-definitelytyped",
    ),
    pytest.param(
        {"type": "git", "url": "https://github.com/angular/angular.git", "directory": "./packages/core/"},
        github("angular/angular", "packages/core"),
        id="npm-directory-dot-slash-and-trailing-slash",
    ),
    pytest.param(
        {"type": "git", "url": "https://github.com/vercel/next.js", "directory": "../outside"},
        github("vercel/next.js"),
        id="npm-directory-escaping-repo-ignored",
    ),
    pytest.param(
        {"type": "git", "url": "https://github.com/a/b/tree/main/old", "directory": "packages/new"},
        github("a/b", "packages/new"),
        id="npm-directory-field-wins-over-tree-path",
    ),
    pytest.param({"type": "git"}, MISSING, id="npm-object-without-url"),
    pytest.param({"type": "svn", "url": "https://svn.apache.org/repos/asf/x"}, failed("unknown-host"), id="svn"),
    pytest.param(
        [{"type": "git", "url": "https://gitlab.com/a/b.git"}, {"type": "git", "url": "git://github.com/c/d.git"}],
        github("c/d"),
        id="npm-array-github-wins-over-gitlab",
    ),
    # --- npm shorthands (hosted-git-info) ---
    pytest.param("sindresorhus/got", github("sindresorhus/got"), id="shorthand"),
    pytest.param("expressjs/express#4.x", github("expressjs/express"), id="shorthand-branch"),
    pytest.param("npm/cli#semver:^8.0.0", github("npm/cli"), id="shorthand-semver-committish-with-colon"),
    pytest.param("github:sindresorhus/got", github("sindresorhus/got"), id="github-shortcut"),
    pytest.param("github:visionmedia/debug#4.3.4", github("visionmedia/debug"), id="github-shortcut-tag"),
    pytest.param("gitlab:gitlab-org/gitlab-ui", other("gitlab", "gitlab-org/gitlab-ui"), id="gitlab-shortcut"),
    pytest.param("bitbucket:atlassian/atlaskit", other("bitbucket", "atlassian/atlaskit"), id="bitbucket-shortcut"),
    pytest.param("gist:11081aaa281", failed("gist", "github"), id="gist-shortcut"),
    pytest.param("@babel/core", failed("not-a-url"), id="scoped-npm-name-is-not-shorthand"),
    pytest.param("./packages/local", failed("not-a-url"), id="relative-path-is-not-shorthand"),
    pytest.param("file:../packages/foo", failed("not-a-url"), id="file-url"),
    # --- ssh and scp forms ---
    pytest.param("git+ssh://git@github.com/npm/cli.git", github("npm/cli"), id="git+ssh"),
    pytest.param("git@github.com:lodash/lodash.git", github("lodash/lodash"), id="scp"),
    pytest.param("git@github.com:lodash/lodash", github("lodash/lodash"), id="scp-without-.git"),
    pytest.param("ssh://git@github.com/nodejs/node-gyp.git", github("nodejs/node-gyp"), id="ssh-url"),
    pytest.param(
        "git+ssh://git@github.com:jonschlinkert/is-number.git", github("jonschlinkert/is-number"), id="scp-in-url"
    ),
    pytest.param("ssh://git@github.com:22/npm/cli.git", github("npm/cli"), id="ssh-with-port"),
    pytest.param("git://github.com/isaacs/node-glob.git", github("isaacs/node-glob"), id="git-protocol"),
    # --- PyPI: recorded JSON API samples (corpus/registries/pypi) and common metadata ---
    pytest.param("http://github.com/kalilab/hippounit", github("kalilab/hippounit"), id="pypi-hippounit-http"),
    pytest.param("https://github.com/spotify/luigi", github("spotify/luigi"), id="pypi-luigi-home-page"),
    pytest.param(
        "http://www.alcyone.com/software/cage/cage-latest.tar.gz", failed("unknown-host"), id="pypi-cage-download"
    ),
    pytest.param("UNKNOWN", MISSING, id="pypi-UNKNOWN-placeholder"),
    pytest.param("https://github.com/pallets/flask/", github("pallets/flask"), id="trailing-slash"),
    pytest.param("https://github.com/psf/requests.git", github("psf/requests"), id="https-.git"),
    pytest.param("https://github.com/psf/requests.git/", github("psf/requests"), id="https-.git-trailing-slash"),
    pytest.param("HTTPS://GITHUB.COM/Pallets/Click", github("Pallets/Click"), id="upper-case-keeps-name-case"),
    pytest.param("https://github.com/tiangolo/fastapi#readme", github("tiangolo/fastapi"), id="readme-fragment"),
    pytest.param("https://github.com/encode/httpx?tab=readme-ov-file", github("encode/httpx"), id="query-string"),
    pytest.param("  https://github.com/pydantic/pydantic\n", github("pydantic/pydantic"), id="whitespace"),
    pytest.param("github.com/kennethreitz/records", github("kennethreitz/records"), id="no-scheme"),
    pytest.param("www.github.com/kennethreitz/maya", github("kennethreitz/maya"), id="no-scheme-www"),
    pytest.param("https://github.com:443/psf/black", github("psf/black"), id="explicit-port"),
    pytest.param("https://pypi.org/project/requests/", failed("unknown-host"), id="pypi-page"),
    pytest.param("https://requests.readthedocs.io", failed("unknown-host"), id="readthedocs"),
    pytest.param("https://docs.github.com/en/rest", failed("unknown-host"), id="docs-github-com"),
    pytest.param(
        "https://raw.githubusercontent.com/o/r/main/CHANGELOG.md", failed("unknown-host"), id="raw-githubusercontent"
    ),
    pytest.param(
        "https://github.com/pypa/pip/archive/refs/tags/24.0.tar.gz",
        failed("not-a-repository", "github"),
        id="archive-link-rejected-unless-pages",
    ),
    # --- RubyGems: recorded payloads (corpus/registries/rubygems) ---
    pytest.param(
        "https://github.com/rails/rails/tree/v5.2.2/activerecord",
        github("rails/rails", "activerecord"),
        id="rubygems-activerecord-tree-dir",
    ),
    pytest.param(
        "https://github.com/rails/rails/blob/v5.2.2/activerecord/CHANGELOG.md",
        github("rails/rails", "activerecord"),
        id="rubygems-activerecord-blob-parent-dir",
    ),
    pytest.param("https://github.com/rails/rails/tree/v8.0.2", github("rails/rails"), id="rubygems-rails-tree-ref"),
    pytest.param(
        "https://github.com/rails/rails/releases/tag/v8.0.2",
        failed("not-a-repository", "github"),
        id="releases-page-rejected-like-hosted-git-info",
    ),
    pytest.param("http://rubyonrails.org", failed("unknown-host"), id="rubygems-rails-homepage"),
    pytest.param("https://api.rubyonrails.org/v8.0.2/", failed("unknown-host"), id="rubygems-documentation-uri"),
    # --- tree and blob paths (monorepos) ---
    pytest.param(
        "https://www.github.com/angular/angular/tree/main/packages/core",
        github("angular/angular", "packages/core"),
        id="www-tree-dir",
    ),
    pytest.param(
        "https://github.com/yarnpkg/berry/tree/master/packages/plugin-npm",
        github("yarnpkg/berry", "packages/plugin-npm"),
        id="tree-dir-yarn",
    ),
    pytest.param(
        "https://github.com/aws/aws-sdk-js-v3/tree/main/clients/client-s3",
        github("aws/aws-sdk-js-v3", "clients/client-s3"),
        id="tree-dir-aws-sdk",
    ),
    pytest.param(
        "https://github.com/Azure/azure-sdk-for-python/tree/main/sdk/storage/azure-storage-blob",
        github("Azure/azure-sdk-for-python", "sdk/storage/azure-storage-blob"),
        id="tree-dir-deep",
    ),
    pytest.param(
        "https://github.com/jestjs/jest/tree/main/packages/jest-cli/",
        github("jestjs/jest", "packages/jest-cli"),
        id="tree-dir-trailing-slash",
    ),
    pytest.param(
        "https://github.com/vuejs/core/tree/main/packages/vue#readme",
        github("vuejs/core", "packages/vue"),
        id="tree-dir-with-readme-fragment",
    ),
    pytest.param("https://github.com/apache/arrow/tree/main/python", github("apache/arrow", "python"), id="tree-py"),
    pytest.param("https://github.com/o/r/tree/main/", github("o/r"), id="tree-ref-without-dir"),
    pytest.param(
        "https://github.com/microsoft/TypeScript/blob/main/README.md",
        github("microsoft/TypeScript"),
        id="blob-root-file",
    ),
    pytest.param("https://github.com/o/r/tree/main/my%20pkg", github("o/r", "my pkg"), id="tree-dir-percent-decoded"),
    # --- credentials in the URL ---
    pytest.param("https://user:token@github.com/private/repo.git", github("private/repo"), id="user-pass"),
    pytest.param("git+https://isaacs@github.com/isaacs/rimraf.git", github("isaacs/rimraf"), id="user-only"),
    # --- other hosts: counted, not crawled ---
    pytest.param("https://gitlab.com/gitlab-org/gitlab", other("gitlab", "gitlab-org/gitlab"), id="gitlab"),
    pytest.param(
        "https://gitlab.com/gitlab-org/frontend/eslint-plugin",
        other("gitlab", "gitlab-org/frontend/eslint-plugin"),
        id="gitlab-subgroup",
    ),
    pytest.param(
        "https://gitlab.com/gitlab-org/gitlab-ui/-/tree/main/src",
        other("gitlab", "gitlab-org/gitlab-ui"),
        id="gitlab-tree",
    ),
    pytest.param("git+https://gitlab.com/inkscape/inkscape.git", other("gitlab", "inkscape/inkscape"), id="gitlab-git"),
    pytest.param("git@gitlab.com:fdroid/fdroidclient.git", other("gitlab", "fdroid/fdroidclient"), id="gitlab-scp"),
    pytest.param("https://gitlab.com/gitlab-org", failed("user-page", "gitlab"), id="gitlab-group-page"),
    pytest.param(
        "https://bitbucket.org/atlassian/atlaskit-mk-2", other("bitbucket", "atlassian/atlaskit-mk-2"), id="bitbucket"
    ),
    pytest.param(
        "git+ssh://git@bitbucket.org/birkenfeld/pygments-main.git",
        other("bitbucket", "birkenfeld/pygments-main"),
        id="bitbucket-ssh",
    ),
    pytest.param("https://codeberg.org/forgejo/forgejo", other("codeberg", "forgejo/forgejo"), id="codeberg"),
    # --- not a repository ---
    pytest.param(
        "https://github.com/pypa/pip/issues",
        failed("not-a-repository", "github"),
        id="issues-page-rejected-like-hosted-git-info",
    ),
    pytest.param("https://github.com/o/r/pulls", failed("not-a-repository", "github"), id="pulls-page-rejected"),
    pytest.param("https://github.com/o/r/wiki", failed("not-a-repository", "github"), id="wiki-page-rejected"),
    pytest.param("https://gist.github.com/isaacs/1234567", failed("gist", "github"), id="gist"),
    pytest.param("https://github.com/sindresorhus", failed("user-page", "github"), id="user-page"),
    pytest.param("https://github.com/python/", failed("user-page", "github"), id="org-page-trailing-slash"),
    pytest.param("https://github.com/orgs/python/repositories", failed("user-page", "github"), id="orgs-page"),
    pytest.param("https://github.com/sponsors/sindresorhus", failed("not-a-repository", "github"), id="sponsors-page"),
    pytest.param(
        "https://github.com/marketplace/actions/checkout", failed("not-a-repository", "github"), id="marketplace"
    ),
    pytest.param("https://github.com/topics/python", failed("not-a-repository", "github"), id="topics"),
    pytest.param("https://github.com/features/actions", failed("not-a-repository", "github"), id="features"),
    pytest.param("https://github.com", failed("not-a-repository", "github"), id="github-root"),
    pytest.param("https://facebook.github.io/react/", failed("github-pages", "github"), id="github-pages"),
    pytest.param("https://pallets.github.io", failed("github-pages", "github"), id="github-pages-root"),
    pytest.param("https://reactjs.org/", failed("unknown-host"), id="project-homepage"),
    pytest.param("https://github.com/o/.git", failed("not-a-repository", "github"), id="empty-name"),
    pytest.param("https://github.com/-bad-/repo", failed("not-a-repository", "github"), id="invalid-owner"),
    pytest.param("see https://github.com/x/y", failed("not-a-url"), id="prose"),
    pytest.param("mailto:someone@example.com", failed("not-a-url"), id="mailto"),
    pytest.param("", MISSING, id="empty"),
    pytest.param("   ", MISSING, id="blank"),
    pytest.param(None, MISSING, id="none"),
    pytest.param("None", MISSING, id="none-string"),
    pytest.param("n/a", MISSING, id="n/a-placeholder-not-shorthand"),
    pytest.param(42, MISSING, id="not-a-string"),
]


@pytest.mark.parametrize(("value", "expected"), FORMS)
def test_resolve_real_world_form(value: object, expected: Resolution) -> None:
    assert resolve(value) == expected


def test_table_holds_at_least_80_forms() -> None:
    assert len(FORMS) >= 80


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("https://github.com/ostera/2112/issues", github("ostera/2112"), id="npm-bugs-url"),
        pytest.param("http://github.com/RetainD/js-client/issues", github("RetainD/js-client"), id="npm-bugs-url-http"),
        pytest.param("https://github.com/rails/rails/releases/tag/v8.0.2", github("rails/rails"), id="release-tag"),
        pytest.param(
            "https://github.com/pypa/pip/archive/refs/tags/24.0.tar.gz", github("pypa/pip"), id="download-archive"
        ),
        pytest.param("https://github.com/o/r/releases/download/v1.0/pkg.tar.gz", github("o/r"), id="release-download"),
        pytest.param("https://github.com/o/r/wiki/Home", github("o/r"), id="wiki"),
        pytest.param("https://github.com/sponsors/x", failed("not-a-repository", "github"), id="sponsors-still-not"),
        pytest.param("https://github.com/o/r/settings", failed("not-a-repository", "github"), id="unknown-sub-page"),
    ],
)
def test_resolve_accepts_repository_pages_when_asked(value: str, expected: Resolution) -> None:
    assert resolve(value, pages=True) == expected


def test_pick_prefers_github_then_other_host_then_first_failure() -> None:
    assert pick([MISSING, failed("unknown-host"), other("gitlab", "a/b"), github("c/d")]) == github("c/d")
    assert pick([MISSING, failed("unknown-host"), other("gitlab", "a/b")]) == other("gitlab", "a/b")
    assert pick([MISSING, failed("unknown-host"), failed("user-page", "github")]) == failed("unknown-host")
    assert pick([MISSING, MISSING]) == MISSING
    assert pick([]) == MISSING


def test_pick_stops_at_the_first_github_repository() -> None:
    seen: list[str] = []

    def candidates():  # type: ignore[no-untyped-def]
        for value in ["https://example.com", "o/r", "p/q"]:
            seen.append(value)
            yield resolve(value)

    assert pick(candidates()) == github("o/r")
    assert seen == ["https://example.com", "o/r"]


def test_resolution_ok_only_for_github_repositories() -> None:
    assert github("o/r").ok
    assert not other("gitlab", "a/b").ok
    assert not MISSING.ok


def _recorded_npm_documents() -> list[dict[str, object]]:
    documents: list[dict[str, object]] = []
    for path in sorted((CORPUS / "npm").glob("packument_*.json")):
        packument = json.loads(path.read_text())
        documents.extend(packument["versions"].values())
    changes = json.loads((CORPUS / "npm" / "changes_include_docs.json").read_text())
    documents.extend(row["doc"] for row in changes["results"])
    return documents


def test_every_recorded_npm_repository_field_resolves_or_is_missing() -> None:
    documents = _recorded_npm_documents()
    outcomes = [resolve(document.get("repository")) for document in documents]
    assert len(documents) > 30
    assert all(outcome.ok or outcome == MISSING for outcome in outcomes)
    assert sum(outcome.ok for outcome in outcomes) == len(documents) - 3  # three documents have no repository
