"""One cache round trip for what a request is about to read.

A warm task request needs its token's (or session user's) epoch, the project's epoch, the task
entry (and for the page its rendered body and watched flag), and bumps its user's rate counter:
five round trips if each layer asks the cache itself. The view that knows the request (the API's
shared `initial()`, the task page once the session's user is known) names every key it will read,
reads them with `cache_read()`, and hands the answer to what needs it as an argument
(`cached=...`). Every key is a function of the request: the token's digest (and its owner, which
never changes), the session's user, the project's public id and the URL.

On Redis it is one pipelined MGET + INCR/EXPIRE (portal.cache.RedisCache.read_and_count); on
any other cache (local memory: one process) a `get_many()`, and counters are counted where they
are used. When Redis does not answer, the read is empty and every layer asks for itself (and gets
misses): slower, not broken.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache, caches
from redis import RedisError


@dataclass(frozen=True)
class CacheRead:
    """The answers of one read: what exists among the keys asked, and the counters' new values."""

    asked: frozenset[str] = frozenset()
    found: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any] | None:
        """{key: value} of those of `keys` that exist, or None unless every one was asked."""
        keys = list(keys)
        if not all(key in self.asked for key in keys):
            return None
        return {key: self.found[key] for key in keys if key in self.found}

    def get(self, key: str, default: Any = None) -> Any:
        """The value read for `key` (default when it was absent or not asked)."""
        return self.found.get(key, default)

    def count(self, key: str) -> int | None:
        """The counter's value after this read's INCR, or None when it was not counted here."""
        return self.counts.get(key)


EMPTY = CacheRead()


def cache_read(keys: Iterable[str], counters: Iterable[tuple[str, int]] = ()) -> CacheRead:
    """Reads `keys` and (Redis only) INCRs each `(key, expire_seconds)` counter, at once."""
    keys = list(dict.fromkeys(keys))
    counters = list(counters)
    backend = caches["default"]
    read_and_count = getattr(backend, "read_and_count", None)
    if read_and_count is None:
        return CacheRead(frozenset(keys), cache.get_many(keys) if keys else {})
    if not keys and not counters:
        return EMPTY
    try:
        found, counts = read_and_count(keys, counters)
    except RedisError:  # logged by the cache client; every layer reads (and misses) itself
        return EMPTY
    return CacheRead(frozenset(keys), found, counts)
