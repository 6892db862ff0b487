"""A/B aid: the Django-side cost of a warm task API request and a warm task page, in this process
(Django's test client, no HTTP server), so that two checkouts can be compared turn by turn.

    .venv/bin/python bench/ab_inprocess.py [--requests 300]            # this checkout
    BENCH_BACKEND=sqlite .venv/bin/python /other/checkout/bench/ab_inprocess.py

Prints one line: the median milliseconds of each, over `--requests` requests after a warm-up, as
wall time and as this process's CPU time (which a busy shared machine disturbs less: waiting for
a core or for Redis is not counted). Run two checkouts alternately a few times (A B A B …) and
compare the medians of their medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import harness

warnings.simplefilter("ignore")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    options = parser.parse_args()
    harness.time_limit(170)
    with harness.Stack(workers=0, cache_ttl=3600) as stack, harness.quiet_logging():
        from django.test import Client

        from vassim.simulator import SEED_TASK_ID

        api = Client(HTTP_AUTHORIZATION=f"Token {stack.token}")
        page = Client(HTTP_COOKIE=stack.browser_cookies)
        medians = {}
        for name, client, path in (
            ("api", api, stack.task_path(SEED_TASK_ID)),
            ("page", page, stack.task_path(SEED_TASK_ID, api=False)),
        ):
            for _ in range(30):
                assert client.get(path).status_code == 200
            wall, cpu = [], []
            for _ in range(options.requests):
                started, started_cpu = time.perf_counter(), time.process_time()
                client.get(path)
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            medians[name] = (statistics.median(wall), statistics.median(cpu))
        harness.log(
            "ab_inprocess: "
            + ", ".join(f"{name} {w:.3f} ms (CPU {c:.3f} ms)" for name, (w, c) in medians.items())
            + f", median of {options.requests}; {stack.backend}"
        )


if __name__ == "__main__":
    main()
