"""HTML pages and feeds rendered from the templates in ``web/templates``.

Shared by the crawler (which stores each repository's page as an artifact, served as-is by CloudFront) and the
api (which renders the same template on demand). Version notes are sanitized when rendered by the changelog
engine; everything else is escaped by Jinja's autoescaping (HTML and XML alike).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from core import changelog
from core.models import ChangelogDocument, ChangelogEntry, VersionNotes

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates"

_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._-]+")
_REGISTRY_URLS = {
    "npm": "https://www.npmjs.com/package/{}",
    "pypi": "https://pypi.org/project/{}/",
    "rubygems": "https://rubygems.org/gems/{}",
}


def anchor(version: str) -> str:
    """The fragment of a version's section: ``v`` plus the version with anything unusual turned into ``-``."""
    return "v" + (_NOT_IN_ID.sub("-", version).strip("-") or "unnamed")


def registry_url(registry: str, name: str) -> str:
    """The package's page on its registry."""
    return _REGISTRY_URLS.get(registry, "#").format(name)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["anchor"] = anchor
    env.filters["registry_url"] = lambda package: registry_url(package.registry, package.name)
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``web/templates/<name>`` with ``context``."""
    return _environment().get_template(name).render(**context)


@dataclass(frozen=True, slots=True)
class Upgrade:
    """The combined notes of an upgrade from ``from_version`` to ``to_version``, newest first."""

    from_version: str
    to_version: str
    versions: list[VersionNotes]


def upgrade_notes(document: ChangelogDocument, from_version: str, to_version: str) -> list[VersionNotes]:
    """The versions after ``from_version`` up to ``to_version``, newest first (``core.changelog.version_range``);
    raises ``ValueError`` when a bound is not a version."""
    pairs = [(ChangelogEntry(n.version, n.date, n.title, n.body), n) for n in document.contents]
    by_entry = {id(entry): notes for entry, notes in pairs}
    picked = changelog.version_range([entry for entry, _ in pairs], from_version, to_version)
    return [by_entry[id(entry)] for entry in picked]


def released(document: ChangelogDocument) -> list[VersionNotes]:
    """The versions an upgrade can start or end at: each named version once, in the document's order."""
    seen: set[str] = set()
    out = []
    for notes in document.contents:
        named = notes.version != changelog.UNRELEASED and changelog.version_key(notes.version) is not None
        if named and notes.version not in seen:
            seen.add(notes.version)
            out.append(notes)
    return out


def render_repo_page(document: ChangelogDocument, *, site_url: str, upgrade: Upgrade | None = None) -> str:
    """The page of one repository: every version with its date and notes, its packages, the upgrade picker, and
    (when asked) the combined notes of one upgrade."""
    return render_template(
        "repo.html", doc=document, site_url=site_url.rstrip("/"), released=released(document), upgrade=upgrade
    )


def render_repo_feed(document: ChangelogDocument, *, site_url: str, limit: int = 50) -> str:
    """An Atom feed of the repository's newest versions, one entry each."""
    return render_template("repo.atom", doc=document, site_url=site_url.rstrip("/"), entries=document.contents[:limit])
