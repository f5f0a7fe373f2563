"""Backend selection by URL scheme, shared by the store and the queue."""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from core.errors import ConfigError
from core.settings import Settings


def load_backend(variable: str, url: str, table: dict[str, str], settings: Settings) -> Any:
    """Import the ``module:Class`` that ``table`` maps the scheme of ``url`` to, and build it ``from_url``."""
    target = table.get(urlsplit(url).scheme)
    if target is None:
        raise ConfigError(f"{variable}={url!r}: scheme must be one of {sorted(table)}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name).from_url(url, settings)
