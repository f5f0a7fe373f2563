"""HTML pages rendered from the templates in ``web/templates``.

Shared by the crawler (which stores each repository's page as an artifact, served as-is by CloudFront) and the
api (which renders the same template on demand). Version notes are sanitized when rendered by the changelog
engine; everything else is escaped by Jinja's autoescaping.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from core.models import ChangelogDocument

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(name: str, **context: Any) -> str:
    """Render ``web/templates/<name>`` with ``context``."""
    return _environment().get_template(name).render(**context)


def render_repo_page(document: ChangelogDocument, *, site_url: str) -> str:
    """The page of one repository: every version with its date and notes."""
    return render_template("repo.html", doc=document, site_url=site_url.rstrip("/"))
