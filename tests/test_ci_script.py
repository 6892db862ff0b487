"""`.ci/run`: under CI a PostgreSQL or Redis that does not answer fails the run instead of
skipping it; outside CI the second run is skipped and says why."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ci_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # CI_START_SERVICES=false: never start (or touch) the machine's shared services from a test.
    environ = {**os.environ, "CI_START_SERVICES": "false", **env}
    return subprocess.run(  # noqa: S603 - our own script
        ["bash", ".ci/run", *args],  # noqa: S607
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_under_ci_a_redis_that_does_not_answer_fails_the_run():
    result = _ci_run("--services", CI="true", CI_REDIS_PORT=str(_free_port()))
    assert result.returncode == 1
    assert "Redis is down" in result.stderr and "FAILED" in result.stderr


def test_under_ci_a_postgresql_that_does_not_answer_fails_the_run():
    result = _ci_run("--services", CI="true", CI_PG_PORT=str(_free_port()))
    assert result.returncode == 1
    assert "PostgreSQL is down" in result.stderr


def test_outside_ci_the_second_run_is_skipped_and_says_why():
    result = _ci_run("--services", CI="false", CI_REDIS_PORT=str(_free_port()))
    assert result.returncode == 0
    assert "run 2 skipped (not CI)" in result.stdout and "Redis is down" in result.stdout


def _pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`.ci/run --pytest` on a throwaway folder: its own empty config, no plugins (fast)."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    return _ci_run(
        "--pytest",
        "-c",
        str(folder / "pytest.ini"),
        str(folder),
        *args,
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
