"""Fixtures for VIAS tests (Django-free): a client factory for the live simulator and the seed ids.

A pytest plugin (tests/conftest.py lists it in `pytest_plugins`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tasks.vas import AkSkAuth, ViasClient
from vassim import vias as sim_vias
from vassim.simulator import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, RunningServer

__all__ = ["vias_client", "vias_ids"]


@pytest.fixture
def vias_client(simulator_server: RunningServer) -> Callable[..., ViasClient]:
    """Factory for a ViasClient signed with the simulator's default AK/SK; kwargs override."""

    def make(**kwargs: Any) -> ViasClient:
        options: dict[str, Any] = {
            "endpoint": simulator_server.url,
            "project_id": DEFAULT_PROJECT_ID,
            "auth": AkSkAuth(DEFAULT_AK, DEFAULT_SK, project_id=DEFAULT_PROJECT_ID),
            "timeout": (2.0, 3.0),
            "allowed_hosts": ["127.0.0.1"],
        }
        options.update(kwargs)
        return ViasClient(**options)

    return make


@pytest.fixture
def vias_ids() -> dict[str, str]:
    """The simulator's VIAS seed task ids by task name."""
    return sim_vias.seeded_ids()
