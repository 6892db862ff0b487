"""Benchmark 6: the monitor. Batched polls vs one ShowTask per task, and flip-to-webhook latency.

    .venv/bin/python bench/bench_monitor.py [--tasks 2000] [--delay-ms 20] [--flips 10]
                                            [--scale 10000]

The simulator (its own process) serves the extra tasks and adds `--delay-ms` to every API call;
the portal watches all of them. In one run, side by side:

1. upstream calls for one cycle: the per-task path (task_fetch with refresh, 8 at once, what
   poll_tasks did before the monitor) vs the batched one (tasks.services.polling.poll_service) —
   target: batched ≤ ⌈tasks/1000⌉ (+ missing: none here);
2. the cycle's time with 1 % of the tasks changed (their state flipped in the simulator), both
   paths, and the database writes each makes — target: batched ≥ 20× faster, writes only for the
   changed tasks (plus the two bulk sighting UPDATEs);
3. the batched cycle at `--scale` watched tasks (CPU seconds, calls, writes): the README's
   "Scaling" figures are extrapolated from it;
4. a state flip in the simulator → the webhook receiver's request, through real Huey consumer
   threads with a 30 s poll interval, over `--flips` flips at random moments — target: max ≤
   interval + 10 s. Real time, no clock tricks: about `flips × 15 s`.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness

warnings.simplefilter("ignore")
SERVICE = "c-face-edge"


class _Writes:
    """Counts INSERT/UPDATE/DELETE statements run through Django's connection."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.count += 1
        return execute(sql, params, many, context)


def _operations(stack: harness.Stack) -> dict[str, int]:
    return stack.sim("GET", "/_sim/operations").json()


def _flip(stack: harness.Stack, task_ids: list[str], state: str) -> None:
    for task_id in task_ids:
        stack.sim("POST", "/_sim/state", {"task_id": task_id, "state": state})


def per_task_cycle(project, task_ids: list[str], writes: _Writes) -> None:
    from django.db import connection, connections

    from tasks.services.task_fetch import task_fetch

    def one(task_id: str) -> None:
        try:
            with connection.execute_wrapper(writes):  # this thread's connection
                task_fetch(project=project, service=SERVICE, task_id=task_id, refresh=True)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, task_ids))


def batched_cycle(project, writes: _Writes | None = None) -> None:
    from django.db import connection

    from tasks.services.polling import poll_service

    with connection.execute_wrapper(writes or _Writes()):
        poll_service(project=project, service=SERVICE)


def measured(stack: harness.Stack, run) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds of this process, upstream calls, database writes) of one run."""
    stack.sim("DELETE", "/_sim/counts")
    writes = _Writes()
    started, cpu = time.perf_counter(), time.process_time()
    run(writes)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, sum(_operations(stack).values()), writes.count


class _Receiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict]] = []
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.arrivals.append((time.time(), body))
                outer.event.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def latency(stack: harness.Stack, task_id: str, flips: int) -> list[float]:
    """Seconds from each flip to the webhook request, through Huey consumer threads."""
    from django.conf import settings

    from tasks.models import CloudProject, PollSchedule, TrackedTask
    from tasks.services.channels import channel_create
    from tasks.worker import huey, sweep

    settings.PORTAL_NOTIFY_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver = _Receiver()
    project = stack.project
    CloudProject.objects.filter(pk=project.pk).update(poll_interval=30)
    project.refresh_from_db()
    TrackedTask.objects.filter(project=project).exclude(task_id=task_id).update(watched=False)
    PollSchedule.objects.all().delete()
    channel_create(
        actor=None,
        project=project,
        fields={"name": "bench", "kind": "webhook", "severities": ["problem", "recovery", "info"]},
        target=receiver.url,
    )
    # Start from RUNNING, recorded, so the first flip is a change.
    _flip(stack, [task_id], "RUNNING")
    batched_cycle(project)
    consumer = huey.create_consumer(workers=2, worker_type="thread", periodic=True, max_delay=1.0)
    consumer._set_signal_handlers = lambda: None
    consumer.start()
    sweep()
    results = []
    states = ["ABNORMAL", "RUNNING"]
    try:
        time.sleep(2)
        for n in range(flips):
            time.sleep(random.uniform(0, 30))  # noqa: S311 - a random moment in the interval
            receiver.event.clear()
            flipped = time.time()
            _flip(stack, [task_id], states[n % 2])
            if not receiver.event.wait(60):
                results.append(float("inf"))
                harness.log(f"flip {n + 1}: no webhook within 60 s")
                continue
            results.append(receiver.arrivals[-1][0] - flipped)
            harness.log(f"flip {n + 1}: {results[-1]:.1f} s")
    finally:
        consumer.stop(graceful=True)
        receiver.server.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--flips", type=int, default=10)
    parser.add_argument("--scale", type=int, default=10000)
    options = parser.parse_args()
    harness.time_limit(1200)
    from simserver import bench_task_id

    total = max(options.tasks, options.scale)
    with harness.Stack(
        workers=0,
        extra_tasks=total,
        sim_delay_ms=options.delay_ms,
        env={"PORTAL_WORKER_URL": "memory://", "PORTAL_BASE_URL": "http://127.0.0.1:8000"},
    ) as stack:
        harness.log(f"stack: in-process polls, {stack.describe()}")
        from tasks.models import TrackedTask

        all_ids = [bench_task_id(i) for i in range(total)]
        ids = all_ids[: options.tasks]
        # The service's list holds exactly the watched tasks ("2,000 watched tasks of one
        # service"): the simulator's seed tasks and the extra tasks beyond them are left out.
        from vassim.simulator import seed_tasks

        seeds = [doc["id"] for doc, _options in seed_tasks()]
        stack.sim("POST", "/_sim/list", {"hidden": seeds + all_ids[options.tasks :]})
        harness.seed_tracked(stack.project, ids, watched=True)
        project = stack.project
        batched_cycle(project)  # records every task once (not timed)

        _, _, per_task_calls, _ = measured(stack, lambda w: per_task_cycle(project, ids, w))
        _, _, batched_calls, _ = measured(stack, lambda w: batched_cycle(project, w))
        changed = ids[::100]
        _flip(stack, changed, "ABNORMAL")
        per_task_s, _, _, per_task_writes = measured(
            stack, lambda w: per_task_cycle(project, ids, w)
        )
        _flip(stack, changed, "RUNNING")
        batched_s, _, _, batched_writes = measured(stack, lambda w: batched_cycle(project, w))
        ratio = per_task_s / batched_s
        calls_ok = batched_calls <= -(-options.tasks // 1000)
        harness.log(
            f"cycle over {options.tasks}: per-task {per_task_calls} calls, {per_task_s:.2f} s, "
            f"{per_task_writes} writes; batched {batched_calls} calls, {batched_s:.3f} s, "
            f"{batched_writes} writes ({len(changed)} changed)"
        )

        # At scale: every task watched, 1 % changed (`--scale 0`: skipped).
        scale_s = scale_cpu = float("nan")
        scale_calls = scale_writes = 0
        scale_changed: list[str] = []
        if options.scale:
            stack.sim("POST", "/_sim/list", {"hidden": seeds})
            TrackedTask.objects.filter(project=project).delete()
            harness.seed_tracked(project, all_ids, watched=True)
            batched_cycle(project)
            scale_changed = all_ids[::100]
            _flip(stack, scale_changed, "ABNORMAL")
            scale_s, scale_cpu, scale_calls, scale_writes = measured(
                stack, lambda w: batched_cycle(project, w)
            )
            harness.log(
                f"batched cycle over {total}: {scale_calls} calls, {scale_s:.2f} s, CPU "
                f"{scale_cpu:.2f} s, {scale_writes} writes ({len(scale_changed)} changed)"
            )

        delays = latency(stack, ids[0], options.flips) if options.flips else []
        worst = max(delays) if delays else float("nan")
        scale_ok = scale_calls <= -(-total // 1000)
        met = calls_ok and scale_ok and ratio >= 20 and (not delays or worst <= 40)
        print(
            f"bench_monitor: {options.tasks} watched tasks, upstream +{options.delay_ms} ms/call: "
            f"calls per cycle per-task {per_task_calls} vs batched {batched_calls} "
            f"[≤{-(-options.tasks // 1000)}]; cycle with 1% changed per-task {per_task_s:.2f} s "
            f"vs batched {batched_s:.3f} s → {ratio:.0f}× [≥20×], writes {per_task_writes} vs "
            f"{batched_writes} for {len(changed)} changed; at {total}: {scale_s:.2f} s, CPU "
            f"{scale_cpu:.2f} s, {scale_calls} calls, {scale_writes} writes; flip→webhook at 30 s "
            f"over {len(delays)} flips: max {worst:.1f} s, mean "
            f"{(sum(delays) / len(delays)) if delays else float('nan'):.1f} s [≤40 s]; "
            f"{stack.backend}, nproc={harness.nproc()}: {'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
