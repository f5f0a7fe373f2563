"""Repository URLs as people write them, resolved to a GitHub repository and an optional sub-directory.

The reference behaviour is npm's ``hosted-git-info`` (lib/index.js, lib/parse-url.js, lib/hosts.js): the
``owner/repo`` shorthand, ``github:``/``gitlab:``/``bitbucket:``/``gist:`` shortcuts, scp-style
``git@host:owner/repo``, ``git+ssh``/``git+https``/``git``/``ssh``/``http(s)`` URLs, a trailing ``.git``, and a
``#fragment`` that names a branch or an anchor, never a path. Where this module differs, on purpose:

- ``/tree/<ref>/<dir>`` and ``/blob/<ref>/<dir>/<file>`` give the directory (hosted-git-info keeps ``tree`` only
  and drops the path; monorepo packages need it).
- A scheme-less ``github.com/owner/repo`` is read as https (hosted-git-info fails on it; PyPI metadata has it).
- A repository's own pages (``/issues``, ``/pulls``, ``/wiki``, ``/releases``, ``/archive``...) are rejected
  like hosted-git-info does, unless the caller says the link is known to be one of those pages (``pages=True``:
  npm's ``bugs.url``, PyPI's ``download_url`` and "Issues" label), where they stand for the repository.

``resolve`` does no I/O and keeps no cache: the npm follower calls it once per change.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from core.models import RepoRef

Host = Literal["github", "gitlab", "bitbucket", "codeberg"]
Reason = Literal[
    "missing",  # no value, or a placeholder such as PyPI's "UNKNOWN"
    "not-a-url",  # text that is neither a URL nor a shorthand
    "unknown-host",  # a URL on a site that is not a code host (a homepage, docs)
    "other-host",  # a repository on GitLab, Bitbucket or Codeberg: counted, not crawled
    "github-pages",  # a *.github.io site
    "gist",  # a gist, not a repository
    "user-page",  # a user's or organisation's page
    "not-a-repository",  # another page of a code host
]

_DOMAINS: dict[str, Host] = {
    "github.com": "github",
    "gitlab.com": "gitlab",
    "bitbucket.org": "bitbucket",
    "codeberg.org": "codeberg",
}
_SHORTCUTS: dict[str, Host | Literal["gist"]] = {
    "github": "github",
    "gitlab": "gitlab",
    "bitbucket": "bitbucket",
    "codeberg": "codeberg",
    "gist": "gist",
}
_SCHEMES = frozenset({"http", "https", "git", "ssh", "git+ssh", "git+https", "git+http"})
_PLACEHOLDERS = frozenset({"unknown", "none", "null", "undefined", "n/a", "na", "-", "tbd", "todo"})

# First path segments of github.com that are GitHub's own pages, never user names.
_GITHUB_RESERVED = frozenset(
    {
        "about", "account", "apps", "codespaces", "collections", "contact", "customer-stories", "dashboard",
        "enterprise", "events", "explore", "features", "issues", "join", "login", "logout", "marketplace", "new",
        "notifications", "organizations", "pricing", "pulls", "readme", "search", "security", "settings", "site",
        "sponsors", "stars", "topics", "trending", "watching",
    }
)  # fmt: skip
_GITHUB_PROFILE_PREFIXES = frozenset({"orgs", "users"})
# Pages of a repository that stand for the repository when the link is known to be one (``pages=True``).
_REPO_PAGES = frozenset(
    {
        "issues", "pulls", "pull", "wiki", "releases", "tags", "discussions", "actions", "commits", "commit",
        "milestones", "labels", "projects", "security", "pulse", "graphs", "network", "compare", "branches",
        "activity", "packages", "deployments", "archive", "tarball", "zipball", "raw",
    }
)  # fmt: skip

# hosted-git-info's isGitHubShorthand: one slash, not first; no whitespace, ':' or '@' before a '#';
# not starting with '.' (a relative path) or '@' (a scoped npm name).
_SHORTHAND = re.compile(r"^(?![.@])([^\s/:@#]+)/([^\s/:@#]+)(?:#.*)?$", re.DOTALL)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a repository URL points.

    ``repo`` is set only for GitHub. ``host`` names the code host when one was recognised (so GitLab, Bitbucket
    and Codeberg repositories can be counted, with ``project`` their ``owner/name`` path). ``reason`` says why
    no GitHub repository came out of it.
    """

    host: Host | None = None
    repo: RepoRef | None = None
    directory: str | None = None
    reason: Reason | None = None
    project: str | None = None

    @property
    def ok(self) -> bool:
        """Whether this is a GitHub repository that can be crawled."""
        return self.repo is not None


@dataclass(frozen=True, slots=True)
class SourceLink:
    """What a registry's metadata says about a package's source: the repository and a changelog hint (a URL)."""

    resolution: Resolution
    hint: str | None = None

    @property
    def repo(self) -> RepoRef | None:
        return self.resolution.repo

    @property
    def directory(self) -> str | None:
        return self.resolution.directory


MISSING = Resolution(reason="missing")
_NOT_A_URL = Resolution(reason="not-a-url")
_NOT_A_REPOSITORY = Resolution(reason="not-a-repository")


def resolve(value: object, *, pages: bool = False) -> Resolution:
    """Resolve a repository as written in package metadata.

    ``value`` may be a string, npm's ``{"type", "url", "directory"}`` object, or a list of either (the first
    GitHub repository wins). ``pages=True`` accepts a repository's own pages (issues, wiki, releases...) as the
    repository: use it for links that are known to be such pages, such as npm's ``bugs.url``.
    """
    if isinstance(value, str):
        return _resolve_text(value, pages)
    if isinstance(value, Mapping):
        resolution = _resolve_text(value["url"], pages) if isinstance(value.get("url"), str) else MISSING
        directory = _clean_directory(value.get("directory"))
        if resolution.repo is not None and directory is not None:
            return Resolution(host=resolution.host, repo=resolution.repo, directory=directory)
        return resolution
    if isinstance(value, list | tuple):
        return pick(resolve(item, pages=pages) for item in value)
    return MISSING


def pick(resolutions: Iterable[Resolution]) -> Resolution:
    """The first GitHub repository; else the first repository on another host; else the first real failure.

    Consumes the iterable lazily, so a generator of ``resolve`` calls stops at the first GitHub repository.
    """
    other: Resolution | None = None
    failure: Resolution | None = None
    for resolution in resolutions:
        if resolution.repo is not None:
            return resolution
        if resolution.project is not None:
            other = other or resolution
        elif resolution.reason != "missing":
            failure = failure or resolution
    return other or failure or MISSING


def _resolve_text(value: str, pages: bool) -> Resolution:
    text = value.strip()
    if not text or text.lower() in _PLACEHOLDERS:
        return MISSING
    shorthand = _SHORTHAND.match(text)
    if shorthand:
        return _repository("github", [shorthand[1], shorthand[2]], pages)
    scheme_match = _SCHEME.match(text)
    scheme = scheme_match[1].lower() if scheme_match else ""
    if scheme in _SHORTCUTS:
        return _resolve_shortcut(_SHORTCUTS[scheme], text[len(scheme) + 1 :], pages)
    url = _as_url(text, scheme)
    return _NOT_A_URL if url is None else _resolve_url(url, pages)


def _as_url(text: str, scheme: str) -> str | None:
    """Give scp-style and scheme-less forms a scheme, as hosted-git-info's correctProtocol/correctUrl do."""
    if scheme in _SCHEMES:
        return text
    at = text.find("@")
    colon = text.find(":")
    if at > 0 and (colon == -1 or at < colon):
        # git@github.com:owner/repo.git (scp syntax) or git@github.com/owner/repo
        return "git+ssh://" + text
    if (not scheme or "." in scheme) and "." in text.partition("/")[0] and not _SPACE.search(text):
        # github.com/owner/repo, www.github.com:owner/repo ("." in a "scheme" means it is a host name)
        return "https://" + text
    return None if not scheme else text


def _resolve_url(url: str, pages: bool) -> Resolution:
    try:
        parts = urlsplit(url)
    except ValueError:
        return _NOT_A_URL
    if parts.scheme not in _SCHEMES:
        return _NOT_A_URL
    netloc = parts.netloc.rpartition("@")[2]
    path = parts.path
    host_part, colon, after = netloc.partition(":")
    if colon and not after.isdigit():
        # scp syntax inside a URL (git+ssh://git@github.com:owner/repo.git): the colon starts the path.
        path = "/" + after + path
        netloc = host_part
    host = netloc.partition(":")[0].lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if not host:
        return _NOT_A_URL
    domain = _DOMAINS.get(host)
    if domain is not None:
        return _repository(domain, _segments(path), pages)
    if host == "gist.github.com":
        return Resolution(host="github", reason="gist")
    if host.endswith(".github.io") or host == "github.io":
        return Resolution(host="github", reason="github-pages")
    return Resolution(reason="unknown-host")


def _resolve_shortcut(kind: Host | Literal["gist"], rest: str, pages: bool) -> Resolution:
    if kind == "gist":
        return Resolution(host="github", reason="gist")
    # "github:owner/repo#ref": the fragment is a committish; auth before '@' is ignored (hosted-git-info).
    path = rest.partition("#")[0].rpartition("@")[2]
    return _repository(kind, _segments(path), pages)


def _segments(path: str) -> list[str]:
    return [unquote(segment) for segment in path.split("/") if segment]


def _repository(host: Host, segments: list[str], pages: bool) -> Resolution:
    if host == "gitlab":
        return _gitlab(segments)
    if not segments:
        return Resolution(host=host, reason="not-a-repository")
    owner = segments[0]
    if host == "github":
        lowered = owner.lower()
        if lowered in _GITHUB_PROFILE_PREFIXES:
            return Resolution(host=host, reason="user-page")
        if lowered in _GITHUB_RESERVED:
            return Resolution(host=host, reason="not-a-repository")
    if len(segments) == 1:
        return Resolution(host=host, reason="user-page")
    name = segments[1].removesuffix(".git")
    rest = segments[2:]
    if host != "github":
        # Only counted, never crawled: any page of a Bitbucket or Codeberg repository names it well enough.
        return Resolution(host=host, reason="other-host", project=f"{owner}/{name}")
    directory = None
    if rest:
        if rest[0] == "tree" and len(rest) >= 2:
            directory = "/".join(rest[2:])
        elif rest[0] == "blob" and len(rest) >= 3:
            directory = "/".join(rest[2:-1])
        elif not (pages and rest[0] in _REPO_PAGES):
            return Resolution(host=host, reason="not-a-repository")
    try:
        repo = RepoRef.parse(f"{owner}/{name}")
    except ValueError:
        return Resolution(host=host, reason="not-a-repository")
    return Resolution(host=host, repo=repo, directory=_clean_directory(directory))


def _gitlab(segments: list[str]) -> Resolution:
    # GitLab nests groups (group/sub/project); its own pages start after a "-" segment.
    if "-" in segments:
        segments = segments[: segments.index("-")]
    if len(segments) < 2:
        return Resolution(host="gitlab", reason="user-page" if segments else "not-a-repository")
    segments[-1] = segments[-1].removesuffix(".git")
    return Resolution(host="gitlab", reason="other-host", project="/".join(segments))


def _clean_directory(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().strip("/")
    if not text:
        return None
    normalized = posixpath.normpath(text)
    if normalized == "." or normalized.startswith(".."):
        return None
    return normalized
