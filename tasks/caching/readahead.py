"""One cache round trip for the keys a request is about to read (and the counters it bumps),
started before the request is handled.

A cached task request reads a token epoch, a user epoch, a project epoch and the task entry, and
bumps the user's rate-limit counter: five round trips if each layer asks the cache itself, each
one a wait for Redis. portal.middleware.ReadAheadMiddleware, first in the stack, asks the
resolved view which keys its request will read (from the URL, the presented token or session and
what this process has already memoised) and sends them all at once with `readahead(...)`; Redis
answers while the rest of the middleware runs. While the block is active, `get_many()` and
`counted()` answer from that batch (each key as many times as it was planned, then from the
cache again: it may have been written since), and anything else falls through to the cache.
A wrong guess costs nothing but the unused keys: every layer still checks what it reads.
"""

import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache, caches

from portal.cache import RedisCache

logger = logging.getLogger(__name__)

_ABSENT = object()


class _Batch:
    """The answers, each served as many times as its key was asked for (a key that two layers
    read, like a user's epoch, is listed twice), then gone."""

    def __init__(self, keys: list[str], counters: list[tuple[str, int]]) -> None:
        self.uses = Counter(keys)
        keys = self._keys = list(self.uses)
        self._values: dict[str, Any] | None = None
        self._finish = None
        backend = caches["default"]
        try:
            if isinstance(backend, RedisCache):
                self._finish = backend.start_read_and_count(keys, counters)
            else:  # local memory: nothing to overlap, and no shared counters
                found = cache.get_many(keys)
                self._finish = lambda: (found, {})
        except Exception:  # the cache is down: every layer asks (and handles that) itself
            logger.warning("read-ahead could not be sent", exc_info=True)

    def values(self) -> dict[str, Any]:
        if self._values is None:
            self._values = {}
            if self._finish is not None:
                try:
                    found, counts = self._finish()
                except Exception:
                    logger.warning("read-ahead answer could not be read", exc_info=True)
                else:
                    self._values = {key: found.get(key, _ABSENT) for key in self._keys}
                    self._values.update({f"count:{key}": n for key, n in counts.items()})
        return self._values


_batch: ContextVar[_Batch | None] = ContextVar("readahead", default=None)


@contextlib.contextmanager
def readahead(keys: Iterable[str], counters: Iterable[tuple[str, int]] = ()) -> Iterator[None]:
    """Sends the reads of `keys` and the INCR of each `(key, expire_seconds)` counter (Redis
    only) now, and serves them from memory until the block ends."""
    batch = _Batch(list(keys), list(counters))
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
        batch.values()  # an unread answer is read, so the connection goes back clean


def get_many(keys: list[str]) -> dict[str, Any]:
    """`cache.get_many(keys)`, answered from the batch when it read every one of them. Each
    value is served once: a second read of a key asks the cache (it may have changed since)."""
    batch = _batch.get()
    if batch is not None:
        values = batch.values()
        if all(key in values for key in keys):
            found = {}
            for key in keys:
                value = values[key]
                batch.uses[key] -= 1
                if batch.uses[key] <= 0:
                    del values[key]
                if value is not _ABSENT:
                    found[key] = value
            return found
    return cache.get_many(keys)


def get(key: str) -> Any:
    return get_many([key]).get(key)


def forget(key: str) -> None:
    """A write to `key` during the request: its value in the batch is out of date."""
    batch = _batch.get()
    if batch is not None:
        batch.values().pop(key, None)


def counted(key: str) -> int | None:
    """The value the batch's INCR of `key` returned (once: a second hit counts again)."""
    batch = _batch.get()
    return None if batch is None else batch.values().pop(f"count:{key}", None)
