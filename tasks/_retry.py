"""When a task is worth retrying."""

from __future__ import annotations

from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun

from core.errors import RateLimited, Unavailable


def transient_failure(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry network, 5xx and rate-limit failures; never a 404, a bad document or a bug."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, Unavailable | RateLimited)
