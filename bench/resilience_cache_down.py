"""Resilience run: the cache (Redis) stops under load.

    .venv/bin/python bench/resilience_cache_down.py [--outage 20] [--clients 8] [--tasks 10]

gunicorn (cores + 1 workers with threads) against PostgreSQL and a redis-server of this run's own
(never the shared one), project cache TTL 60 s. 8 clients read 10 cached tasks in turn, half
through the API (token) and half as task pages (a signed-in browser's cookies): 10 s with Redis,
then Redis is killed for 20 s, then started again (empty) for 10 s.

Checks: not one 5xx (or failed connection) from pages or API, before, during or after; the median
answer during the outage is within 5× the median before it; `/healthz` says 503 naming the cache
during the outage and 200 after.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import warnings
from collections import Counter

import harness

warnings.simplefilter("ignore")

TTL = 60
BEFORE = AFTER = 10.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outage", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=10)
    options = parser.parse_args()
    harness.time_limit(int(options.outage + BEFORE + AFTER) + 120)
    from simserver import bench_task_id

    task_ids = [bench_task_id(i) for i in range(options.tasks)]
    workers = harness.nproc() + 1
    with harness.Stack(
        workers=workers, cache_ttl=TTL, extra_tasks=options.tasks, private_redis=True
    ) as stack:
        harness.log(f"stack: {stack.describe()}, private Redis on port {stack.redis_port}")
        for task_id in task_ids:
            assert stack.get_task(task_id).status == 200
            assert stack.get_task(task_id, api=False).status == 200
        phase = ["before"]
        answers: dict[str, Counter[str]] = {p: Counter() for p in ("before", "outage", "after")}
        seconds: dict[str, list[float]] = {p: [] for p in answers}
        lock = threading.Lock()
        stop = threading.Event()

        def client(n: int) -> None:
            i = n
            while not stop.is_set():
                task_id = task_ids[i % len(task_ids)]
                api = i % 2 == 0
                i += 1
                try:
                    answer = stack.get_task(task_id, api=api, timeout=30)
                    status, took = str(answer.status), answer.seconds
                except Exception as exc:
                    status, took = type(exc).__name__, 0.0
                with lock:
                    answers[phase[0]][f"{'api' if api else 'page'} {status}"] += 1
                    if status == "200":
                        seconds[phase[0]].append(took)

        threads = [
            threading.Thread(target=client, args=(n,), daemon=True) for n in range(options.clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(BEFORE)
        with lock:
            phase[0] = "outage"
        stack.stop_redis()
        time.sleep(1.0)
        health_down = harness.request(stack.port, "GET", "/healthz")
        time.sleep(options.outage - 1.0)
        stack.start_redis()
        with lock:
            phase[0] = "after"
        time.sleep(AFTER)
        stop.set()
        for thread in threads:
            thread.join(timeout=35)
        health_up = harness.request(stack.port, "GET", "/healthz")
        describe = stack.describe()

    bad = sum(n for counts in answers.values() for key, n in counts.items() if "200" not in key)
    median = {p: statistics.median(v) * 1000 if v else float("nan") for p, v in seconds.items()}
    slower = median["outage"] / median["before"]
    health_ok = (
        health_down.status == 503
        and health_down.json().get("cache") == "error"
        and health_up.status == 200
    )
    ok = bad == 0 and slower <= 5.0 and health_ok
    for name, counts in answers.items():
        harness.log(f"{name:7s} {dict(counts)} median {median[name]:.1f} ms")
    harness.log(
        f"resilience_cache_down: Redis killed for {options.outage:.0f} s under 8 clients (API and "
        f"pages): {sum(sum(c.values()) for c in answers.values())} answers, {bad} not 200 "
        f"[target 0]; median {median['before']:.1f} ms before, {median['outage']:.1f} ms during "
        f"(×{slower:.1f}) [≤ ×5], {median['after']:.1f} ms after; /healthz during "
        f"{health_down.status} {health_down.body.decode()}, after {health_up.status}; {describe}: "
        f"{'met' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
