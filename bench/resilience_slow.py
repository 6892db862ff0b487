"""Resilience run: an upstream slower than the read timeout.

    .venv/bin/python bench/resilience_slow.py [--seconds 15] [--clients 4]

gunicorn (2 × cores + 1 sync workers) with PORTAL_UPSTREAM_TIMEOUT=1,2 (so a call's deadline is
1 + 2 + 2 = 5 s) and a cache TTL of 3 s. Two phases of equal length, each with `--clients` clients
reading tasks through the API while wrk loads the bare ceiling view:
  A. healthy upstream (baseline);
  B. the simulator holds every API call for 4 s (beyond the 2 s read timeout).
8 tasks are read in both phases (4 fetched beforehand; all are stale in phase B); 4 more are cold,
first asked for in phase B.

Checks (phase B): every request finishes within the deadline, with 504 `upstream_timeout` (cold
tasks) or 200 from a stale copy; no worker is stuck: the ceiling keeps its throughput (B/A ≥ 0.7
is our bar) and gunicorn logs no WORKER TIMEOUT.
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter

import harness

warnings.simplefilter("ignore")

TTL = 3
DELAY = 4.0
DEADLINE = 1 + 2 + 2.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=4)
    options = parser.parse_args()
    harness.time_limit(int(options.seconds) * 2 + 120)
    from simserver import bench_task_id

    workers = 2 * harness.nproc() + 1
    task_ids = [bench_task_id(i) for i in range(8)]
    cold_ids = [bench_task_id(i) for i in range(8, 12)]  # first asked for during phase B
    with harness.Stack(
        workers=workers, cache_ttl=TTL, extra_tasks=12, upstream_timeout="1,2"
    ) as stack:
        harness.log(f"stack: {stack.describe()}, timeout 1,2 s, cache TTL {TTL} s")
        stack.write_ceilings(task_ids[0])
        for task_id in task_ids[:4]:
            assert stack.get_task(task_id).status == 200
        pids_before = stack.worker_pids()

        def phase(name: str, task_ids: list[str]) -> tuple[Counter, float, float]:
            answers: Counter[str] = Counter()
            slowest = [0.0]

            def tally(reading: harness.Reading) -> None:
                key, seconds = str(reading.status), reading.seconds
                try:
                    if reading.status == 200:
                        key = f"200 {reading.body['meta']['source']}"
                    elif not reading.failed:
                        key = f"{reading.status} {reading.body['error']['code']}"
                except (KeyError, TypeError) as exc:  # an answer not in the contract's shape
                    key, seconds = type(exc).__name__, 0.0
                answers[key] += 1
                slowest[0] = max(slowest[0], seconds)

            load = harness.LoadClients(
                stack, task_ids, clients=options.clients, spread=2, tally=tally
            )
            with load:
                ceiling = harness.wrk(stack.url("/bench/ceiling.json"), seconds=options.seconds)
            harness.log(
                f"phase {name}: ceiling {ceiling.rps:.0f} req/s (p99 {ceiling.p99_ms:.1f} ms); "
                f"task answers {dict(answers)}; slowest {slowest[0]:.2f} s"
            )
            return answers, ceiling.rps, slowest[0]

        _answers_a, rps_a, _slowest_a = phase("A (healthy)", task_ids)
        stack.sim("POST", "/_sim/faults", {"*": {"mode": "delay", "seconds": DELAY}})
        answers_b, rps_b, slowest_b = phase(f"B (upstream +{DELAY:.0f} s)", task_ids + cold_ids)
        stack.sim("DELETE", "/_sim/faults")
        timeouts = stack.gunicorn_log_text().count("WORKER TIMEOUT")
        pids_after = stack.worker_pids()
        describe = stack.describe()

    allowed = {"200 stale", "200 cache", "504 upstream_timeout"}
    unexpected = {k: n for k, n in answers_b.items() if k not in allowed}
    ratio = rps_b / rps_a
    ok = (
        not unexpected
        and slowest_b <= DEADLINE
        and ratio >= 0.7
        and timeouts == 0
        and pids_before == pids_after
    )
    harness.log(
        f"resilience_slow: upstream {DELAY:.0f} s > read timeout 2 s: {sum(answers_b.values())} "
        f"answers {dict(answers_b)}, unexpected {unexpected or 0}, slowest {slowest_b:.2f} s "
        f"[deadline {DEADLINE:.0f} s]; ceiling during/before {rps_b:.0f}/{rps_a:.0f} req/s = "
        f"{ratio:.2f} [≥0.7]; WORKER TIMEOUTs {timeouts}, workers replaced "
        f"{len(set(pids_before) - set(pids_after))}; {describe}: {'met' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
