"""Benchmark 2: a stampede on a cold task costs the upstream exactly one call.

    .venv/bin/python bench/bench_stampede.py [--requests 50] [--tasks 5]

gunicorn runs the production default of 2 × cores + 1 sync workers against Redis (the locks and
the cache must be shared by every worker; with the local-memory fallback each worker has its own,
which the output says). For each of several cold tasks, `--requests` clients released at once by a
barrier ask the task API for it while the simulator holds that task's answer for 300 ms; the
simulator counts the calls it got for the task. Target: exactly 1 per task, every answer 200.
"""

from __future__ import annotations

import argparse
import threading
import warnings
from collections import Counter

import harness

warnings.simplefilter("ignore")

SIM_DELAY_SECONDS = 0.3


def _client(
    stack: harness.Stack,
    task_id: str,
    barrier: threading.Barrier,
    answers: list[harness.Answer],
    lock: threading.Lock,
) -> None:
    barrier.wait(timeout=30)
    answer = stack.get_task(task_id, timeout=30)
    with lock:
        answers.append(answer)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=5)
    options = parser.parse_args()
    harness.time_limit(170)
    from simserver import bench_task_id

    workers = 2 * harness.nproc() + 1
    with harness.Stack(workers=workers, extra_tasks=options.tasks) as stack:
        harness.log(f"stack: {stack.describe()}")
        if not stack.shared_cache:
            harness.log("note: no shared cache (Redis): each worker single-flights on its own")
        per_task: list[int] = []
        statuses: Counter[int] = Counter()
        slowest = 0.0
        for index in range(options.tasks):
            task_id = bench_task_id(index)
            stack.sim(
                "POST",
                "/_sim/faults",
                {task_id: {"mode": "delay", "seconds": SIM_DELAY_SECONDS}},
            )
            barrier = threading.Barrier(options.requests)
            answers: list[harness.Answer] = []
            lock = threading.Lock()

            threads = [
                threading.Thread(target=_client, args=(stack, task_id, barrier, answers, lock))
                for _ in range(options.requests)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            calls = stack.upstream_calls(task_id)
            per_task.append(calls)
            statuses.update(a.status for a in answers)
            slowest = max([slowest, *(a.seconds for a in answers)])
            sources = Counter(a.json()["meta"]["source"] for a in answers if a.status == 200)
            harness.log(
                f"task {index + 1}: {len(answers)} answers "
                f"{dict(Counter(a.status for a in answers))}, sources {dict(sources)}, "
                f"upstream calls {calls}"
            )
            stack.sim("DELETE", "/_sim/faults")

    exact = all(calls == 1 for calls in per_task)
    all_ok = statuses == Counter({200: options.requests * options.tasks})
    ok = "met" if exact and all_ok else "MISSED"
    harness.log(
        f"bench_stampede: {options.requests} concurrent requests per cold task × {options.tasks} "
        f"tasks → upstream calls per task {per_task} [target exactly 1], answers "
        f"{dict(statuses)}, slowest {slowest * 1000:.0f} ms (upstream holds "
        f"{SIM_DELAY_SECONDS * 1000:.0f} ms); "
        f"{stack.describe()}: {ok}"
    )


if __name__ == "__main__":
    main()
