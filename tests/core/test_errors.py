"""The exception tree's errors keep their data across pickling (Prefect pickles the error of a failed task)."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from core.errors import ChangelogsError, MalformedMessage, NotFound, RateLimited, TooLarge, Unavailable


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(RateLimited("spent", reset_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), status=403), id="rate"),
        pytest.param(Unavailable("GitHub failed", url="https://api.github.com/x", status=502), id="unavailable"),
        pytest.param(NotFound("Not Found"), id="not-found"),
        pytest.param(TooLarge("big", size=10, limit=5), id="too-large"),
        pytest.param(MalformedMessage("bad", raw=b"{"), id="malformed"),
    ],
)
def test_errors_survive_pickling_with_their_data(error: ChangelogsError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert again.__dict__ == error.__dict__
