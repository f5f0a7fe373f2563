"""Artifacts the poll flows leave on their runs."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import acreate_table_artifact

_COLUMNS = ("status", "registry", "package", "version", "repo", "directory", "hint")


def poll_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per release a poll saw: ``queued`` with its repository, or ``skipped: <why>``."""
    rows = [{"status": "queued", **d} for d in summary["discoveries"]]
    rows += [{"status": f"skipped: {s['reason']}", **s} for s in summary["skips"]]
    return [{k: row.get(k) for k in _COLUMNS} for row in rows]


def poll_description(summary: dict[str, Any]) -> str:
    """The artifact's description: counts by outcome, gaps, errors, where the cursor is and why the run stopped."""
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(summary["skipped"].items())) or "none"
    shown = len(summary["discoveries"]) + len(summary["skips"])
    total = summary["discovered"] + sum(summary["skipped"].values())
    parts = [
        f"**{summary['discovered']} queued**; skipped: {skipped}",
        f"gaps: {summary['gaps']}; errors: {summary['errors']}; cursor: `{summary['cursor']}`",
    ]
    if summary["rate_limited_until"]:
        parts.append(f"stopped by a rate limit until {summary['rate_limited_until']}: the next run resumes")
    if shown < total:
        parts.append(f"{total - shown} more rows not shown")
    return "\n\n".join(parts)


async def poll_table(key: str, summary: dict[str, Any]) -> None:
    """A table of what one poll queued and skipped, with the counts in its description."""
    rows = poll_rows(summary) or [{"status": "nothing new"}]
    await acreate_table_artifact(key=key, table=rows, description=poll_description(summary))
