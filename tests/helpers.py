"""Helpers shared by tests (not fixtures): real threads started at one instant."""

from __future__ import annotations

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
