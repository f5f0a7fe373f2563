"""When a task is worth retrying."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun

from core.errors import RateLimited, Unavailable
from core.models import utcnow

# A rate limit that lifts later than this is not waited out by retrying: the work goes back to the queue.
RATE_LIMIT_HORIZON = dt.timedelta(minutes=1)


async def transient_failure(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry network failures, 5xx and a rate limit that lifts within a minute; never a 404, a bad document or a
    bug. (Async: in an async task, ``state.result()`` would hand back a coroutine, not the error.)"""
    error = await state.aresult(raise_on_failure=False)
    if isinstance(error, RateLimited):
        return error.reset_at <= utcnow() + RATE_LIMIT_HORIZON
    return isinstance(error, Unavailable)
