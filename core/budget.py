"""GitHub's request budget, shared by the callers of one process (``BudgetGate``) or by every worker (``SharedBudget``).

GitHub announces on every answer how many requests are left (``x-ratelimit-remaining``) until the window resets
(``x-ratelimit-reset``, epoch seconds); a token gets 5,000 an hour, no token 60 (docs/API-NOTES.md §1). Both gates
follow the same rules, checked by one contract test:

- the estimate is the lowest ``remaining`` announced in the current window, less the requests still in flight, so
  concurrent callers never send past the budget, and uncharged ``304`` answers do not wear it down;
- sending stops while that estimate is at or below the reserve, a share of the announced limit (100 of 5,000; 2 of
  60), and resumes one second past the reset, as octokit does;
- while the budget is unknown (at start, after a reset) one request goes first and the others wait for its answer;
- an answer announcing ``remaining == 0`` (a spent budget, or a secondary limit reported that way by the client)
  pauses everyone until its ``reset_at``;
- an answer whose reset has passed is stale (it was sent in an earlier window) and changes nothing; one announcing
  an earlier reset than the stored one (the token's window was cut short) replaces it, keeping the lower count.

A pause longer than ``max_wait_s`` raises ``RateLimited`` at once, so a Prefect task does not sleep for most of an
hour: its caller gives the work back and comes back at ``reset_at``.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import hashlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.errors import QueueError, RateLimited

logger = logging.getLogger(__name__)

DEFAULT_RESERVE_SHARE = 0.02
# How long a caller waits before asking again while the first request of an unknown budget is out.
_PROBE_POLL_S = 0.05
# A paused caller wakes at least this often, in case another worker learned of a new window meanwhile.
_RECHECK_S = 5.0


@dataclass(frozen=True, slots=True)
class Quota:
    """What one answer said about the budget: ``remaining`` of ``limit`` requests until ``reset_at``."""

    remaining: int
    reset_at: dt.datetime
    limit: int | None = None


class RateGate(Protocol):
    """The GitHub budget shared by the callers of one or more clients.

    A client calls ``acquire()`` before each request GitHub may charge and ``observe()`` exactly once after it,
    whatever happened (``quota`` is ``None`` when the answer announced none, e.g. after a timeout).
    """

    async def acquire(self) -> None:
        """Wait until one more request may be sent; raises ``RateLimited`` rather than wait past ``max_wait_s``."""
        ...

    async def observe(self, quota: Quota | None, *, charged: bool) -> None:
        """Record what an answer announced; ``charged`` says whether GitHub billed the request."""
        ...

    async def paused_for(self) -> float:
        """Seconds until requests may be sent again (0 when they may go now)."""
        ...


def reserve_of(limit: int, share: float) -> int:
    """The requests kept back from a budget of ``limit``."""
    return math.ceil(limit * share)


class _Pausing:
    """Sleeping until the budget allows more, logging each pause once rather than once per waiting caller."""

    max_wait_s: float | None
    _announced = 0.0

    async def _pause(self, resume_ts: float, *, recheck_s: float | None = None) -> None:
        """Sleep until ``resume_ts`` (or for ``recheck_s``, if shorter), or raise ``RateLimited`` if that is too
        long."""
        wait_s = resume_ts - time.time()
        reset_at = dt.datetime.fromtimestamp(resume_ts, dt.UTC)
        if self.max_wait_s is not None and wait_s > self.max_wait_s:
            raise RateLimited("GitHub budget spent", reset_at=reset_at)
        if resume_ts != self._announced:
            self._announced = resume_ts
            logger.warning("GitHub budget low: pausing %.0f s until %s", wait_s, reset_at.isoformat())
        await asyncio.sleep(min(wait_s, recheck_s) if recheck_s else wait_s)


class BudgetGate(_Pausing):
    """The in-process ``RateGate``: for one process that is the budget's only user (tests, a one-off crawl)."""

    def __init__(self, *, reserve_share: float = DEFAULT_RESERVE_SHARE, max_wait_s: float | None = None) -> None:
        self.reserve_share = reserve_share
        self.max_wait_s = max_wait_s
        self._remaining: int | None = None
        self._limit: int | None = None
        self._reset_ts: float | None = None
        self._paused_until = 0.0
        self._in_flight = 0
        self._observed = asyncio.Event()  # replaced after each answer, so waiters wake once per answer

    @property
    def remaining(self) -> int | None:
        """The estimated requests left in the current window (``None`` when unknown)."""
        if self._remaining is None:
            return None
        return self._remaining - self._in_flight

    async def acquire(self) -> None:
        while True:
            resume_ts = self._resume_ts(time.time())
            if resume_ts is None:
                self._in_flight += 1
                return
            if resume_ts < 0:
                await self._observed.wait()  # the budget is unknown: let the request in flight find it out
                continue
            await self._pause(resume_ts)

    def _resume_ts(self, now: float) -> float | None:
        """``None`` when a request may go now, -1 while the budget is being found out, else when to try again."""
        if self._paused_until > now:
            return self._paused_until
        if self._reset_ts is not None and self._reset_ts <= now:
            self._remaining = self._reset_ts = None  # a new window: unknown until the next answer
        if self._remaining is None or self._reset_ts is None:
            return -1 if self._in_flight else None
        limit = self._limit or self._remaining
        if self._remaining - self._in_flight <= reserve_of(limit, self.reserve_share):
            return self._reset_ts + 1.0
        return None

    async def observe(self, quota: Quota | None, *, charged: bool) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        self._observed.set()
        self._observed = asyncio.Event()
        if quota is None:
            return
        now = time.time()
        reset_ts = quota.reset_at.timestamp()
        if quota.remaining <= 0:
            self._paused_until = max(self._paused_until, reset_ts)
        if reset_ts <= now:
            return
        if quota.limit is not None:
            self._limit = quota.limit
        if self._remaining is None or self._reset_ts is None or reset_ts > self._reset_ts + 1:
            self._remaining, self._reset_ts = quota.remaining, reset_ts
        elif reset_ts >= self._reset_ts - 1:
            # Same window: answers arrive out of order, and the lowest count is the latest.
            self._remaining = min(self._remaining, quota.remaining)
        else:
            self._remaining, self._reset_ts = min(self._remaining, quota.remaining), reset_ts

    async def paused_for(self) -> float:
        resume_ts = self._resume_ts(time.time())
        return max(0.0, resume_ts - time.time()) if resume_ts is not None and resume_ts > 0 else 0.0


# The same rules as BudgetGate, run atomically in Redis. KEYS: the state hash, the in-flight sorted set (member:
# request id, score: when its lease ends, so a crashed worker's requests stop counting).
_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local state = redis.call('HMGET', KEYS[1], 'remaining', 'reset', 'limit', 'paused_until')
local paused = tonumber(state[4]) or 0
if paused > now then return tostring(paused) end
local in_flight = redis.call('ZCARD', KEYS[2])
local remaining, reset = tonumber(state[1]), tonumber(state[2])
if reset ~= nil and reset <= now then
  redis.call('HDEL', KEYS[1], 'remaining', 'reset')
  remaining, reset = nil, nil
end
if remaining == nil or reset == nil then
  if in_flight > 0 then return '-1' end
else
  local limit = tonumber(state[3]) or remaining
  if remaining - in_flight <= math.ceil(limit * tonumber(ARGV[2])) then return tostring(reset + 1) end
end
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[3])) + 1)
end
return '0'
"""

_OBSERVE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '' then return 0 end
local now, remaining, reset = tonumber(ARGV[5]), tonumber(ARGV[2]), tonumber(ARGV[3])
if remaining <= 0 then
  local paused = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
  if reset > paused then redis.call('HSET', KEYS[1], 'paused_until', ARGV[3]) end
end
if reset <= now then return 0 end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'limit', ARGV[4]) end
local state = redis.call('HMGET', KEYS[1], 'remaining', 'reset')
local old_remaining, old_reset = tonumber(state[1]), tonumber(state[2])
if old_remaining == nil or old_reset == nil or reset > old_reset + 1 then
  redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset', ARGV[3])
elseif reset >= old_reset - 1 then
  if remaining < old_remaining then redis.call('HSET', KEYS[1], 'remaining', remaining) end
else
  redis.call('HSET', KEYS[1], 'remaining', math.min(remaining, old_remaining), 'reset', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], 7200)
return 0
"""


class SharedBudget(_Pausing):
    """The ``RateGate`` every worker shares through Redis: the budget one worker learns of binds them all.

    State lives under ``changelogs:github:budget:<token digest>`` (a new token starts a new budget). Each request
    in flight holds a lease of ``lease_s`` seconds (longer than any request takes) so a worker that dies mid-request
    stops counting against the others. ``pace`` is awaited after every charged answer: the service passes Prefect's
    ``rate_limit("github-api")`` there, so the global limit's slot decay spreads the charged requests of all
    workers over time (paying after the fact keeps uncharged ``304`` answers from taking slots).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        token: str | None,
        reserve_share: float = DEFAULT_RESERVE_SHARE,
        max_wait_s: float | None = None,
        lease_s: float = 60.0,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        digest = hashlib.sha256(token.encode()).hexdigest()[:16] if token else "anonymous"
        self.key = f"changelogs:github:budget:{digest}"
        self._keys = [self.key, f"{self.key}:in-flight"]
        self.redis = redis
        self.reserve_share = reserve_share
        self.max_wait_s = max_wait_s
        self.lease_s = lease_s
        self._pace = pace
        self._acquire = redis.register_script(_ACQUIRE)
        self._observe = redis.register_script(_OBSERVE)
        self._held: collections.deque[str] = collections.deque()

    async def acquire(self) -> None:
        request_id = uuid.uuid4().hex
        while True:
            resume_ts = await self._ask(request_id)
            if resume_ts == 0:
                self._held.append(request_id)
                return
            if resume_ts < 0:
                await asyncio.sleep(_PROBE_POLL_S)
                continue
            await self._pause(resume_ts, recheck_s=_RECHECK_S)

    async def _ask(self, request_id: str) -> float:
        args = [repr(time.time()), repr(self.reserve_share), repr(self.lease_s), request_id]
        try:
            return float(await self._acquire(keys=self._keys, args=args))
        except RedisError as exc:
            raise QueueError(f"redis: {exc}") from exc

    async def observe(self, quota: Quota | None, *, charged: bool) -> None:
        # Any request this instance holds will do: the in-flight set only counts them.
        request_id = self._held.popleft() if self._held else ""
        args = [request_id, "", "", "", repr(time.time())]
        if quota is not None:
            args[1:4] = [str(quota.remaining), repr(quota.reset_at.timestamp()), str(quota.limit or "")]
        try:
            await self._observe(keys=self._keys, args=args)
        except RedisError as exc:
            raise QueueError(f"redis: {exc}") from exc
        if charged and self._pace is not None:
            await self._pace()

    async def paused_for(self) -> float:
        resume_ts = await self._ask("")
        return max(0.0, resume_ts - time.time()) if resume_ts > 0 else 0.0
