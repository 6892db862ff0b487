"""Reusable pytest fixtures for the VAS simulator (Django-free).

A pytest plugin: `tests/conftest.py` lists it in `pytest_plugins`, so every test file has them.

One server runs per test session (a real socket on 127.0.0.1, any free port); ``simulator`` resets
its state (tasks, faults, counts, tokens) before and after each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tasks.vas import AkSkAuth, VasClient
from vassim.simulator import (
    DEFAULT_AK,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    RunningServer,
    Simulator,
    serve,
)

__all__ = ["_simulator_session", "simulator", "simulator_server", "vas_client"]


@pytest.fixture(scope="session")
def _simulator_session() -> Iterator[RunningServer]:
    with serve(Simulator()) as server:
        yield server


@pytest.fixture
def simulator(_simulator_session: RunningServer) -> Iterator[Simulator]:
    """The live simulator's state, freshly seeded for this test."""
    sim = _simulator_session.simulator
    sim.reset()
    yield sim
    sim.reset()


@pytest.fixture
def simulator_server(simulator: Simulator, _simulator_session: RunningServer) -> RunningServer:
    """The running server (``.url`` like ``http://127.0.0.1:PORT``, ``.simulator``)."""
    return _simulator_session


@pytest.fixture
def vas_client(simulator_server: RunningServer) -> Callable[..., VasClient]:
    """Factory for a VasClient signed with the simulator's default AK/SK; kwargs override."""

    def make(**kwargs: Any) -> VasClient:
        options: dict[str, Any] = {
            "endpoint": simulator_server.url,
            "project_id": DEFAULT_PROJECT_ID,
            "auth": AkSkAuth(DEFAULT_AK, DEFAULT_SK, project_id=DEFAULT_PROJECT_ID),
            "timeout": (2.0, 3.0),
            "allowed_hosts": ["127.0.0.1"],
        }
        options.update(kwargs)
        return VasClient(**options)

    return make
