"""Where a cached task API request spends its time (an investigation aid, not run by `make bench`).

    .venv/bin/python bench/profile_cached_api.py [--requests 400]

In this process, through Django's test client (the whole middleware stack, same database and
cache as the benchmarks): the warm-cache task API request, then the same request with one cost
after another taken away by a monkeypatch, and the bare ceiling view. Each variant's median
per-request time is printed with its SQL query count; the differences are what each part costs.
The monkeypatches are experiments only, not proposals to ship as they are.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import harness

warnings.simplefilter("ignore")


def timed(client, path: str, n: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(20):
        client.get(path)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    count = len(queries.captured_queries)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    options = parser.parse_args()
    harness.time_limit(170)
    with harness.Stack(workers=0, cache_ttl=3600) as stack:
        harness.log(f"stack: in-process, {stack.describe()}")
        from django.test import Client
        from knox.auth import TokenAuthentication as KnoxAuth

        import tasks.api.views as api_views
        from tasks.api.authentication import TokenAuthentication
        from tasks.api.views import _TaskView
        from tasks.services import task_fetch as task_fetch_module
        from tasks.vas.simulator import SEED_TASK_ID

        api = Client(HTTP_AUTHORIZATION=f"Token {stack.token}")
        path = stack.task_path(SEED_TASK_ID)
        body = api.get(path).content
        stack.ceiling_json_path.write_bytes(body)
        n = options.requests
        rows = [("task API, as shipped", *timed(api, path, n))]

        original_cleanup = KnoxAuth._cleanup_token

        def own_expiry_only(self, auth_token) -> bool:
            from django.utils import timezone

            return auth_token.expiry is not None and auth_token.expiry < timezone.now()

        KnoxAuth._cleanup_token = own_expiry_only
        rows.append(("- knox's per-request sweep of the user's other tokens", *timed(api, path, n)))

        project = api_views.get_project_for_user(stack.user, stack.project.public_id)
        original_find = api_views.get_project_for_user
        api_views.get_project_for_user = lambda user, public_id: project
        rows.append(("- the project + membership lookup (memoised)", *timed(api, path, n)))

        original_throttles = _TaskView.throttle_classes
        _TaskView.throttle_classes = []
        rows.append(("- DRF's per-user throttle (Redis get + set)", *timed(api, path, n)))

        original_roi = task_fetch_module.roi_for_task
        roi = original_roi(api.get(path).json()["task"])
        task_fetch_module.roi_for_task = lambda task: roi
        rows.append(("- roi_for_task on every hit (memoised)", *timed(api, path, n)))

        original_credentials = TokenAuthentication.authenticate_credentials
        known = original_credentials(TokenAuthentication(), stack.token.encode())
        TokenAuthentication.authenticate_credentials = lambda self, token: known
        rows.append(("- knox's token + user query (memoised)", *timed(api, path, n)))

        TokenAuthentication.authenticate_credentials = original_credentials
        task_fetch_module.roi_for_task = original_roi
        _TaskView.throttle_classes = original_throttles
        api_views.get_project_for_user = original_find
        KnoxAuth._cleanup_token = original_cleanup

        rows.append(("bare JsonResponse ceiling", *timed(Client(), "/bench/ceiling.json", n)))
        describe = stack.describe()

    base = rows[0][1]
    previous = base
    harness.log(f"{'variant':58s} {'median ms':>9s} {'saves':>7s} {'SQL':>4s}")
    for name, ms, queries in rows:
        harness.log(f"{name:58s} {ms:9.3f} {previous - ms:7.3f} {queries:4d}")
        previous = ms
    harness.log(
        f"profile_cached_api: shipped {base:.2f} ms/request, ceiling {rows[-1][1]:.2f} ms, "
        f"in-process ratio {rows[-1][1] / base:.2f}; {describe}"
    )


if __name__ == "__main__":
    main()
