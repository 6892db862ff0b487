"""Rate limits in the shared cache.

- `rate_hit`: a fixed-window counter (the API's per-user request rate, forced refreshes). DRF's
  own throttle keeps a list of every request's timestamp and rewrites it on each request; a
  counter per window is all a per-user limit needs. A request that already counted its hit in its
  cache read (tasks.caching.read) passes the count in.
- `upstream_budget_take`: token buckets for what reaches the upstream (cache misses, refreshes,
  task lists, the worker's polls): one per user, pages and API together
  (PORTAL_UPSTREAM_USER_RATE), and one per project, protecting the Huawei quota everyone in the
  project shares (PORTAL_UPSTREAM_PROJECT_RATE). Both are taken together or not at all.

While the cache does not answer, every limit allows: an outage costs protection, not service.
"""

import math
import threading
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache

from tasks.caching.locks import shared_redis
from tasks.errors import PortalError

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """DRF's rate syntax: "30/min" → (30, 60)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0]]


def window(key: str, rate: str, now: float | None = None) -> tuple[str, int]:
    """(the cache key counting `key`'s hits in the current window, seconds it must live)."""
    _allowed, period = parse_rate(rate)
    now = time.time() if now is None else now
    return f"rate:{key}:{int(now // period)}", period + 1


def rate_hit(key: str, rate: str, *, counted: int | None = None) -> float | None:
    """Counts one hit against `rate` for `key` (or takes `counted`, the window counter's value
    after this request's own INCR); None when allowed, else seconds to wait."""
    allowed, period = parse_rate(rate)
    now = time.time()
    count = counted
    if count is None:
        window_key, expire = window(key, rate, now)
        count = _count(window_key, expire)
    if count is None or count <= allowed:
        return None
    return max(1.0, period - (now % period))


def _count(window_key: str, expire: int) -> int | None:
    client = shared_redis()
    if client is not None:
        made = cache.make_key(window_key)
        # INCR and EXPIRE in one round trip (Django's incr costs two: EXISTS, then INCRBY).
        pipe = client.pipeline(transaction=False)
        pipe.incr(made)
        pipe.expire(made, expire)
        try:
            return pipe.execute()[0]
        except redis.RedisError as exc:
            cache.outage(exc)  # type: ignore[attr-defined] # portal.cache
            return None
    try:
        return cache.incr(window_key)
    except ValueError:  # the window's first hit
        return 1 if cache.add(window_key, 1, timeout=expire) else cache.incr(window_key)


# ---- upstream budgets ----------------------------------------------------------------------------

#: KEYS: the buckets; ARGV: now, then (capacity, tokens per second) per bucket. Takes one token
#: from every bucket if each holds one, else none; answers 0, or the seconds until all would.
_TAKE = """
local now = tonumber(ARGV[1])
local levels, wait = {}, 0
for i, key in ipairs(KEYS) do
  local capacity, rate = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(state[1]) or capacity, tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
  levels[i] = tokens
  if tokens < 1 then wait = math.max(wait, (1 - tokens) / rate) end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local capacity, rate = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 'tokens', levels[i] - 1, 'at', now)
  redis.call('EXPIRE', key, math.ceil(capacity / rate) + 1)
end
return '0'
"""
_local_mutex = threading.Lock()


def _bucket(key: str, rate: str) -> tuple[str, int, float]:
    count, period = parse_rate(rate)
    return f"budget:{key}", count, count / period


def _take(buckets: list[tuple[str, int, float]], now: float) -> float:
    """Seconds to wait (0.0: taken)."""
    client = shared_redis()
    if client is not None:
        args: list[Any] = [now]
        for _key, capacity, per_second in buckets:
            args += [capacity, per_second]
        try:
            return float(
                client.eval(_TAKE, len(buckets), *(cache.make_key(b[0]) for b in buckets), *args)
            )
        except redis.RedisError as exc:
            cache.outage(exc)  # type: ignore[attr-defined] # portal.cache
            return 0.0
    with _local_mutex:  # local memory: one process, so a process-wide mutex is atomic enough
        states = cache.get_many([key for key, _c, _r in buckets])
        levels, wait = [], 0.0
        for key, capacity, per_second in buckets:
            tokens, at = states.get(key, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - at) * per_second)
            levels.append(tokens)
            if tokens < 1:
                wait = max(wait, (1 - tokens) / per_second)
        if wait:
            return wait
        for (key, capacity, per_second), tokens in zip(buckets, levels, strict=True):
            cache.set(key, (tokens - 1, now), math.ceil(capacity / per_second) + 1)
        return 0.0


def upstream_budget_take(*, project: Any, user: Any = None) -> None:
    """Spends one upstream call of `project`'s budget and, for a person's request, of `user`'s
    (the worker's polls pass no user: they count against the project only). Raises PortalError
    `throttled` (429, with `retry_after`) when either budget is spent."""
    buckets = [_bucket(f"project:{project.public_id}", settings.PORTAL_UPSTREAM_PROJECT_RATE)]
    if user is not None and getattr(user, "is_authenticated", False):
        buckets.insert(0, _bucket(f"user:{user.pk}", settings.PORTAL_UPSTREAM_USER_RATE))
    wait = _take(buckets, time.time())
    if wait > 0:
        raise PortalError("throttled", reason="upstream_budget", retry_after=max(1.0, wait))
