"""Benchmark 3: a long history costs nothing extra per request.

    .venv/bin/python bench/bench_history_growth.py [--rounds 10] [--samples 20]

Three tasks with 1, 1,000 and 10,000 stored snapshots. For each: the task API (warm cache), the
snapshot list API (first page) and the history page (first page), each requested in-process
through Django's test client (the whole middleware stack, the same database): SQL queries per
request and the median time over interleaved rounds (every size measured in every round).
Targets: the same query count at every size; the median at 10,000 within 1.3× of the median at 1.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import warnings

import harness

warnings.simplefilter("ignore")

SIZES = (1, 1_000, 10_000)


def grow_history(stack: harness.Stack, task_id: str, size: int) -> None:
    """The task's one real snapshot becomes #size; #1..#size-1 are older versions before it."""
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import TaskSnapshot, TrackedTask
    from tasks.services.snapshots import content_hash

    tracked = TrackedTask.objects.get(project=stack.project, task_id=task_id)
    newest = TaskSnapshot.objects.get(task=tracked)
    if size == 1:
        return
    TaskSnapshot.objects.filter(pk=newest.pk).update(seq=size)
    now = timezone.now()
    states = ("PENDING", "STARTING", "RUNNING", "STOPPING", "STOPPED")
    rows = []
    for seq in range(1, size):
        payload = copy.deepcopy(newest.payload)
        payload["state"] = states[seq % len(states)]
        payload["updated_at"] = f"2024-01-01T00:00:{seq % 60:02d}Z#{seq}"
        when = now - timedelta(minutes=size - seq)
        rows.append(
            TaskSnapshot(
                task=tracked,
                seq=seq,
                payload=payload,
                content_hash=content_hash(payload),
                state=payload["state"],
                upstream_updated_at=payload["updated_at"],
                first_seen=when,
                last_seen=when,
            )
        )
    TaskSnapshot.objects.bulk_create(rows, batch_size=1000)
    # As tasks.services.snapshots would have counted them, writing them one by one.
    TrackedTask.objects.filter(pk=tracked.pk).update(snapshot_count=size)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--samples", type=int, default=20, help="requests per target and round")
    options = parser.parse_args()
    harness.time_limit(170)
    from simserver import bench_task_id

    with harness.Stack(workers=0, extra_tasks=len(SIZES), cache_ttl=3600) as stack:
        harness.log(f"stack: in-process test client, {stack.describe()}")
        from django.test import Client

        api = Client(HTTP_AUTHORIZATION=f"Token {stack.token}")
        pages = Client()
        pages.force_login(stack.user, backend="django.contrib.auth.backends.ModelBackend")
        targets: dict[str, dict[int, tuple]] = {"task API": {}, "snapshots API": {}}
        targets["history page"] = {}
        for index, size in enumerate(SIZES):
            task_id = bench_task_id(index)
            task_path = stack.task_path(task_id)
            assert api.get(task_path).status_code == 200  # fetch once: tracked + snapshot #1
            grow_history(stack, task_id, size)
            targets["task API"][size] = (api, task_path)
            targets["snapshots API"][size] = (api, task_path + "snapshots/")
            page_path = stack.task_path(task_id, api=False) + "history/"
            targets["history page"][size] = (pages, page_path)
        counts = {
            name: {size: harness.query_count(*target) for size, target in by_size.items()}
            for name, by_size in targets.items()
        }
        # Interleaved rounds, so that the machine's ups and downs fall on every size alike.
        times: dict[str, dict[int, list[float]]] = {
            name: {s: [] for s in SIZES} for name in targets
        }
        for _ in range(options.rounds):
            for name, by_size in targets.items():
                for size, target in by_size.items():
                    times[name][size] += harness.timed(*target, options.samples)
        rows = {
            name: {s: (counts[name][s], statistics.median(times[name][s])) for s in SIZES}
            for name in targets
        }
        describe = stack.describe()

    harness.log(f"{'endpoint':14s} " + " ".join(f"{size:>18,d}" for size in SIZES))
    verdicts = []
    parts = []
    for name, by_size in rows.items():
        harness.log(
            f"{name:14s} "
            + " ".join(f"{q:4d} q {ms:8.2f} ms" for q, ms in (by_size[s] for s in SIZES))
        )
        counts = [by_size[s][0] for s in SIZES]
        ratio = by_size[SIZES[-1]][1] / by_size[SIZES[0]][1]
        # 1,000 and 10,000 show the same (full) first page: their ratio isolates the growth.
        same_page = by_size[SIZES[-1]][1] / by_size[SIZES[1]][1]
        same = len(set(counts)) == 1
        verdicts.append(same and ratio <= 1.3)
        parts.append(
            f"{name} queries {'/'.join(map(str, counts))} time×{ratio:.2f} "
            f"(10k/1k ×{same_page:.2f})" + ("" if same and ratio <= 1.3 else " MISSED")
        )
    ok = "met" if all(verdicts) else "MISSED"
    harness.log(
        f"bench_history_growth: at 1/1,000/10,000 snapshots: {'; '.join(parts)} "
        f"[target: same queries, time ≤1.3×]; {describe}: {ok}"
    )


if __name__ == "__main__":
    main()
