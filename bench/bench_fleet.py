"""Benchmark: the fleet views do not grow with the fleet or the history.

    .venv/bin/python bench/bench_fleet.py [--rounds 8] [--samples 10]

Dashboard: two users in one database, each a member of 50 projects: one sees 100 tracked tasks
(2 a project), the other 10,000 (200 a project); each task has two versions, 1 in 10 is ABNORMAL
and 1 in 25 FAILED, 1 in 40 has a plain-http webhook. `/dashboard/` (HTML) and
`/api/v1/dashboard/` are requested in-process through Django's test client (the whole middleware
stack), SQL queries counted, the median time taken over interleaved rounds.

Health: `…/health/?days=90` of a task with 100 snapshots and of one with 10,000; both had one
version every ~22 hours over the last 90 days (~100 in the window), the larger one 9,900 more
before the window (an unpruned busy past). A third figure, for information only, is a task with
all of its 10,000 versions inside the window: that answer lists ~10,000 segments, so its cost
grows with them.

Targets: dashboard at 10,000 tasks ≤ 1.5 × at 100; health with 10,000 snapshots ≤ 1.5 × with 100.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import harness

warnings.simplefilter("ignore")

PROJECTS = 50
SMALL, LARGE = 2, 200


def make_fleet(prefix: str, user, tasks_per_project: int) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import CloudProject, Membership, Role, TaskSnapshot, TrackedTask

    now = timezone.now()
    projects = CloudProject.objects.bulk_create(
        CloudProject(
            name=f"{prefix} {i:03d}",
            upstream_project_id=f"{i:032x}",
            endpoint="https://iva.cn-north-4.myhuaweicloud.com",
            iam_endpoint="https://iam.cn-north-4.myhuaweicloud.com",
            badge_key=f"{prefix}-{i:03d}-bench-badge-key-0123456789",
        )
        for i in range(PROJECTS)
    )
    projects = list(CloudProject.objects.filter(name__startswith=prefix + " "))
    Membership.objects.bulk_create(
        Membership(project=p, user=user, role=Role.ADMIN) for p in projects
    )
    for p, project in enumerate(projects):
        rows = []
        for i in range(tasks_per_project):
            k = p * tasks_per_project + i  # the same mix in both fleets
            state = "ABNORMAL" if k % 10 == 3 else "FAILED" if k % 25 == 7 else "RUNNING"
            rows.append(
                TrackedTask(
                    project=project,
                    service=harness.SERVICE,
                    task_id=f"{p:04d}{i:028x}",
                    name=f"camera {p:02d}-{i:03d}",
                    state=state,
                    watched=True,
                    first_seen=now - timedelta(days=3),
                    last_fetched=now - timedelta(minutes=1),
                    last_changed=now - timedelta(hours=i % 48 + 1),
                    snapshot_count=2,
                    payload_problems="webhook_not_https" if k % 40 == 5 else "",
                )
            )
        tasks = TrackedTask.objects.bulk_create(rows)
        snapshots = []
        for task in tasks:
            changed = task.last_changed
            for seq, (state, first, last) in enumerate(
                [
                    ("RUNNING", now - timedelta(days=3), changed - timedelta(minutes=5)),
                    (task.state, changed, now - timedelta(minutes=1)),
                ],
                start=1,
            ):
                snapshots.append(
                    TaskSnapshot(
                        task=task,
                        seq=seq,
                        payload={"id": task.task_id, "state": state},
                        content_hash=f"{task.pk:032x}{seq:032x}",
                        state=state,
                        first_seen=first,
                        last_seen=last,
                    )
                )
        TaskSnapshot.objects.bulk_create(snapshots, batch_size=2000)


def make_history(project, task_id: str, total: int, in_window: int) -> str:
    """A tracked task with `total` versions, the newest `in_window` of them spread over the last
    90 days, the rest packed into the 30 days before."""
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import TaskSnapshot, TrackedTask

    now = timezone.now()
    states = ("RUNNING", "RUNNING", "ABNORMAL", "RUNNING", "STOPPED")
    tracked = TrackedTask.objects.create(
        project=project,
        service=harness.SERVICE,
        task_id=task_id,
        name="history",
        state="RUNNING",
        watched=True,
        first_seen=now - timedelta(days=120),
        last_fetched=now,
        last_changed=now,
        snapshot_count=total,
    )
    rows = []
    older = total - in_window
    for seq in range(1, total + 1):
        if seq <= older:
            first = now - timedelta(days=120) + timedelta(days=30) * (seq - 1) / max(older, 1)
            span = timedelta(days=30) / max(older, 1) * 0.9
        else:
            k = seq - older - 1
            first = now - timedelta(days=90) + timedelta(days=90) * k / in_window
            span = timedelta(days=90) / in_window * 0.95
        rows.append(
            TaskSnapshot(
                task=tracked,
                seq=seq,
                payload={"id": task_id, "state": states[seq % len(states)], "v": seq},
                content_hash=f"{seq:064x}",
                state=states[seq % len(states)],
                first_seen=first,
                last_seen=first + span,
            )
        )
    TaskSnapshot.objects.bulk_create(rows, batch_size=2000)
    return task_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--samples", type=int, default=10, help="requests per target and round")
    options = parser.parse_args()
    harness.time_limit(600)

    with harness.Stack(workers=0) as stack:
        harness.log(f"stack: in-process test client, {stack.describe()}")
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client

        from tasks.services.tokens import token_create

        users = get_user_model().objects
        clients: dict[str, tuple[Client, Client]] = {}
        started = time.perf_counter()
        for label, per_project in (("100", SMALL), ("10,000", LARGE)):
            user = users.create_user(f"fleet{per_project}", "f@example.com", "x")
            make_fleet(f"Fleet{per_project}", user, per_project)
            page = Client()
            page.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            api = Client(HTTP_AUTHORIZATION=f"Token {token_create(user=user, expires_days=1)[1]}")
            clients[label] = (page, api)
        history = {
            "100": make_history(stack.project, "h" * 31 + "1", 100, 100),
            "10,000": make_history(stack.project, "h" * 31 + "2", 10_000, 100),
            "10,000 in window (info)": make_history(stack.project, "h" * 31 + "3", 10_000, 10_000),
        }
        if connection.vendor == "postgresql":
            # As autovacuum would have: statistics, and the visibility map index-only scans use.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        harness.log(f"seeded in {time.perf_counter() - started:.1f} s")

        owner_api = Client(HTTP_AUTHORIZATION=f"Token {stack.token}")
        targets: dict[str, dict[str, tuple]] = {
            "dashboard page": {k: (c[0], "/dashboard/") for k, c in clients.items()},
            "dashboard API": {k: (c[1], "/api/v1/dashboard/") for k, c in clients.items()},
            "health 90 d API": {
                k: (owner_api, stack.task_path(task_id) + "health/?days=90")
                for k, task_id in history.items()
            },
        }
        counts = {
            name: {size: harness.query_count(*target, warm=2) for size, target in by_size.items()}
            for name, by_size in targets.items()
        }
        times: dict[str, dict[str, list[float]]] = {
            name: {size: [] for size in by_size} for name, by_size in targets.items()
        }
        for _ in range(options.rounds):
            for name, by_size in targets.items():
                for size, target in by_size.items():
                    times[name][size] += harness.timed(*target, options.samples)
        describe = stack.describe()

    parts, verdicts = [], []
    for name, by_size in times.items():
        medians = {size: statistics.median(values) for size, values in by_size.items()}
        for size, ms in medians.items():
            harness.log(f"{name:16s} {size:>24s}: {counts[name][size]:3d} queries {ms:8.2f} ms")
        ratio = medians["10,000"] / medians["100"]
        ok = ratio <= 1.5
        verdicts.append(ok)
        parts.append(
            f"{name} 100→10,000 ×{ratio:.2f} "
            f"({medians['100']:.1f}/{medians['10,000']:.1f} ms, queries "
            f"{counts[name]['100']}/{counts[name]['10,000']})" + ("" if ok else " MISSED")
        )
    verdict = "met" if all(verdicts) else "MISSED"
    harness.log(f"bench_fleet: {'; '.join(parts)} [target: ≤1.5×]; {describe}: {verdict}")


if __name__ == "__main__":
    main()
