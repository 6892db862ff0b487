"""One cache round trip for the keys a request is about to read (and the counters it bumps).

A cached task request reads a token epoch, a user epoch, a project epoch and the task entry, and
bumps the user's rate-limit counter: five round trips if each layer asks the cache itself. A view
that can name those keys up front (from the URL, the presented token and what this process has
already memoised) fetches them all in one pipeline with `readahead(...)`; while it is active,
`get_many()` and `counted()` answer from that batch, and anything else falls through to the cache.
A wrong guess costs nothing but the unused keys: every layer still checks what it reads.
"""

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache, caches

from portal.cache import RedisCache

_ABSENT = object()
_batch: ContextVar[dict[str, Any] | None] = ContextVar("readahead", default=None)


@contextlib.contextmanager
def readahead(keys: Iterable[str], counters: Iterable[tuple[str, int]] = ()) -> Iterator[None]:
    """Reads `keys` and INCRs each `(key, expire_seconds)` counter (Redis only) in one round
    trip, and serves them from memory until the block ends."""
    keys, counters = list(keys), list(counters)
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        found, counts = backend.read_and_count(keys, counters)
    else:
        found, counts = cache.get_many(keys), {}
    batch = {key: found.get(key, _ABSENT) for key in keys}
    batch.update({f"count:{key}": count for key, count in counts.items()})
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)


def get_many(keys: list[str]) -> dict[str, Any]:
    """`cache.get_many(keys)`, answered from the batch when it read every one of them. Each
    value is served once: a second read of a key asks the cache (it may have changed since)."""
    batch = _batch.get()
    if batch is not None and all(key in batch for key in keys):
        values = [(key, batch.pop(key)) for key in keys]
        return {key: value for key, value in values if value is not _ABSENT}
    return cache.get_many(keys)


def get(key: str) -> Any:
    return get_many([key]).get(key)


def forget(key: str) -> None:
    """A write to `key` during the request: its value in the batch is out of date."""
    batch = _batch.get()
    if batch is not None:
        batch.pop(key, None)


def counted(key: str) -> int | None:
    """The value the batch's INCR of `key` returned (once: a second hit counts again)."""
    batch = _batch.get()
    return None if batch is None else batch.pop(f"count:{key}", None)
