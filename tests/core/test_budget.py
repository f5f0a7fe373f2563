"""The GitHub budget gates: one contract for the in-process gate and the one shared through Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.budget import BudgetGate, Quota, RateGate, SharedBudget, reserve_of
from core.errors import RateLimited

Make = Callable[..., RateGate]


def quota(remaining: int, in_s: float = 3600, *, limit: int | None = 5000) -> Quota:
    return Quota(remaining, dt.datetime.fromtimestamp(time.time() + in_s, dt.UTC), limit)


@pytest.fixture(params=["in-process", "redis"])
async def make(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Make]:
    """Builds a gate; for Redis every gate built shares one budget, as every worker of the service does."""
    clients: list[aioredis.Redis] = []
    shared: dict[str, BudgetGate] = {}

    def build(**options: Any) -> RateGate:
        if request.param == "in-process":
            # One process's callers share one gate.
            return shared.setdefault("gate", BudgetGate(**options))
        client = aioredis.Redis.from_url(redis_url)
        clients.append(client)
        return SharedBudget(client, token="t", **options)

    yield build
    for client in clients:
        await client.aclose()


class TestRateGateContract:
    async def test_an_unknown_budget_lets_the_first_request_through(self, make: Make) -> None:
        gate = make()
        await asyncio.wait_for(gate.acquire(), 1)
        assert await gate.paused_for() == 0

    async def test_while_the_budget_is_unknown_one_request_goes_first(self, make: Make) -> None:
        gate = make(reserve_share=0)
        await gate.acquire()
        second = asyncio.create_task(make(reserve_share=0).acquire())
        await asyncio.sleep(0.2)
        assert not second.done()
        await gate.observe(quota(100), charged=True)
        await asyncio.wait_for(second, 1)

    async def test_requests_in_flight_count_against_the_budget(self, make: Make) -> None:
        gate = make(reserve_share=0, max_wait_s=10)
        await gate.acquire()
        await gate.observe(quota(3), charged=True)
        await gate.acquire()
        await make(reserve_share=0, max_wait_s=10).acquire()
        await gate.acquire()
        with pytest.raises(RateLimited):
            await make(reserve_share=0, max_wait_s=10).acquire()

    async def test_uncharged_answers_do_not_wear_the_budget_down(self, make: Make) -> None:
        gate = make(reserve_share=0.001, max_wait_s=0)
        for _ in range(50):
            await asyncio.wait_for(gate.acquire(), 1)
            await gate.observe(quota(10), charged=False)  # 304s: the announced budget stays put
        assert await gate.paused_for() == 0

    @pytest.mark.parametrize(
        ("limit", "kept"),
        [pytest.param(5000, 100, id="token-5000"), pytest.param(60, 2, id="anonymous-60")],
    )
    async def test_the_reserve_is_a_share_of_the_limit(self, make: Make, limit: int, kept: int) -> None:
        assert reserve_of(limit, 0.02) == kept
        gate = make(reserve_share=0.02, max_wait_s=0)
        await gate.acquire()
        await gate.observe(quota(kept + 1, limit=limit), charged=True)
        await gate.acquire()
        with pytest.raises(RateLimited) as caught:
            await make(reserve_share=0.02, max_wait_s=0).acquire()
        assert caught.value.reset_at > dt.datetime.now(dt.UTC)
        assert await gate.paused_for() > 3000

    async def test_at_the_reserve_it_pauses_until_one_second_past_reset(self, make: Make) -> None:
        gate = make(reserve_share=0.5)
        await gate.acquire()
        await gate.observe(quota(10, 0.3, limit=20), charged=True)
        started = time.monotonic()
        await asyncio.wait_for(gate.acquire(), 5)
        assert time.monotonic() - started >= 1.0

    async def test_the_lowest_count_of_a_window_wins_and_a_new_window_replaces_it(self, make: Make) -> None:
        gate = make(reserve_share=0, max_wait_s=0)
        await gate.observe(quota(5, 100), charged=True)
        await gate.observe(quota(7, 100), charged=True)  # an older answer arriving late
        for _ in range(5):
            await gate.acquire()
        with pytest.raises(RateLimited):
            await gate.acquire()
        await gate.observe(quota(4999, 7200), charged=True)
        await asyncio.wait_for(gate.acquire(), 1)

    async def test_an_answer_from_a_past_window_changes_nothing(self, make: Make) -> None:
        gate = make(reserve_share=0, max_wait_s=0)
        await gate.observe(quota(4000), charged=True)
        await gate.observe(quota(1, -5), charged=True)
        await asyncio.wait_for(gate.acquire(), 1)
        assert await gate.paused_for() == 0

    async def test_a_window_cut_short_replaces_the_stored_one(self, make: Make) -> None:
        gate = make(reserve_share=0, max_wait_s=0)
        await gate.observe(quota(4000), charged=True)
        await gate.observe(quota(1, 60), charged=True)  # the budget was reset by hand: 1 left for a minute
        await gate.acquire()
        with pytest.raises(RateLimited) as caught:
            await gate.acquire()
        assert caught.value.reset_at < dt.datetime.now(dt.UTC) + dt.timedelta(seconds=70)

    async def test_a_secondary_limit_pauses_everyone_even_with_budget_left(self, make: Make) -> None:
        gate = make()
        await gate.observe(quota(4000), charged=True)
        await make().observe(quota(0, 0.3), charged=False)
        started = time.monotonic()
        await asyncio.wait_for(gate.acquire(), 5)
        assert time.monotonic() - started >= 0.2

    async def test_a_long_pause_raises_rate_limited_at_once(self, make: Make) -> None:
        gate = make(max_wait_s=1)
        await gate.observe(quota(0, 900), charged=False)
        started = time.monotonic()
        with pytest.raises(RateLimited):
            await gate.acquire()
        assert time.monotonic() - started < 0.5
        assert 890 < await gate.paused_for() <= 901


class TestSharedBudget:
    async def test_a_second_worker_does_not_burn_through_what_the_first_learned(self, redis_url: str) -> None:
        first = SharedBudget(aioredis.Redis.from_url(redis_url), token="t", reserve_share=0, max_wait_s=0)
        second = SharedBudget(aioredis.Redis.from_url(redis_url), token="t", reserve_share=0, max_wait_s=0)
        await first.acquire()
        await first.observe(quota(2), charged=True)
        await second.acquire()
        await second.acquire()
        with pytest.raises(RateLimited):
            await second.acquire()
        await first.redis.aclose()
        await second.redis.aclose()

    async def test_another_token_has_its_own_budget(self, redis_url: str) -> None:
        client = aioredis.Redis.from_url(redis_url)
        spent = SharedBudget(client, token="a", max_wait_s=0)
        await spent.observe(quota(0, 900), charged=False)
        await asyncio.wait_for(SharedBudget(client, token="b", max_wait_s=0).acquire(), 1)
        await client.aclose()

    async def test_the_requests_of_a_worker_that_died_stop_counting_when_their_lease_ends(self, redis_url: str) -> None:
        client = aioredis.Redis.from_url(redis_url)
        gate = SharedBudget(client, token="t", reserve_share=0, max_wait_s=0, lease_s=0.3)
        await gate.observe(quota(1), charged=True)
        await gate.acquire()  # and the worker dies before the answer
        with pytest.raises(RateLimited):
            await SharedBudget(client, token="t", reserve_share=0, max_wait_s=0).acquire()
        await asyncio.sleep(0.4)
        await asyncio.wait_for(SharedBudget(client, token="t", reserve_share=0, max_wait_s=0).acquire(), 1)
        await client.aclose()

    async def test_every_charged_answer_is_paced_and_no_uncharged_one(self, redis_url: str) -> None:
        paced: list[float] = []

        async def pace() -> None:
            paced.append(time.monotonic())

        client = aioredis.Redis.from_url(redis_url)
        gate = SharedBudget(client, token="t", pace=pace)
        for charged in (True, False, True, False):
            await gate.acquire()
            await gate.observe(quota(4000), charged=charged)
        assert len(paced) == 2
        await client.aclose()
