"""Helpers shared by tests (not fixtures): real threads started at one instant, a fake resolver
and a record of the addresses sockets connect to."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_concurrently(*calls: Callable[[], Any], timeout: float = 30.0) -> list[Any]:
    """Runs each call in its own thread, all released at once by a barrier, and answers each
    call's return value or the exception it raised, in the order given. Each thread closes its
    own database connection, so a test with `django_db(transaction=True)` leaves none open."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test to assert on
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a concurrent call did not finish in time"
    return results


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def resolve_to(monkeypatch: Any, address: str) -> None:
    """Every name resolves to `address` (``socket.getaddrinfo`` patched)."""

    def getaddrinfo(host, port, *args, **kwargs):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def record_connects(monkeypatch: Any) -> list[object]:
    """Every address a socket connects to from now on (the real connect still runs)."""
    seen: list[object] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        seen.append(address)
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen
