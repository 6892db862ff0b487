"""Short-lived named locks shared by every process that shares the cache.

With Redis, redis-py's own `Lock` (SET NX PX plus a Lua compare-and-delete), so a lock expires on
its own if its holder dies and a holder never releases a lock it no longer owns. With any other
cache (local memory: one process), `cache.add` plus a token check under a process-wide mutex gives
the same guarantees within the only process that can see the lock.
"""

import contextlib
import threading
import uuid

import redis
from django.core.cache import cache, caches

from portal.cache import RedisCache

_local_mutex = threading.Lock()


def shared_redis() -> redis.Redis | None:
    """The Redis client behind the default cache (same pool), or None when it is not Redis."""
    backend = caches["default"]
    return backend.redis() if isinstance(backend, RedisCache) else None


class NamedLock:
    """`acquire()` never blocks; `release()` frees the lock only if this holder still owns it."""

    def __init__(self, name: str, *, timeout: float) -> None:
        self.name = f"lock:{name}"
        self.timeout = timeout
        self._token = uuid.uuid4().hex
        client = shared_redis()
        self._redis_lock = (
            client.lock(cache.make_key(self.name), timeout=timeout, blocking=False)
            if client is not None
            else None
        )

    def acquire(self) -> bool:
        if self._redis_lock is not None:
            return bool(self._redis_lock.acquire(blocking=False))
        return cache.add(self.name, self._token, timeout=self.timeout)

    def release(self) -> None:
        if self._redis_lock is not None:
            # LockError: expired and perhaps taken by another holder, so not ours to free.
            with contextlib.suppress(redis.exceptions.LockError):
                self._redis_lock.release()
            return
        with _local_mutex:
            if cache.get(self.name) == self._token:
                cache.delete(self.name)
