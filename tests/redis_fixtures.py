"""A private Redis for the tests of the Redis-only paths (pipelined read, locks, budgets, the
cache going away), started on a free port; never the shared one. A pytest plugin (conftest.py's
`pytest_plugins`).

- `private_redis`: the server (session-wide); `.stop()` and `.start()` for outage tests.
- `redis_cache`: the default cache is portal.cache.RedisCache on it, emptied around the test.
- `redis_round_trips`: counts the round trips to Redis made inside its `with` block.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server")
needs_redis_server = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("the private redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def flush(self) -> None:
        redis.Redis(port=self.port).flushdb()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server not installed")
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def redis_cache_settings(url: str) -> dict:
    """As portal/settings.py configures a Redis CACHE_URL."""
    from django.conf import settings

    return {
        "default": {
            "BACKEND": "portal.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "vp_test",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
            "LOCAL_DURING_OUTAGE": settings.CACHE_LOCAL_DURING_OUTAGE,
        }
    }


@pytest.fixture
def redis_cache(settings, private_redis: PrivateRedis) -> Iterator[PrivateRedis]:
    if private_redis._proc is None:
        private_redis.start()
    private_redis.flush()
    settings.CACHES = redis_cache_settings(private_redis.url)
    yield private_redis
    if private_redis._proc is None:  # a test stopped it
        private_redis.start()
    private_redis.flush()


class RoundTrips:
    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def redis_round_trips(monkeypatch):
    """`with redis_round_trips() as trips: ...` then `trips.count`."""

    @contextlib.contextmanager
    def counting() -> Iterator[RoundTrips]:
        trips = RoundTrips()
        send = redis.Connection.send_packed_command

        def counted(self, *args, **kwargs):
            trips.count += 1
            return send(self, *args, **kwargs)

        monkeypatch.setattr(redis.Connection, "send_packed_command", counted)
        try:
            yield trips
        finally:
            monkeypatch.setattr(redis.Connection, "send_packed_command", send)

    return counting
