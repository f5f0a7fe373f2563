"""Artifacts the poll flows leave on their runs."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import acreate_table_artifact

MAX_ROWS = 500


async def discovery_table(key: str, report: dict[str, Any]) -> None:
    """A table of what one poll discovered, with the unresolved counts in the description."""
    rows = [
        {k: d.get(k) for k in ("registry", "package", "version", "repo", "directory")}
        for d in report["discovered"][:MAX_ROWS]
    ]
    more = len(report["discovered"]) - len(rows)
    description = (
        f"{len(report['discovered'])} discoveries; without a GitHub repository: {report['unresolved'] or 'none'}; "
        f"errors: {report['errors']}; gaps: {report['gaps']}; cursor: {report['cursor']}"
        + (f"; {more} more not shown" if more > 0 else "")
    )
    await acreate_table_artifact(key=key, table=rows or [{"package": "(nothing new)"}], description=description)
