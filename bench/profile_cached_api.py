"""Where a cached task API request spends its time (an investigation aid, not run by `make bench`).

    .venv/bin/python bench/profile_cached_api.py [--requests 400]

In this process, through Django's test client (the whole middleware stack, same database and
cache as the benchmarks): the warm-cache task API request, then the same request with one part
after another taken away by a monkeypatch, then a plain DRF view answering the same payload with
no authentication, and the bare ceiling view. Each variant's median per-request time is printed
with its SQL query count and cache round trips; the differences are what each part costs. The
monkeypatches are experiments only, not proposals to ship as they are.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import harness

warnings.simplefilter("ignore")


def timed(client, path: str, n: int) -> tuple[float, int, int]:
    import redis
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(20):
        client.get(path)
    trips = []
    send = redis.Connection.send_packed_command

    def counting(self, *args, **kwargs):
        trips.append(1)
        return send(self, *args, **kwargs)

    redis.Connection.send_packed_command = counting
    try:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
    finally:
        redis.Connection.send_packed_command = send
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), len(queries.captured_queries), len(trips)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    options = parser.parse_args()
    harness.time_limit(170)
    with harness.Stack(workers=0, cache_ttl=3600) as stack:
        harness.log(f"stack: in-process, {stack.describe()}")
        from django.test import Client
        from django.urls import clear_url_caches, path
        from rest_framework.response import Response
        from rest_framework.views import APIView

        import bench.urls
        import tasks.api.views as api_views
        from portal.middleware import ReadAheadMiddleware
        from tasks.api.authentication import TokenAuthentication
        from tasks.api.views import _TaskView
        from tasks.services.task_fetch import task_fetch
        from vassim.simulator import SEED_TASK_ID

        api = Client(HTTP_AUTHORIZATION=f"Token {stack.token}")
        task_path = stack.task_path(SEED_TASK_ID)
        body = api.get(task_path).content
        stack.ceiling_json_path.write_bytes(body)
        payload = api.get(task_path).json()
        n = options.requests
        rows = [("task API, as shipped", *timed(api, task_path, n))]

        saved = {
            "plan": ReadAheadMiddleware.__dict__["_plan"],
            "throttles": _TaskView.throttle_classes,
            "credentials": TokenAuthentication.authenticate_credentials,
            "project": api_views.get_project_for_user,
            "fetch": api_views.task_fetch,
        }
        ReadAheadMiddleware._plan = staticmethod(lambda request: ([], []))
        rows.append(("- the read-ahead (each part asks the cache)", *timed(api, task_path, n)))
        ReadAheadMiddleware._plan = saved["plan"]

        _TaskView.throttle_classes = []
        rows.append(("- the per-user rate limit", *timed(api, task_path, n)))

        known = saved["credentials"](TokenAuthentication(), stack.token.encode())
        TokenAuthentication.authenticate_credentials = lambda self, token: known
        rows.append(("- the token check (memo + epoch)", *timed(api, task_path, n)))

        project = saved["project"](stack.user, stack.project.public_id)
        api_views.get_project_for_user = lambda user, public_id: project
        rows.append(("- the project access check (memo + epochs)", *timed(api, task_path, n)))

        result = task_fetch(project=project, service=harness.SERVICE, task_id=SEED_TASK_ID)
        api_views.task_fetch = lambda **kwargs: result
        rows.append(("- the task read (cache)", *timed(api, task_path, n)))

        _TaskView.throttle_classes = saved["throttles"]
        TokenAuthentication.authenticate_credentials = saved["credentials"]
        api_views.get_project_for_user = saved["project"]
        api_views.task_fetch = saved["fetch"]

        class Plain(APIView):
            authentication_classes: list = []
            permission_classes: list = []
            throttle_classes: list = []

            def get(self, request):
                return Response(payload)

        bench.urls.urlpatterns.insert(0, path("bench/plain.json", Plain.as_view()))
        clear_url_caches()
        rows.append(
            ("plain DRF view, same payload, no auth", *timed(Client(), "/bench/plain.json", n))
        )
        rows.append(("bare JsonResponse ceiling", *timed(Client(), "/bench/ceiling.json", n)))
        describe = stack.describe()

    base = rows[0][1]
    previous = base
    harness.log(f"{'variant':48s} {'median ms':>9s} {'saves':>7s} {'SQL':>4s} {'cache trips':>11s}")
    for name, ms, queries, trips in rows:
        harness.log(f"{name:48s} {ms:9.3f} {previous - ms:7.3f} {queries:4d} {trips:11d}")
        previous = ms
    harness.log(
        f"profile_cached_api: shipped {base:.2f} ms/request, ceiling {rows[-1][1]:.2f} ms, "
        f"in-process ratio {rows[-1][1] / base:.2f}; {describe}"
    )


if __name__ == "__main__":
    main()
