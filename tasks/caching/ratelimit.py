"""Fixed-window rate limits in the shared cache: one round trip a hit, or none when the hit was
already counted in the request's read-ahead batch (tasks.caching.readahead).

DRF's own throttle keeps a list of every request's timestamp and rewrites it on each request;
a counter per window is all a per-user limit needs.
"""

import time

from django.core.cache import cache

from tasks.caching import readahead
from tasks.caching.locks import shared_redis

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


def rate_hit(key: str, rate: str) -> float | None:
    """Counts one hit against `rate` for `key`; None when allowed, else seconds to wait."""
    allowed, period = parse_rate(rate)
    now = time.time()
    window_key, expire = window(key, rate, now)
    count = readahead.counted(window_key)
    if count is None:
        client = shared_redis()
        if client is not None:
            # INCR and EXPIRE in one round trip (Django's incr costs two: EXISTS, then INCRBY).
            pipe = client.pipeline(transaction=False)
            pipe.incr(cache.make_key(window_key))
            pipe.expire(cache.make_key(window_key), expire)
            count = pipe.execute()[0]
        else:
            count = _local_count(window_key, expire)
    if count <= allowed:
        return None
    return max(1.0, period - (now % period))


def _local_count(window_key: str, expire: int) -> int:
    try:
        return cache.incr(window_key)
    except ValueError:  # the window's first hit
        return 1 if cache.add(window_key, 1, timeout=expire) else cache.incr(window_key)
