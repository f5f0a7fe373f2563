"""Clients of the outside services: PyPI, RubyGems, npm and GitHub.

Each takes the shared ``httpx.AsyncClient`` (``open_http(settings)``) and a ``base_url`` from settings, so the
sandbox can stand in. Each maps statuses to ``core.errors`` in one function, retries transient failures with
back-off and jitter, and returns dataclasses, never a response or a raw dict. GitHub listings are lists of
``core.changelog.FileInfo``, the type the changelog finder ranks.
"""

from __future__ import annotations

from core.clients._http import DEFAULT_RETRY, RetryPolicy, open_http
from core.clients.github import (
    BudgetGate,
    Download,
    Fetched,
    GitHubClient,
    RateGate,
    RepoInfo,
    RequestCount,
)
from core.clients.npm import Change, ChangesPage, NpmClient, NpmManifest, resolve_manifest
from core.clients.pypi import PyPIChange, PyPIClient, PyPIProject, normalize_label, resolve_project
from core.clients.rubygems import Gem, GemVersion, RubyGemsClient, resolve_gem

__all__ = [
    "DEFAULT_RETRY",
    "BudgetGate",
    "Change",
    "ChangesPage",
    "Download",
    "Fetched",
    "Gem",
    "GemVersion",
    "GitHubClient",
    "NpmClient",
    "NpmManifest",
    "PyPIChange",
    "PyPIClient",
    "PyPIProject",
    "RateGate",
    "RepoInfo",
    "RequestCount",
    "RetryPolicy",
    "RubyGemsClient",
    "normalize_label",
    "open_http",
    "resolve_gem",
    "resolve_manifest",
    "resolve_project",
]
