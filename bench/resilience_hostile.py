"""Resilience run: a hostile upstream.

    .venv/bin/python bench/resilience_hostile.py [--tasks-per-mode 5]

gunicorn (as many sync workers as cores). For each hostile answer — a 5 MiB body (with and without
Content-Length), a gzip bomb (~40 KiB that inflates to 40 MiB), malformed JSON, and a redirect to
169.254.169.254 — several cold tasks are asked for through the API and the detail page while the
simulator answers that way.

Checks: the API answers the contract's error (502 `upstream_invalid_response`) and the page shows a
readable error (no server error page); nothing about these tasks is cached (the run's Redis keys)
or stored (no tracked task, no snapshot); the workers' peak RSS (VmHWM) grows by less than 16 MiB.
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter

import harness

warnings.simplefilter("ignore")

MODES = ("oversized", "oversized_stream", "gzip_bomb", "malformed_json", "redirect")
RSS_BOUND_MIB = 16


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks-per-mode", type=int, default=5)
    options = parser.parse_args()
    harness.time_limit(170)
    from simserver import bench_task_id

    per_mode = options.tasks_per_mode
    with harness.Stack(extra_tasks=len(MODES) * per_mode) as stack:
        harness.log(f"stack: {stack.describe()}")
        from django.core.cache import cache

        from tasks.models import TaskSnapshot, TrackedTask
        from tasks.services.task_fetch import task_cache_key

        stack.write_ceilings("8d7c029b01c64abf9630f40b7dbfb067")  # warm every worker a little
        for _ in range(20):
            harness.request(stack.port, "GET", "/bench/ceiling.json")
        pids = stack.worker_pids()
        peak_before = {pid: harness.peak_rss_kib(pid) for pid in pids}
        outcomes: dict[str, Counter] = {}
        hostile_ids = []
        for m, mode in enumerate(MODES):
            outcomes[mode] = Counter()
            for k in range(per_mode):
                task_id = bench_task_id(m * per_mode + k)
                hostile_ids.append(task_id)
                stack.sim("POST", "/_sim/faults", {task_id: {"mode": mode}})
                # API first (it makes the upstream call), then the page (answered from back-off).
                api = stack.get_task(task_id)
                code = api.json().get("error", {}).get("code") if api.status != 200 else "-"
                outcomes[mode][f"api {api.status} {code}"] += 1
                page = stack.get_task(task_id, api=False)
                readable = page.status < 500 or b"upstream" in page.body.lower()
                outcomes[mode][f"page {page.status}{'' if readable else ' UNREADABLE'}"] += 1
            harness.log(f"{mode:17s} {dict(outcomes[mode])}")
        peak_after = {pid: harness.peak_rss_kib(pid) for pid in stack.worker_pids()}
        project = stack.project
        stored = TrackedTask.objects.filter(project=project, task_id__in=hostile_ids).count()
        stored += TaskSnapshot.objects.filter(
            task__project=project, task__task_id__in=hostile_ids
        ).count()
        cached = (
            sum(
                cache.get(task_cache_key(project.public_id, "c-face-edge", task_id)) is not None
                for task_id in hostile_ids
            )
            if stack.shared_cache
            else None
        )
        describe = stack.describe()

    growth_mib = max(
        (peak_after.get(pid, 0) - before) / 1024 for pid, before in peak_before.items()
    )
    peak_mib = max(peak_after.values()) / 1024
    expected = {"api 502 upstream_invalid_response": per_mode, "page 502": per_mode}
    contract = all(
        all(key in expected for key in counts) and sum(counts.values()) == 2 * per_mode
        for counts in outcomes.values()
    )
    ok = contract and stored == 0 and not cached and growth_mib < RSS_BOUND_MIB
    cached_text = "n/a (no shared cache)" if cached is None else cached
    harness.log(
        f"resilience_hostile: {', '.join(MODES)} × {per_mode} tasks: contract errors "
        f"{'all' if contract else 'NOT all'} (API 502 upstream_invalid_response, page 502 "
        f"readable); stored rows {stored}, cached {cached_text} "
        f"[target 0]; worker peak RSS {peak_mib:.0f} MiB, growth {growth_mib:.1f} MiB "
        f"[< {RSS_BOUND_MIB} MiB]; {describe}: {'met' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
