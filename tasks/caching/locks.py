"""Short-lived named locks shared by every process that shares the cache.

With Redis, redis-py's own `Lock` (SET NX PX plus a Lua compare-and-delete), so a lock expires on
its own if its holder dies and a holder never releases a lock it no longer owns. With any other
cache (local memory: one process), `cache.add` plus a token check under a process-wide mutex gives
the same guarantees within the only process that can see the lock. While Redis does not answer,
the lock falls back to this process's own: single-flight per process instead of per site.
"""

import contextlib
import threading
import uuid

import redis
from django.core.cache import caches

_local_mutex = threading.Lock()
#: Locks held in this process while Redis does not answer (name → token).
_held: dict[str, str] = {}


def shared_redis() -> redis.Redis | None:
    """The Redis client behind the default cache (same pool), or None when it is not Redis."""
    backend = caches["default"]
    client = getattr(backend, "redis", None)
    return client() if client is not None else None


class NamedLock:
    """`acquire()` never blocks; `release()` frees the lock only if this holder still owns it.
    `timeout` is how long the lock outlives a holder that dies: size it to the holder's work."""

    def __init__(self, name: str, *, timeout: float) -> None:
        self.name = f"lock:{name}"
        self.timeout = timeout
        self._token = uuid.uuid4().hex
        self._local = False
        client = shared_redis()
        self._redis_lock = (
            client.lock(caches["default"].make_key(self.name), timeout=timeout, blocking=False)
            if client is not None
            else None
        )

    def acquire(self) -> bool:
        if self._redis_lock is not None:
            try:
                return bool(self._redis_lock.acquire(blocking=False))
            except redis.RedisError as exc:
                caches["default"].outage(exc)  # type: ignore[attr-defined] # logged there; single-flight per process meanwhile
                self._local = True
                with _local_mutex:
                    if self.name in _held:
                        return False
                    _held[self.name] = self._token
                    return True
        return caches["default"].add(self.name, self._token, timeout=self.timeout)

    def release(self) -> None:
        if self._local:
            with _local_mutex:
                if _held.get(self.name) == self._token:
                    del _held[self.name]
            return
        if self._redis_lock is not None:
            # LockError: expired and perhaps taken by another holder, so not ours to free.
            with contextlib.suppress(redis.exceptions.LockError, redis.RedisError):
                self._redis_lock.release()
            return
        cache = caches["default"]
        with _local_mutex:
            if cache.get(self.name) == self._token:
                cache.delete(self.name)
