"""Bounded versions of the resilience runs in bench/ (outage, slow and hostile upstream, a refresh
that dies half-way), against the live simulator over a socket, through the API and the pages."""

import json
import math
import socket
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db.models.query import QuerySet

from tasks.caching.locks import NamedLock
from tasks.models import TaskSnapshot, TrackedTask
from tasks.services import task_fetch as task_fetch_module
from tasks.services.snapshots import content_hash
from tasks.services.task_fetch import task_cache_key
from tasks.vas.client import make_retry
from vassim.simulator import (
    DEFAULT_AK,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    SEED_TASK_ID,
    TASK_A_ID,
    seed_tasks,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
SERVICE = "c-face-edge"
# Valid ids the simulator has never heard of: its faults apply before it looks a task up.
COLD_IDS = [f"{n:032x}" for n in range(0xC01D0001, 0xC01D0010)]


def api_path(project, task_id: str, service: str = SERVICE) -> str:
    return f"/api/v1/projects/{project.public_id}/services/{service}/tasks/{task_id}/"


def page_path(project, task_id: str, service: str = SERVICE) -> str:
    return f"/projects/{project.public_id}/services/{service}/tasks/{task_id}/"


@pytest.fixture
def viewer_client(client, bob):
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _short_ttl(project, seconds: int = 1):
    project.cache_ttl = seconds
    project.save(update_fields=["cache_ttl"])
    return project


def upstream_calls(simulator, task_id: str | None = None) -> int:
    return simulator.count(f"/tasks/{task_id}" if task_id else "/v2/", method="GET")


def test_outage_serves_every_read_from_copies_within_the_backoff(
    sim_project, simulator, viewer_client, monkeypatch
):
    monkeypatch.setattr(task_fetch_module, "BACKOFF_SECONDS", 1)
    project = _short_ttl(sim_project)
    task_ids = [SEED_TASK_ID, TASK_A_ID]
    for task_id in task_ids:
        assert viewer_client.get(api_path(project, task_id)).status_code == 200

    simulator.set_fault("*", "503")
    simulator.reset_counts()
    started = time.monotonic()
    sources = set()
    while time.monotonic() - started < 2.5:
        for task_id in task_ids:
            response = viewer_client.get(api_path(project, task_id))
            assert response.status_code == 200
            sources.add(response.json()["meta"]["source"])
        time.sleep(0.02)
    outage = time.monotonic() - started
    calls = upstream_calls(simulator)
    attempts = 1 + make_retry().total
    assert "stale" in sources and sources <= {"cache", "stale"}
    assert 0 < calls <= len(task_ids) * (math.ceil(outage / 1) + 1) * attempts

    simulator.clear_faults()
    fresh: set[str] = set()
    deadline = time.monotonic() + project.cache_ttl + 1 + 1  # one TTL + the back-off left
    while len(fresh) < len(task_ids) and time.monotonic() < deadline:
        for task_id in task_ids:
            meta = viewer_client.get(api_path(project, task_id)).json()["meta"]
            if meta["error"] is None and meta["age_seconds"] <= project.cache_ttl:
                fresh.add(task_id)
        time.sleep(0.05)
    assert fresh == set(task_ids)


def test_a_slow_upstream_ends_within_the_deadline_and_is_not_asked_again_at_once(
    sim_project, simulator, viewer_client, settings
):
    settings.PORTAL_UPSTREAM_TIMEOUT = (0.5, 0.5)
    deadline = 0.5 + 0.5 + 2.0  # VasClient's: connect + read + 2 s
    project = _short_ttl(sim_project)
    assert viewer_client.get(api_path(project, TASK_A_ID)).status_code == 200
    time.sleep(1.1)  # TASK_A's copy is now past its TTL
    simulator.set_fault("*", "delay", seconds=1.5)

    started = time.monotonic()
    cold = viewer_client.get(api_path(project, SEED_TASK_ID))
    assert time.monotonic() - started < deadline
    assert cold.status_code == 504
    assert cold.json()["error"]["code"] == "upstream_timeout"

    started = time.monotonic()
    stale = viewer_client.get(api_path(project, TASK_A_ID))
    assert time.monotonic() - started < deadline
    assert stale.status_code == 200
    assert stale.json()["meta"]["source"] == "stale"
    assert stale.json()["meta"]["error"]["code"] == "upstream_timeout"

    # The back-off answers at once, without tying a worker up on the upstream again.
    calls = upstream_calls(simulator)
    started = time.monotonic()
    page = viewer_client.get(page_path(project, SEED_TASK_ID))
    again = viewer_client.get(api_path(project, TASK_A_ID))
    assert time.monotonic() - started < 0.5
    assert page.status_code == 504 and again.json()["meta"]["source"] == "stale"
    assert upstream_calls(simulator) == calls


@pytest.fixture(scope="module")
def simulator_process():
    """The simulator in its own process (bench/simserver.py), so that measuring this process's
    memory measures the portal alone, not the simulator building its hostile answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = Path(__file__).resolve().parent.parent / "bench" / "simserver.py"
    proc = subprocess.Popen([sys.executable, str(script), "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/_sim/counts", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _control(url: str, method: str, path: str, body=None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


@pytest.fixture
def remote_project(db, alice, bob, simulator_process):
    from tasks.models import Membership, Role
    from tasks.services.projects import project_create

    project = project_create(
        actor=alice,
        fields={
            "name": "Remote simulator",
            "region": "cn-north-4",
            "upstream_project_id": DEFAULT_PROJECT_ID,
            "endpoint": simulator_process,
            "auth_type": "aksk",
        },
        secrets={"access_key": DEFAULT_AK, "secret_key": DEFAULT_SK},
    )
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    _control(simulator_process, "POST", "/_sim/reset")
    yield project
    _control(simulator_process, "POST", "/_sim/reset")


@pytest.mark.parametrize(
    "mode", ["oversized", "oversized_stream", "gzip_bomb", "malformed_json", "redirect"]
)
def test_a_hostile_answer_is_the_contract_error_and_leaves_nothing_behind(
    remote_project, simulator_process, viewer_client, mode
):
    task_id = COLD_IDS[0]
    _control(simulator_process, "POST", "/_sim/faults", {task_id: {"mode": mode}})
    viewer_client.get(api_path(remote_project, COLD_IDS[1]))  # warm the code paths (no fault)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        response = viewer_client.get(api_path(remote_project, task_id))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_invalid_response"
    # The body is capped at 2 MiB; the oversized answers are 5 MiB, the bomb inflates to 40 MiB.
    assert peak < 6 * 1024 * 1024
    assert not TrackedTask.objects.filter(task_id=task_id).exists()
    assert not TaskSnapshot.objects.filter(task__task_id=task_id).exists()
    assert cache.get(task_cache_key(remote_project.public_id, SERVICE, task_id)) is None

    page = viewer_client.get(page_path(remote_project, task_id))
    assert page.status_code == 502
    assert b"upstream" in page.content.lower()


def test_a_lock_left_by_a_dead_refresher_expires_and_the_next_request_refreshes(
    sim_project, simulator, viewer_client
):
    project = _short_ttl(sim_project)
    assert viewer_client.get(api_path(project, TASK_A_ID)).status_code == 200
    time.sleep(1.1)
    # What a SIGKILLed worker leaves: the refresh lock, taken and never released.
    dead = NamedLock(task_cache_key(project.public_id, SERVICE, TASK_A_ID), timeout=1)
    assert dead.acquire()
    calls = upstream_calls(simulator, TASK_A_ID)

    meanwhile = viewer_client.get(api_path(project, TASK_A_ID))
    assert meanwhile.status_code == 200
    assert meanwhile.json()["meta"]["source"] == "cache"  # the copy, while the lock stands
    assert upstream_calls(simulator, TASK_A_ID) == calls

    time.sleep(1.1)  # the lock's expiry
    after = viewer_client.get(api_path(project, TASK_A_ID))
    assert after.json()["meta"]["source"] == "upstream"
    assert upstream_calls(simulator, TASK_A_ID) == calls + 1


class _Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def test_a_refresh_that_dies_while_writing_leaves_no_half_written_snapshot(
    sim_project, simulator, viewer_client, monkeypatch
):
    project = _short_ttl(sim_project)
    assert viewer_client.get(api_path(project, SEED_TASK_ID)).status_code == 200
    tracked = TrackedTask.objects.get(task_id=SEED_TASK_ID)
    before = list(TaskSnapshot.objects.filter(task=tracked).values_list("pk", "seq"))
    doc = next(doc for doc, _options in seed_tasks() if doc["id"] == SEED_TASK_ID)
    simulator.add_task({**doc, "state": "STOPPED"}, service=SERVICE)  # a new version upstream
    time.sleep(1.1)

    real_update = QuerySet.update

    def dies_on_the_tracked_row(queryset, **kwargs):
        if queryset.model is TrackedTask and "last_fetched" in kwargs:
            raise _Killed  # after the new snapshot row was inserted, before the tracked row
        return real_update(queryset, **kwargs)

    monkeypatch.setattr(QuerySet, "update", dies_on_the_tracked_row)
    with pytest.raises(_Killed):
        viewer_client.get(api_path(project, SEED_TASK_ID))
    monkeypatch.setattr(QuerySet, "update", real_update)

    assert list(TaskSnapshot.objects.filter(task=tracked).values_list("pk", "seq")) == before
    tracked.refresh_from_db()
    assert tracked.state == "RUNNING"

    task_fetch_module.cache.delete(
        f"backoff:{task_cache_key(project.public_id, SERVICE, SEED_TASK_ID)}"
    )
    again = viewer_client.get(api_path(project, SEED_TASK_ID))
    assert again.json()["meta"]["source"] == "upstream"
    snapshots = list(TaskSnapshot.objects.filter(task=tracked).order_by("seq"))
    assert [s.seq for s in snapshots] == [1, 2]
    assert all(s.content_hash == content_hash(s.payload) for s in snapshots)
    tracked.refresh_from_db()
    assert tracked.state == snapshots[-1].state == "STOPPED"
