"""Fixed-window rate limits in the shared cache: one `add` and one `incr` a hit.

DRF's own throttle keeps a list of every request's timestamp and rewrites it on each request;
a counter per window is all a per-user limit needs, and costs one cache round trip.
"""

import time

from django.core.cache import cache

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """DRF's rate syntax: "30/min" → (30, 60)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0]]


def rate_hit(key: str, rate: str) -> float | None:
    """Counts one hit against `rate` for `key`; None when allowed, else seconds to wait."""
    allowed, period = parse_rate(rate)
    now = time.time()
    window_key = f"rate:{key}:{int(now // period)}"
    cache.add(window_key, 0, timeout=period + 1)
    try:
        count = cache.incr(window_key)
    except ValueError:  # evicted between add and incr
        cache.set(window_key, 1, timeout=period + 1)
        count = 1
    if count <= allowed:
        return None
    return max(1.0, period - (now % period))
