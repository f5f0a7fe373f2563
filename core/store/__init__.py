"""Storage: records (repositories, packages, cursors) and artifacts (changelog JSON and HTML).

The backend is picked by the scheme of ``CHANGELOGS_STORE`` / ``CHANGELOGS_ARTIFACTS``, in this one place, and
imported on demand so that a laptop run never imports boto3.
"""

from __future__ import annotations

from core._backends import load_backend
from core.settings import Settings
from core.store.base import ArtifactStore, RecordStore, changelog_html_key, changelog_json_key

__all__ = [
    "ArtifactStore",
    "RecordStore",
    "changelog_html_key",
    "changelog_json_key",
    "open_artifacts",
    "open_records",
]

_RECORDS = {
    "sqlite": "core.store.sqlite:SqliteRecordStore",
    "dynamodb": "core.store.dynamodb:DynamoRecordStore",
}
_ARTIFACTS = {
    "file": "core.store.files:FileArtifactStore",
    "s3": "core.store.s3:S3ArtifactStore",
}


def open_records(settings: Settings) -> RecordStore:
    """The record store named by ``CHANGELOGS_STORE``."""
    store: RecordStore = load_backend("CHANGELOGS_STORE", settings.store, _RECORDS, settings)
    return store


def open_artifacts(settings: Settings) -> ArtifactStore:
    """The artifact store named by ``CHANGELOGS_ARTIFACTS``."""
    store: ArtifactStore = load_backend("CHANGELOGS_ARTIFACTS", settings.artifacts, _ARTIFACTS, settings)
    return store
