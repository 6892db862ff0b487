"""Resilience run: an upstream outage with every task already cached.

    .venv/bin/python bench/resilience_outage.py [--outage 30] [--clients 8] [--tasks 20]

gunicorn (2 × cores + 1 sync workers, the production default) with a project cache TTL of 10 s.
The 20 tasks are fetched once, then the simulator answers 503 to every API call for 30 s while 8
clients keep reading the 20 tasks through the API. Then the simulator recovers and the clients go
on until every task is served fresh again.

Checks: every answer during the outage is 200 (cached or stale copies; zero 5xx); the upstream calls
during the outage stay within what the back-off allows (one refresh per task per BACKOFF_SECONDS,
each with the client's bounded retries); after recovery every task is fresh (no error, younger
than the TTL) within one TTL.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections import Counter

import harness

warnings.simplefilter("ignore")

TTL = 10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outage", type=float, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=20)
    options = parser.parse_args()
    harness.time_limit(int(options.outage) + 120)
    from simserver import bench_task_id

    workers = 2 * harness.nproc() + 1
    task_ids = [bench_task_id(i) for i in range(options.tasks)]
    with harness.Stack(workers=workers, cache_ttl=TTL, extra_tasks=options.tasks) as stack:
        harness.log(f"stack: {stack.describe()}, cache TTL {TTL} s")
        from tasks.services.task_fetch import BACKOFF_SECONDS
        from tasks.vas.client import make_retry

        for task_id in task_ids:
            assert stack.get_task(task_id).status == 200
        phase = {"name": "outage"}
        outage_answers: Counter[str] = Counter()
        outage_latency: list[float] = []
        fresh_at: dict[str, float] = {}
        recovered_at = [0.0]

        def tally(reading: harness.Reading) -> None:
            status = reading.status
            meta = reading.body.get("meta", {}) if status == 200 else {}
            if phase["name"] == "outage":
                outage_answers[f"{status} {meta.get('source', '')}".strip()] += 1
                outage_latency.append(reading.seconds if status == 200 else 0.0)
            elif (
                status == 200
                and meta.get("error") is None
                and meta.get("age_seconds", TTL) < TTL
                and reading.task_id not in fresh_at
            ):
                fresh_at[reading.task_id] = time.monotonic() - recovered_at[0]

        stack.sim("DELETE", "/_sim/counts")
        stack.sim("POST", "/_sim/faults", {"*": {"mode": "503"}})
        started = time.monotonic()
        load = harness.LoadClients(stack, task_ids, clients=options.clients, spread=3, tally=tally)
        with load:
            time.sleep(options.outage)
            with load.lock:
                outage_calls = stack.upstream_calls()
                phase["name"] = "recovery"
                stack.sim("DELETE", "/_sim/faults")
                recovered_at[0] = time.monotonic()
            outage_seconds = recovered_at[0] - started
            deadline = time.monotonic() + TTL + 10
            while time.monotonic() < deadline and len(fresh_at) < len(task_ids):
                time.sleep(0.2)
        describe = stack.describe()

    attempts = 1 + make_retry().total
    allowed = len(task_ids) * (math.ceil(outage_seconds / BACKOFF_SECONDS) + 1) * attempts
    total = sum(outage_answers.values())
    bad = sum(n for key, n in outage_answers.items() if not key.startswith("200"))
    recovery = max(fresh_at.values()) if len(fresh_at) == len(task_ids) else float("inf")
    outage_latency.sort()
    p99 = outage_latency[int(0.99 * (len(outage_latency) - 1))] * 1000 if outage_latency else 0
    harness.log(f"answers during the outage: {dict(outage_answers)} (p99 {p99:.0f} ms)")
    harness.log(
        f"upstream calls during the outage: {outage_calls}; back-off allows ≤ {allowed} "
        f"({len(task_ids)} tasks × (⌈{outage_seconds:.0f}/{BACKOFF_SECONDS}⌉ + 1) refreshes × "
        f"{attempts} attempts)"
    )
    harness.log(
        f"fresh again: {len(fresh_at)}/{len(task_ids)} tasks, the last after {recovery:.1f} s "
        f"(TTL {TTL} s)"
    )
    ok = bad == 0 and total > 0 and outage_calls <= allowed and recovery <= TTL
    harness.log(
        f"resilience_outage: {options.outage:.0f} s of 503s, {options.clients} clients × "
        f"{len(task_ids)} cached tasks: {total} answers, {bad} not 200 [target 0]; upstream calls "
        f"{outage_calls} ≤ {allowed} allowed by back-off; fresh again after {recovery:.1f} s "
        f"[target ≤ TTL {TTL} s]; {describe}: {'met' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
