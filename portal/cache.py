"""The cache client: Django's Redis cache with one redis-py client per connection pool, one
pipelined read, and an outage that costs speed, not service.

- Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` for every cache operation;
  with redis-py 8 that is ~0.3 ms of response-callback set-up each time, more than the round trip
  itself. A `redis.Redis` is thread-safe and its pool is fork-aware (it resets itself in a child
  process), so one client per pool is all a process needs.
- `read_and_count()`: the reads and counter bumps of one request in one pipelined round trip.
- While Redis does not answer, reads answer as misses and writes are dropped (logged at most once
  every few seconds per process): every caller already handles a miss, so pages, the API and the
  sessions (read from the database, `cached_db`) keep working, slower. `/healthz` reports the cache
  as failing meanwhile (its probe write never reads back). Keys under the prefixes the setting
  names `LOCAL_DURING_OUTAGE` (content that is the same for every process and checked on use, like
  a task's document: never epochs, sessions, locks or counters) are kept in this process's memory
  meanwhile, so the outage does not send every read to the upstream.
"""

import logging
import pickle
import threading
import time
from typing import Any

import redis
from django.core.cache.backends import redis as django_redis

logger = logging.getLogger(__name__)

#: Seconds between two "Redis does not answer" log lines of one process.
LOG_EVERY = 10.0
#: After a failed operation, Redis is not asked again for this long (each try costs a connect).
PAUSE = 1.0
#: Entries kept in memory during an outage; the store starts over when full.
OUTAGE_MAX = 5_000


class _OutageStore:
    """This process's memory for LOCAL_DURING_OUTAGE keys while Redis does not answer."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._mutex = threading.Lock()

    def holds(self, key: str) -> bool:
        return key.startswith(self.prefixes) if self.prefixes else False

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return default
        return pickle.loads(entry[1])  # noqa: S301 - our own values, pickled below

    def set(self, key: str, value: Any, timeout: float | None) -> None:
        expires = time.monotonic() + (timeout if timeout is not None else 300)
        with self._mutex:
            if len(self._entries) >= OUTAGE_MAX:
                self._entries.clear()
            self._entries[key] = (expires, pickle.dumps(value, pickle.HIGHEST_PROTOCOL))

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key=None, *, write=False) -> redis.Redis:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(
                connection_pool=self._get_connection_pool(write)
            )
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._outage_store = _OutageStore(tuple(params.get("LOCAL_DURING_OUTAGE", ())))
        self._logged_at = 0.0
        #: When the last operation failed (time.monotonic()), 0.0 when it worked.
        self.failed_at = 0.0

    def redis(self) -> redis.Redis:
        """The redis-py client behind this cache (for locks and pipelines). Its errors are the
        caller's to handle (`redis.RedisError`)."""
        return self._cache.get_client(write=True)

    def outage(self, exc: Exception) -> None:
        """Records a failed operation (logged at most once every LOG_EVERY seconds)."""
        now = time.monotonic()
        self.failed_at = now
        if now - self._logged_at >= LOG_EVERY:
            self._logged_at = now
            logger.warning("cache: Redis does not answer (%s); serving without it", exc)

    def paused(self) -> bool:
        """Whether Redis failed moments ago: then it is not asked (answers as misses at once)."""
        return bool(self.failed_at) and time.monotonic() - self.failed_at < PAUSE

    def _tolerant(self, default: Any, operation, *args, **kwargs) -> Any:
        if self.paused():
            return default
        try:
            result = operation(*args, **kwargs)
        except redis.RedisError as exc:
            self.outage(exc)
            return default
        self.failed_at = 0.0
        return result

    def add(self, key, value, timeout=django_redis.DEFAULT_TIMEOUT, version=None) -> bool:
        return self._tolerant(False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None) -> Any:
        missing = object()
        found = self._tolerant(missing, super().get, key, default, version)
        if found is not missing:
            return found
        return self._outage_store.get(key, default) if self._outage_store.holds(key) else default

    def set(self, key, value, timeout=django_redis.DEFAULT_TIMEOUT, version=None) -> None:
        missing = object()
        failed = self._tolerant(missing, super().set, key, value, timeout, version) is missing
        if failed and self._outage_store.holds(key):
            self._outage_store.set(key, value, self.get_backend_timeout(timeout))

    def touch(self, key, timeout=django_redis.DEFAULT_TIMEOUT, version=None) -> bool:
        return self._tolerant(False, super().touch, key, timeout, version)

    def delete(self, key, version=None) -> bool:
        self._outage_store.delete(key)
        return self._tolerant(False, super().delete, key, version)

    def get_many(self, keys, version=None) -> dict:
        missing: dict = {}
        found = self._tolerant(missing, super().get_many, keys, version)
        if found is not missing:
            return found
        store = self._outage_store
        held = {key: store.get(key) for key in keys if store.holds(key)}
        return {key: value for key, value in held.items() if value is not None}

    def has_key(self, key, version=None) -> bool:
        return self._tolerant(False, super().has_key, key, version)

    def set_many(self, data, timeout=django_redis.DEFAULT_TIMEOUT, version=None) -> list:
        return self._tolerant(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None) -> None:
        return self._tolerant(None, super().delete_many, keys, version)

    def read_and_count(
        self, keys: list[str], counters: list[tuple[str, int]]
    ) -> tuple[dict[str, Any], dict[str, int]]:
        """GET of every key and INCR + EXPIRE of each `(key, expire_seconds)` counter in one
        pipelined round trip: ({key: value} of the keys that exist, {counter key: count}). Keys
        are unprefixed, as for get_many(). Raises redis.RedisError when Redis does not answer."""
        if self.paused():
            raise redis.ConnectionError("Redis failed moments ago (portal.cache.PAUSE)")
        pipe = self.redis().pipeline(transaction=False)
        # make_key, not make_and_validate_key: the validation (memcached's key rules, checked char
        # by char in Python) only warns, and costs more than packing the round trip.
        if keys:
            pipe.mget([self.make_key(key) for key in keys])
        for key, expire in counters:
            made = self.make_key(key)
            pipe.incr(made)
            pipe.expire(made, expire)
        try:
            replies = pipe.execute()
        except redis.RedisError as exc:
            self.outage(exc)
            raise
        self.failed_at = 0.0
        found: dict[str, Any] = {}
        if keys:
            loads = self._cache._serializer.loads
            found = {k: loads(v) for k, v in zip(keys, replies[0], strict=True) if v is not None}
            replies = replies[1:]
        counts = {key: replies[2 * i] for i, (key, _expire) in enumerate(counters)}
        return found, counts
