"""Single-flight within the upstream's deadline: a request waiting for another's fetch waits no
longer than that fetch may take, a holder that died frees the task when its lock (sized to the
deadline) expires, and `/healthz` answers while requests wait. gunicorn serves with threads and
refuses several workers with a per-process cache."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from tasks.caching.locks import NamedLock
from tasks.services import task_fetch as task_fetch_module
from tasks.services.task_fetch import lock_timeout, task_cache_key, task_fetch
from tasks.vas import errors as vas_errors
from vassim.simulator import SEED_TASK_ID

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
SERVICE = "c-face-edge"


@pytest.fixture(autouse=True)
def _short_deadline(settings):
    settings.PORTAL_UPSTREAM_TIMEOUT = (0.2, 0.3)  # a deadline of 2.5 s, a lock of 4.5 s


@pytest.fixture(params=["locmem", "redis"])
def backend(request) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def _fetch(project):
    return task_fetch(project=project, service=SERVICE, task_id=SEED_TASK_ID)


def test_the_lock_lasts_the_upstream_deadline_and_a_little_more(settings):
    settings.PORTAL_UPSTREAM_TIMEOUT = (3.0, 10.0)
    assert lock_timeout() == 3.0 + 10.0 + 2.0 + task_fetch_module.LOCK_SLACK
    assert lock_timeout() < 30


def test_a_waiter_gives_up_within_the_upstream_deadline(backend, sim_project, simulator):
    holder = NamedLock(task_cache_key(sim_project.public_id, SERVICE, SEED_TASK_ID), timeout=60)
    assert holder.acquire()  # a live holder that never answers
    started = time.monotonic()
    try:
        with pytest.raises(vas_errors.UpstreamUnavailable):
            _fetch(sim_project)
    finally:
        holder.release()
    assert time.monotonic() - started <= lock_timeout() + 0.5
    assert simulator.count("GET") == 0


def test_a_dead_holder_frees_the_task_when_its_lock_expires(backend, sim_project, simulator):
    # What a SIGKILLed worker leaves: the lock it took (sized as task_fetch sizes it), never freed.
    dead = NamedLock(task_cache_key(sim_project.public_id, SERVICE, SEED_TASK_ID), timeout=1.0)
    assert dead.acquire()
    started = time.monotonic()
    result = _fetch(sim_project)  # waits, then fetches itself once the lock is gone
    assert result.meta["source"] == "upstream"
    assert 0.9 <= time.monotonic() - started <= 2.5


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_while_requests_wait_for_a_slow_task(
    live_server, settings, sim_project, simulator
):
    settings.PORTAL_UPSTREAM_TIMEOUT = (1.0, 5.0)
    simulator.set_fault(SEED_TASK_ID, "delay", seconds=2.0)
    bob = get_user_model().objects.get(username="bob")
    client = Client()
    client.force_login(bob)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    url = live_server.url + f"/projects/{sim_project.public_id}/services/{SERVICE}/tasks/"
    url += f"{SEED_TASK_ID}/"
    answers: list[int] = []
    waiters = [
        threading.Thread(
            target=lambda: answers.append(
                requests.get(url, cookies=cookies, timeout=30).status_code
            )
        )
        for _ in range(8)
    ]
    for thread in waiters:
        thread.start()
    time.sleep(0.5)  # all eight are in: one fetching, seven waiting
    health = requests.get(f"{live_server.url}/healthz", timeout=10)
    # Ordering, not wall-clock time: /healthz answered while the eight were still waiting.
    answered_before_health = len(answers)
    for thread in waiters:
        thread.join(timeout=30)
    assert health.status_code == 200
    assert answered_before_health == 0
    assert sorted(answers) == [200] * 8
    assert simulator.count(f"GET /v2/{sim_project.upstream_project_id}/services/{SERVICE}") == 1


def _gunicorn(*args: str, cache_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CACHE_URL": cache_url,
        "DEBUG": "false",
        "GUNICORN_BIND": "127.0.0.1:0",
    }
    env.pop("WEB_CONCURRENCY", None)
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), *args]
        + ["portal.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_gunicorn_refuses_several_workers_with_a_per_process_cache():
    result = _gunicorn("--workers", "2", cache_url="locmemcache://")
    assert result.returncode != 0
    assert "per-process cache" in result.stderr


def test_gunicorn_serves_with_threads_and_one_worker_by_default_with_local_memory():
    code = (
        "import runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(c['worker_class'], c['threads'], c['workers'])"
    )
    env = {**os.environ, "CACHE_URL": "locmemcache://", "DEBUG": "false"}
    env.pop("WEB_CONCURRENCY", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "gthread"
    assert int(out[1]) > 1
    assert out[2] == "1"
