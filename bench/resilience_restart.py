"""Resilience run: a gunicorn worker killed in the middle of a refresh.

    .venv/bin/python bench/resilience_restart.py

gunicorn (2 × cores + 1 workers with threads) against Redis, cache TTL 2 s. A task is fetched,
goes stale, and the simulator holds its next answer for 5 s. A client asks for it: the worker that
took the refresh lock and is waiting on the simulator (found by its open connection to the
simulator's port) is killed with SIGKILL. Clients then keep asking for the task every 0.25 s.

Checks: the dead worker's lock does not outlive its expiry (task_fetch.lock_timeout(): the
upstream deadline plus slack): the next refresh reaches the upstream within it, and meanwhile the
stale copy is served (no error); gunicorn replaces the worker; the task's stored history is whole
(sequence numbers 1..n, every payload matching its content hash, the tracked row agreeing with the
newest snapshot).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from collections import Counter

import harness

warnings.simplefilter("ignore")

TTL = 2
HOLD = 5.0


def main() -> None:
    harness.time_limit(150)
    from simserver import bench_task_id

    workers = 2 * harness.nproc() + 1
    task_id = bench_task_id(0)
    with harness.Stack(workers=workers, cache_ttl=TTL, extra_tasks=1) as stack:
        harness.log(f"stack: {stack.describe()}, cache TTL {TTL} s")
        from tasks.caching.locks import NamedLock, shared_redis
        from tasks.models import TaskSnapshot, TrackedTask
        from tasks.services.snapshots import content_hash
        from tasks.services.task_fetch import lock_timeout, task_cache_key

        lock_expiry = lock_timeout()
        assert stack.get_task(task_id).status == 200
        time.sleep(TTL + 0.5)
        stack.sim("POST", "/_sim/faults", {task_id: {"mode": "delay", "seconds": HOLD, "times": 1}})
        first: list = []
        refresher = threading.Thread(
            target=lambda: first.append(_try(lambda: stack.get_task(task_id, timeout=30))),
            daemon=True,
        )
        refresher.start()
        victim = None
        deadline = time.monotonic() + HOLD - 1
        while victim is None and time.monotonic() < deadline:
            found = harness.pids_connected_to(stack.sim_port, stack.worker_pids())
            victim = found[0] if found else None
            time.sleep(0.02)
        if victim is None:
            raise RuntimeError("no worker was talking to the simulator")
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        key = task_cache_key(stack.project.public_id, "c-face-edge", task_id)
        lock_key = NamedLock(key, timeout=1).name
        client = shared_redis()
        lock_ttl = None
        if client is not None:
            from django.core.cache import cache

            lock_ttl = client.pttl(cache.make_key(lock_key)) / 1000
        harness.log(
            f"killed worker {victim} mid-refresh; its lock expires in "
            f"{lock_ttl if lock_ttl is not None else 'n/a (local-memory cache dies with it)'} s"
        )
        refresher.join(timeout=30)
        answers: Counter[str] = Counter()
        refreshed_after = None
        while time.monotonic() - killed_at < lock_expiry + 10:
            answer = _try(lambda: stack.get_task(task_id, timeout=30))
            if isinstance(answer, harness.Answer) and answer.status == 200:
                source = answer.json()["meta"]["source"]
                answers[f"200 {source}"] += 1
                if source == "upstream":
                    refreshed_after = time.monotonic() - killed_at
                    break
            else:
                answers[str(getattr(answer, "status", answer))] += 1
            time.sleep(0.25)
        replaced = len(stack.worker_pids()) == workers and victim not in stack.worker_pids()
        tracked = TrackedTask.objects.get(project=stack.project, task_id=task_id)
        snapshots = list(TaskSnapshot.objects.filter(task=tracked).order_by("seq"))
        whole = (
            [s.seq for s in snapshots] == list(range(1, len(snapshots) + 1))
            and all(s.content_hash == content_hash(s.payload) for s in snapshots)
            and tracked.state == snapshots[-1].state
        )
        describe = stack.describe()
        lock_expiry = round(lock_expiry, 1)

    first_answer = first[0] if first else None
    harness.log(
        f"the killed request: {getattr(first_answer, 'status', first_answer)}; "
        f"answers after the kill: {dict(answers)}"
    )
    bad = sum(n for key, n in answers.items() if not key.startswith("200"))
    ok = (
        refreshed_after is not None
        and refreshed_after <= lock_expiry + 1
        and bad == 0
        and replaced
        and whole
    )
    refreshed = "never" if refreshed_after is None else f"{refreshed_after:.1f} s"
    harness.log(
        f"resilience_restart: worker SIGKILLed mid-refresh: next upstream refresh after "
        f"{refreshed} [target ≤ lock expiry {lock_expiry} s + 1 s of polling], {bad} failed "
        f"answers meanwhile [target 0], worker replaced: {'yes' if replaced else 'NO'}, "
        f"history whole ({len(snapshots)} snapshots): {'yes' if whole else 'NO'}; {describe}: "
        f"{'met' if ok else 'MISSED'}"
    )


def _try(call):
    try:
        return call()
    except Exception as exc:
        return type(exc).__name__


if __name__ == "__main__":
    main()
