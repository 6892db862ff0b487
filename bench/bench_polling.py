"""Benchmark 4: the per-task fetch path over 500 watched tasks, at concurrency 1 and 8.

(`poll_tasks` polls through the service's list since the monitor, bench_monitor.py; this keeps
measuring the one-ShowTask-per-task path it used before, which the pages and the tasks missing
from a list still take.)

    .venv/bin/python bench/bench_polling.py [--tasks 500] [--delay-ms 50]

The simulator (its own process) serves 500 extra tasks and adds 50 ms to every API call; the
portal watches all of them. `poll_tasks` runs in this process (call_command, timed around the
command alone): once at concurrency 8 to record every task (not timed), then timed at 1 and at 8.
The simulator counts the calls of each timed run per task. Targets: ≥ 5× faster at 8, and exactly
one upstream call per task per run.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from collections import Counter

import harness

warnings.simplefilter("ignore")


def _per_task(concurrency: int, task_ids: list[str]) -> str:
    """Each watched task fetched alone (task_fetch, refresh), `concurrency` at once."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from tasks.models import TrackedTask
    from tasks.services.task_fetch import task_fetch

    watched = list(TrackedTask.objects.filter(watched=True).select_related("project"))

    def one(tracked) -> bool:
        try:
            result = task_fetch(
                project=tracked.project,
                service=tracked.service,
                task_id=tracked.task_id,
                refresh=True,
            )
            return result.meta["source"] == "upstream"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        ok = sum(pool.map(one, watched))
    return f"polled {len(watched)} watched task(s): {ok} fetched, {len(watched) - ok} failed"


def poll(stack: harness.Stack, concurrency: int, task_ids: list[str]) -> tuple[float, str, Counter]:
    stack.sim("DELETE", "/_sim/counts")
    out = io.StringIO()
    started = time.perf_counter()
    out.write(_per_task(concurrency, task_ids))
    seconds = time.perf_counter() - started
    counts = stack.sim_counts()
    per_task = Counter(
        {
            task_id: sum(n for key, n in counts.items() if key.rstrip("/").endswith(task_id))
            for task_id in task_ids
        }
    )
    return seconds, out.getvalue().strip(), per_task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--delay-ms", type=int, default=50)
    options = parser.parse_args()
    harness.time_limit(170)
    from simserver import bench_task_id

    with harness.Stack(
        workers=0, extra_tasks=options.tasks, sim_delay_ms=options.delay_ms
    ) as stack:
        harness.log(f"stack: poll_tasks in-process, {stack.describe()}")
        task_ids = [bench_task_id(i) for i in range(options.tasks)]
        harness.seed_tracked(stack.project, task_ids, watched=True)
        warm, summary, _ = poll(stack, 8, task_ids)
        harness.log(f"first poll (records every task, not timed) {warm:.1f} s: {summary}")
        # 8, 1, 8: the mean of the two runs at 8 cancels a drift in the machine's load.
        runs: dict[int, list[float]] = {1: [], 8: []}
        exact = True
        for concurrency in (8, 1, 8):
            seconds, summary, per_task = poll(stack, concurrency, task_ids)
            runs[concurrency].append(seconds)
            exact = exact and set(per_task.values()) == {1} and len(per_task) == options.tasks
            calls = Counter(per_task.values())
            harness.log(
                f"concurrency {concurrency}: {seconds:.2f} s, {summary}; calls per task "
                f"{dict(sorted(calls.items()))}"
            )
        describe = stack.describe()

    at_1, at_8 = runs[1][0], sum(runs[8]) / len(runs[8])
    speedup = at_1 / at_8
    ok = "met" if speedup >= 5 and exact else "MISSED"
    harness.log(
        f"bench_polling: {options.tasks} watched tasks, upstream +{options.delay_ms} ms/call: "
        f"concurrency 1 {at_1:.2f} s, 8 {at_8:.2f} s (mean of "
        f"{' and '.join(f'{s:.2f}' for s in runs[8])}) → {speedup:.1f}× [target ≥ 5×]; "
        f"upstream calls per task exactly 1: {'yes' if exact else 'NO'}; {describe}: {ok}"
    )


if __name__ == "__main__":
    main()
