"""A fake of GitHub's REST API (``api.github.com``) and of raw downloads (``raw.githubusercontent.com``).

It serves the repositories of a ``World``: ``/repos/{o}/{r}`` (case-insensitive, 301 for renamed ones, 404 gone,
451 blocked), ``/contents`` (directory listings, base64 files, raw media types, > 1 MB files without content),
``/releases`` (paginated with ``Link``, drafts only for authorised requests), ``/commits`` and ``/git/trees`` (409
for empty repositories), ``/rate_limit``, and ``/_raw/{o}/{r}/{ref}/{path}`` as the ``download_url`` of files.
Every 200 carries a strong ETag and a matching ``If-None-Match`` gets a 304. A budget per token (5,000/h, 60/h
without one) is spent by every request but ``/rate_limit``, raw downloads and authorised 304s; when it is spent
the answer is 403 or 429 with ``x-ratelimit-remaining: 0``, and the request is counted as ``over_budget``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox._http import CONTROL_PREFIX, Edge, conditional, dump, json_error, link_header, matches_etag
from sandbox.control import Bucket, Control, control_routes
from sandbox.layout import Blob, build_tree

if TYPE_CHECKING:
    from sandbox.world import Release, Repo, World

CONTENT_LIMIT = 1024 * 1024  # larger files come back with content "" and encoding "none"
DOCS = "https://docs.github.com/rest"
RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")
NO_USER_AGENT = (
    "Request forbidden by administrative rules. Please make sure your request has a User-Agent header "
    "(https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). "
    "Check https://developer.github.com for other possible causes.\n"
)
SECONDARY_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out "
    "to GitHub Support for help, please include the request ID {request_id}."
)


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return dt.datetime.fromtimestamp(int(at), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def _not_found(documentation: str = f"{DOCS}/repos/repos#get-a-repository") -> Response:
    return json_error(404, {"message": "Not Found", "documentation_url": documentation, "status": "404"})


def _token_key(authorization: str | None) -> tuple[str, bool] | None:
    """("token:<digest>", True) for a Bearer/token header, ("anonymous", False) without one, None if malformed."""
    if not authorization:
        return "anonymous", False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() not in {"bearer", "token"} or not token.strip():
        return None
    return f"token:{hashlib.sha256(token.strip().encode()).hexdigest()[:12]}", True


class _Gate:
    """GitHub's front door: User-Agent check, the primary rate limit, and the headers every answer carries."""

    def __init__(self, app: ASGIApp, control: Control) -> None:
        self.app = app
        self.control = control
        self._refusals = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        stats = self.control.stats["github"]
        headers = Headers(scope=scope)
        if not headers.get("user-agent"):
            await self._refuse(scope, receive, send, PlainTextResponse(NO_USER_AGENT, status_code=403))
            return
        if path.startswith("/_raw/"):
            await self.app(scope, receive, send)
            return
        auth = _token_key(headers.get("authorization"))
        if auth is None:
            body = {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            await self._refuse(scope, receive, send, json_error(401, body))
            return
        key, authenticated = auth
        bucket = self.control.budget.bucket(key, authenticated=authenticated)
        charged = path != "/rate_limit"
        if charged and bucket.remaining <= 0:
            stats.counters["over_budget"] += 1
            self._refusals += 1
            who = f"user ID {10_000 + int(key[6:12], 16) % 90_000}" if authenticated else "127.0.0.1"
            message = f"API rate limit exceeded for {who}."
            if not authenticated:
                message += (
                    " (But here's the good news: Authenticated requests get a higher rate limit. "
                    "Check out the documentation for more details.)"
                )
            documentation = f"{DOCS}/overview/rate-limits-for-the-rest-api"
            status = 429 if self._refusals % 2 == 0 else 403
            refusal = json_error(status, {"message": message, "documentation_url": documentation})
            await self._refuse(scope, receive, self._decorating(send, bucket, authenticated, False), refusal)
            return
        if charged:
            bucket.remaining -= 1
            stats.counters["charged"] += 1
        await self.app(scope, receive, self._decorating(send, bucket, authenticated, charged))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, response: Response) -> None:
        stats = self.control.stats["github"]
        stats.requests += 1
        stats.statuses[str(response.status_code)] += 1
        await response(scope, receive, send)

    def _decorating(self, send: Send, bucket: Bucket, authenticated: bool, charged: bool) -> Send:
        stats = self.control.stats["github"]

        async def decorated(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 304:
                    stats.counters["not_modified"] += 1
                    if authenticated and charged:
                        # "does not count against your primary rate limit if a 304 response is returned and the
                        # request was made while correctly authorized" (docs: best practices)
                        bucket.remaining += 1
                        stats.counters["charged"] -= 1
                extra = {
                    "x-ratelimit-limit": str(bucket.limit),
                    "x-ratelimit-remaining": str(max(bucket.remaining, 0)),
                    "x-ratelimit-used": str(bucket.used),
                    "x-ratelimit-reset": str(bucket.reset_epoch),
                    "x-ratelimit-resource": "core",
                    "x-github-media-type": "github.v3; format=json",
                    "x-github-request-id": _sha(id(message), stats.requests)[:20].upper(),
                    "cache-control": f"{'private' if authenticated else 'public'}, max-age=60, s-maxage=60",
                    "vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
                    "access-control-allow-origin": "*",
                }
                names = {k.lower() for k, _ in message["headers"]}
                added = [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in names]
                message = {**message, "headers": [*message["headers"], *added]}
            await send(message)

        return decorated


def _secondary_limit(scope: Scope, retry_after: int) -> Response:
    request_id = _sha("secondary", id(scope))[:16].upper()
    body = {
        "message": SECONDARY_LIMIT.format(request_id=request_id),
        "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
    }
    return json_error(403, body, headers={"retry-after": str(retry_after)})


def _server_error(status: int, retry_after: int) -> Response:
    if status == 500:
        return json_error(500, {"message": "Server Error"})
    headers = {"Retry-After": str(retry_after)} if status in {429, 503} else None
    page = (
        f"<html><body><h1>{status}</h1><p>No server is currently available to service your request.</p></body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=headers)


class _Api:
    """The route handlers, bound to one world."""

    def __init__(self, world: World) -> None:
        self.world = world

    # ---- shapes ----

    def _owner(self, base: str, login: str) -> dict[str, Any]:
        number = int(_sha("owner", login)[:7], 16)
        api = f"{base}/users/{login}"
        return {
            "login": login,
            "id": number,
            "node_id": base64.b64encode(f"04:User{number}".encode()).decode(),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{number}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.com/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "Organization" if "-" in login else "User",
            "user_view_type": "public",
            "site_admin": False,
        }

    def _repo_json(self, base: str, repo: Repo, authenticated: bool) -> dict[str, Any]:
        full = repo.full_name
        api = f"{base}/repos/{full}"
        tree = build_tree(self.world, repo)
        size_kb = sum(blob.size for blob in tree.files.values()) // 1024
        templated = {
            "forks_url": "/forks", "keys_url": "/keys{/key_id}", "collaborators_url": "/collaborators{/collaborator}",
            "teams_url": "/teams", "hooks_url": "/hooks", "issue_events_url": "/issues/events{/number}",
            "events_url": "/events", "assignees_url": "/assignees{/user}", "branches_url": "/branches{/branch}",
            "tags_url": "/tags", "blobs_url": "/git/blobs{/sha}", "git_tags_url": "/git/tags{/sha}",
            "git_refs_url": "/git/refs{/sha}", "trees_url": "/git/trees{/sha}", "statuses_url": "/statuses/{sha}",
            "languages_url": "/languages", "stargazers_url": "/stargazers", "contributors_url": "/contributors",
            "subscribers_url": "/subscribers", "subscription_url": "/subscription", "commits_url": "/commits{/sha}",
            "git_commits_url": "/git/commits{/sha}", "comments_url": "/comments{/number}",
            "issue_comment_url": "/issues/comments{/number}", "contents_url": "/contents/{+path}",
            "compare_url": "/compare/{base}...{head}", "merges_url": "/merges",
            "archive_url": "/{archive_format}{/ref}", "downloads_url": "/downloads", "issues_url": "/issues{/number}",
            "pulls_url": "/pulls{/number}", "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}", "labels_url": "/labels{/name}",
            "releases_url": "/releases{/id}", "deployments_url": "/deployments",
        }  # fmt: skip
        stars = int(_sha("stars", repo.key)[:4], 16) % 5000
        created, pushed = self.world.repo_dates(repo)
        data: dict[str, Any] = {
            "id": repo.id,
            "node_id": base64.b64encode(f"010:Repository{repo.id}".encode()).decode(),
            "name": repo.name,
            "full_name": full,
            "private": False,
            "owner": self._owner(base, repo.owner),
            "html_url": f"https://github.com/{full}",
            "description": self.world.package(repo.members[0]).description,
            "fork": False,
            "url": api,
            **{field: api + suffix for field, suffix in templated.items()},
            "created_at": _iso(created),
            "updated_at": _iso(pushed),
            "pushed_at": _iso(pushed),
            "git_url": f"git://github.com/{full}.git",
            "ssh_url": f"git@github.com:{full}.git",
            "clone_url": f"https://github.com/{full}.git",
            "svn_url": f"https://github.com/{full}",
            "homepage": None,
            "size": size_kb,
            "stargazers_count": stars,
            "watchers_count": stars,
            "language": repo.language,
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": stars // 10,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": stars // 40,
            "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT", "url": f"{base}/licenses/mit"},
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "public",
            "forks": stars // 10,
            "open_issues": stars // 40,
            "watchers": stars,
            "default_branch": repo.default_branch,
        }
        if authenticated:
            data["permissions"] = {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True}
        data["network_count"] = stars // 10
        data["subscribers_count"] = stars // 50
        return data

    def _entry(self, base: str, repo: Repo, path: str, blob: Blob | None, ref: str) -> dict[str, Any]:
        full = repo.full_name
        sha = blob.sha if blob is not None else _sha("tree", repo.key, repo.revision, path)
        kind = "file" if blob is not None else "dir"
        url = f"{base}/repos/{full}/contents/{quote(path)}?ref={ref}"
        git_url = f"{base}/repos/{full}/git/{'blobs' if blob is not None else 'trees'}/{sha}"
        html_url = f"https://github.com/{full}/{'blob' if blob is not None else 'tree'}/{ref}/{path}"
        return {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": blob.size if blob is not None else 0,
            "url": url,
            "html_url": html_url,
            "git_url": git_url,
            "download_url": f"{base}/_raw/{full}/{ref}/{quote(path)}" if blob is not None else None,
            "type": kind,
            "_links": {"self": url, "git": git_url, "html": html_url},
        }

    def _release_json(self, base: str, repo: Repo, release: Release) -> dict[str, Any]:
        api = f"{base}/repos/{repo.full_name}/releases/{release.id}"
        html = f"https://github.com/{repo.full_name}/releases/tag/{quote(release.tag)}"
        return {
            "url": api,
            "assets_url": f"{api}/assets",
            "upload_url": f"https://uploads.github.com/repos/{repo.full_name}/releases/{release.id}/assets{{?name,label}}",
            "html_url": html if not release.draft else f"https://github.com/{repo.full_name}/releases/tag/untagged",
            "id": release.id,
            "author": self._owner(base, repo.owner),
            "node_id": base64.b64encode(f"RE_{release.id}".encode()).decode(),
            "tag_name": release.tag,
            "target_commitish": repo.default_branch,
            "name": release.name,
            "draft": release.draft,
            "immutable": False,
            "prerelease": release.prerelease,
            "created_at": _iso(release.created),
            "updated_at": _iso(release.published or release.created),
            "published_at": _iso(release.published),
            "assets": [],
            "tarball_url": f"{base}/repos/{repo.full_name}/tarball/{quote(release.tag)}",
            "zipball_url": f"{base}/repos/{repo.full_name}/zipball/{quote(release.tag)}",
            "body": release.body,
        }

    # ---- routing ----

    @staticmethod
    def _base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def by_name(self, request: Request) -> Response:
        owner, name, rest = (request.path_params[k] for k in ("owner", "name", "rest"))
        found = self.world.lookup_repo(f"{owner}/{name}")
        if found is None:
            request.scope["sandbox.route"] = "repo"
            return _not_found()
        repo, renamed = found
        if renamed and repo.outcome not in {"gone", "blocked"}:
            request.scope["sandbox.route"] = "redirect"
            self.world.control.stats["github"].repos[repo.alias or repo.full_name] += 1
            location = f"{self._base(request)}/repositories/{repo.id}{rest}"
            if request.url.query:
                location += f"?{request.url.query}"
            body = {
                "message": "Moved Permanently",
                "url": location,
                "documentation_url": f"{DOCS}/guides/best-practices-for-using-the-rest-api#follow-redirects",
            }
            return json_error(301, body, headers={"Location": location})
        return self._dispatch(request, repo, rest)

    async def by_id(self, request: Request) -> Response:
        repo = self.world.repo_by_id(request.path_params["id"])
        if repo is None:
            request.scope["sandbox.route"] = "repo"
            return _not_found()
        return self._dispatch(request, repo, request.path_params["rest"])

    def _dispatch(self, request: Request, repo: Repo, rest: str) -> Response:
        self.world.control.stats["github"].repos[repo.alias or repo.full_name] += 1
        parts = rest.split("/")[1:] if rest else []
        route, handler = self._route(parts)
        request.scope["sandbox.route"] = route
        if repo.outcome == "gone":
            return _not_found()
        if repo.outcome == "blocked":
            created = self.world.repo_dates(repo)[0]
            month = dt.datetime.fromtimestamp(created, dt.UTC).strftime("%Y/%m")
            block = {
                "reason": "dmca",
                "created_at": _iso(created),
                "html_url": f"https://github.com/github/dmca/blob/master/{month}/{repo.name}.md",
            }
            return json_error(451, {"message": "Repository access blocked", "block": block})
        if handler is None:
            return _not_found(DOCS)
        return handler(request, repo, parts)

    def _route(self, parts: list[str]) -> tuple[str, Callable[[Request, Repo, list[str]], Response] | None]:
        head = parts[0] if parts else ""
        if not parts:
            return "repo", self.repo
        if head == "contents":
            return "contents", self.contents
        if head == "releases" and len(parts) == 1:
            return "releases", self.releases
        if head == "releases" and parts[1:2] == ["latest"] and len(parts) == 2:
            return "release", self.latest_release
        if head == "releases" and parts[1:2] == ["tags"] and len(parts) >= 3:
            return "release", self.release_by_tag
        if head == "commits" and len(parts) == 1:
            return "commits", self.commits
        if head == "git" and parts[1:2] == ["trees"] and len(parts) >= 3:
            return "trees", self.tree
        return "unknown", None

    # ---- endpoints ----

    def repo(self, request: Request, repo: Repo, parts: list[str]) -> Response:
        authenticated = bool(request.headers.get("authorization"))
        return conditional(request, dump(self._repo_json(self._base(request), repo, authenticated)))

    def _head(self, repo: Repo) -> str:
        return _sha("commit", self.world.seed, repo.key, repo.revision)

    def _valid_ref(self, repo: Repo, ref: str | None) -> bool:
        if ref is None or ref in {repo.default_branch, self._head(repo), f"refs/heads/{repo.default_branch}"}:
            return True
        return any(ref in {r.tag, f"refs/tags/{r.tag}"} for r in self.world.releases(repo) if not r.draft)

    def contents(self, request: Request, repo: Repo, parts: list[str]) -> Response:
        if repo.outcome == "empty":
            body = {
                "message": "This repository is empty.",
                "documentation_url": f"{DOCS}/repos/contents#get-repository-content",
                "status": "404",
            }
            return json_error(404, body)
        ref = request.query_params.get("ref")
        if not self._valid_ref(repo, ref):
            body = {
                "message": f"No commit found for the ref {ref}",
                "documentation_url": f"{DOCS}/repos/contents",
                "status": "404",
            }
            return json_error(404, body)
        shown_ref = ref or repo.default_branch
        path = "/".join(p for p in parts[1:] if p)
        tree = build_tree(self.world, repo)
        base = self._base(request)
        accept = request.headers.get("accept", "")
        blob = tree.files.get(path)
        if blob is not None:
            if any(t in accept for t in RAW_TYPES):
                media = "application/vnd.github.v3.raw" if "v3.raw" in accept else "application/vnd.github.raw"
                return _raw(request, blob, f"{media}; charset=utf-8")
            data = self._entry(base, repo, path, blob, shown_ref)
            links = data.pop("_links")
            if blob.size > CONTENT_LIMIT:
                data.update(content="", encoding="none")
            else:
                encoded = base64.b64encode(blob.data).decode()
                data["content"] = "".join(f"{encoded[k : k + 60]}\n" for k in range(0, len(encoded), 60))
                data["encoding"] = "base64"
            data["_links"] = links
            return conditional(request, dump(data))
        if path in tree.dirs:
            entries = [self._entry(base, repo, p, b, shown_ref) for p, b in tree.children(path)][:1000]
            if "object" in accept:
                listing: Any = self._entry(base, repo, path, None, shown_ref) | {"entries": entries}
            else:
                listing = entries
            return conditional(request, dump(listing))
        return _not_found(f"{DOCS}/repos/contents#get-repository-content")

    def releases(self, request: Request, repo: Repo, parts: list[str]) -> Response:
        try:
            per_page = min(max(int(request.query_params.get("per_page", 30)), 1), 100)
            page = max(int(request.query_params.get("page", 1)), 1)
        except ValueError:
            return json_error(422, {"message": "Invalid request.", "documentation_url": DOCS, "status": "422"})
        rows = self.world.releases(repo)
        if not request.headers.get("authorization"):
            rows = [r for r in rows if not r.draft]
        last = max(1, -(-len(rows) // per_page))
        chunk = rows[(page - 1) * per_page : page * per_page]
        base = self._base(request)
        params = {"per_page": per_page} if "per_page" in request.query_params else {}
        link = link_header(f"{base}/repositories/{repo.id}/releases", params, page=page, last=last)
        body = dump([self._release_json(base, repo, r) for r in chunk])
        return conditional(request, body, headers={"Link": link} if link else None)

    def latest_release(self, request: Request, repo: Repo, parts: list[str]) -> Response:
        published = [r for r in self.world.releases(repo) if not r.draft and not r.prerelease]
        if not published:
            return _not_found(f"{DOCS}/releases/releases#get-the-latest-release")
        newest = max(published, key=lambda r: r.created)
        return conditional(request, dump(self._release_json(self._base(request), repo, newest)))

    def release_by_tag(self, request: Request, repo: Repo, parts: list[str]) -> Response:
        tag = "/".join(parts[2:])
        for release in self.world.releases(repo):
            if release.tag == tag and not release.draft:
                return conditional(request, dump(self._release_json(self._base(request), repo, release)))
        return _not_found(f"{DOCS}/releases/releases#get-a-release-by-tag-name")

    def commits(self, request: Request, repo: Repo, parts: list[str]) -> Response:
        if repo.outcome == "empty":
            body = {
                "message": "Git Repository is empty.",
                "documentation_url": f"{DOCS}/commits/commits#list-commits",
                "status": "409",
            }
            return json_error(409, body)
        base, head = self._base(request), self._head(repo)
        pushed = self.world.repo_dates(repo)[1]
        who = {"name": repo.owner, "email": f"{repo.owner}@users.noreply.github.com", "date": _iso(pushed)}
        commit = {
            "sha": head,
            "node_id": base64.b64encode(f"C_{head}".encode()).decode(),
            "commit": {
                "author": who,
                "committer": who,
                "message": "Release" if repo.revision else "Initial commit",
                "tree": {
                    "sha": _sha("tree", repo.key, repo.revision, ""),
                    "url": f"{base}/repos/{repo.full_name}/git/trees/{head}",
                },
                "url": f"{base}/repos/{repo.full_name}/git/commits/{head}",
                "comment_count": 0,
            },
            "url": f"{base}/repos/{repo.full_name}/commits/{head}",
            "html_url": f"https://github.com/{repo.full_name}/commit/{head}",
            "parents": [],
        }
        return conditional(request, dump([commit]))

    def tree(self, request: Request, repo: Repo, parts: list[str]) -> Response:
        if repo.outcome == "empty":
            body = {
                "message": "Git Repository is empty.",
                "documentation_url": f"{DOCS}/git/trees#get-a-tree",
                "status": "409",
            }
            return json_error(409, body)
        ref = "/".join(parts[2:])
        files = build_tree(self.world, repo)
        known = {_sha("tree", repo.key, repo.revision, d): d for d in files.dirs}
        if ref in known:
            root = known[ref]
        elif self._valid_ref(repo, ref):
            root = ""
        else:
            return _not_found(f"{DOCS}/git/trees#get-a-tree")
        base = self._base(request)
        recursive = "recursive" in request.query_params
        entries = []
        for path in sorted({*files.files, *files.dirs} - {""}):
            inside = path.startswith(f"{root}/") if root else True
            relative = path[len(root) + 1 :] if root else path
            if not inside or (not recursive and "/" in relative):
                continue
            blob = files.files.get(path)
            sha = blob.sha if blob is not None else _sha("tree", repo.key, repo.revision, path)
            kind = "blob" if blob is not None else "tree"
            entry: dict[str, Any] = {"path": relative, "mode": "100644" if blob else "040000", "type": kind, "sha": sha}
            if blob is not None:
                entry["size"] = blob.size
            entry["url"] = f"{base}/repos/{repo.full_name}/git/{kind}s/{sha}"
            entries.append(entry)
        sha = _sha("tree", repo.key, repo.revision, root)
        body = {
            "sha": sha,
            "url": f"{base}/repos/{repo.full_name}/git/trees/{sha}",
            "tree": entries,
            "truncated": False,
        }
        return conditional(request, dump(body))

    async def rate_limit(self, request: Request) -> Response:
        request.scope["sandbox.route"] = "rate_limit"
        auth = _token_key(request.headers.get("authorization")) or ("anonymous", False)
        bucket = self.world.control.budget.bucket(auth[0], authenticated=auth[1])
        core = {"limit": bucket.limit, "used": bucket.used, "remaining": bucket.remaining, "reset": bucket.reset_epoch}
        search = {
            "limit": 30 if auth[1] else 10,
            "used": 0,
            "remaining": 30 if auth[1] else 10,
            "reset": bucket.reset_epoch,
        }
        graphql = {
            "limit": 5000 if auth[1] else 0,
            "used": 0,
            "remaining": 5000 if auth[1] else 0,
            "reset": bucket.reset_epoch,
        }
        body = {"resources": {"core": core, "search": search, "graphql": graphql}, "rate": core}
        return Response(dump(body), media_type="application/json; charset=utf-8")

    async def raw(self, request: Request) -> Response:
        request.scope["sandbox.route"] = "raw"
        owner, name, ref, path = (request.path_params[k] for k in ("owner", "name", "ref", "path"))
        stats = self.world.control.stats["github"]
        found = self.world.lookup_repo(f"{owner}/{name}")
        if found is None or found[0].outcome in {"gone", "blocked", "empty"}:
            return PlainTextResponse("404: Not Found", status_code=404)
        repo = found[0]
        stats.counters["raw"] += 1
        stats.repos[repo.alias or repo.full_name] += 1
        blob = build_tree(self.world, repo).files.get(path)
        if blob is None or not self._valid_ref(repo, ref):
            return PlainTextResponse("404: Not Found", status_code=404)
        return _raw(request, blob, "text/plain; charset=utf-8")


def _raw(request: Request, blob: Blob, media_type: str) -> Response:
    etag = f'"{blob.sha}"'
    headers = {"ETag": etag, "Content-Length": str(blob.size)}
    if matches_etag(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    if blob.size <= CONTENT_LIMIT:
        return Response(blob.data, media_type=media_type, headers={"ETag": etag})
    return StreamingResponse(blob.chunks(), media_type=media_type, headers=headers)


def create_app(world: World) -> Starlette:
    """The GitHub REST API (and raw downloads) of ``world``."""
    api = _Api(world)
    return Starlette(
        routes=[
            control_routes(world),
            Route("/rate_limit", api.rate_limit, methods=["GET"]),
            Route("/repos/{owner}/{name}{rest:path}", api.by_name, methods=["GET"]),
            Route("/repositories/{id:int}{rest:path}", api.by_id, methods=["GET"]),
            Route("/_raw/{owner}/{name}/{ref}/{path:path}", api.raw, methods=["GET"]),
        ],
        middleware=[
            Middleware(_Gate, control=world.control),
            Middleware(
                Edge, service="github", control=world.control, rate_limited=_secondary_limit, error=_server_error
            ),
        ],
    )
