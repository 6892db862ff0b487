"""Fixed-window rate limits in the shared cache: one `incr` a hit.

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
    try:
        count = cache.incr(window_key)  # one round trip once the window has started
    except ValueError:  # the window's first hit
        count = 1 if cache.add(window_key, 1, timeout=period + 1) else cache.incr(window_key)
    if count <= allowed:
        return None
    return max(1.0, period - (now % period))
