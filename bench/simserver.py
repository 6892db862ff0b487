"""The built-in VAS simulator as a subprocess for the benchmarks, with extra tasks when asked.

    .venv/bin/python bench/simserver.py --port N [--delay-ms N] [--extra-tasks N]

Like `manage.py runsimulator` (same Simulator, same control endpoints under /_sim/), plus
`--extra-tasks N`: N more RUNNING `c-face-edge` tasks whose ids are `bench_task_id(i)`. Serves on
127.0.0.1 only, until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vassim.simulator import TASK_A_ID, Simulator, seed_tasks, serve_forever  # noqa: E402


def bench_task_id(index: int) -> str:
    """The id of extra task `index` (32 hex digits, as the simulator and the upstream expect)."""
    return hashlib.md5(f"bench-task-{index}".encode(), usedforsecurity=False).hexdigest()


def add_extra_tasks(simulator: Simulator, count: int) -> None:
    template = next(doc for doc, _options in seed_tasks() if doc["id"] == TASK_A_ID)
    for index in range(count):
        doc = copy.deepcopy(template)
        doc["id"] = bench_task_id(index)
        doc["name"] = f"bench-task-{index:05d}"
        simulator.add_task(doc, service="c-face-edge")


class _ExtraTasksSimulator(Simulator):
    """`POST /_sim/reset` keeps the extra tasks."""

    extra = 0

    def reset(self) -> None:
        super().reset()
        add_extra_tasks(self, self.extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--extra-tasks", type=int, default=0)
    options = parser.parse_args()
    _ExtraTasksSimulator.extra = options.extra_tasks
    simulator = _ExtraTasksSimulator(delay=options.delay_ms / 1000.0)

    def stop(*_args: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(simulator, "127.0.0.1", options.port)


if __name__ == "__main__":
    main()
