"""A task's history: every version counted as it is written and pruned, and a first page (API
list and history page) whose queries do not depend on how long the history is."""

import importlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.api.views import SnapshotListView
from tasks.models import TaskSnapshot, TrackedTask
from tasks.services.snapshots import snapshot_record
from tasks.services.task_fetch import task_fetch
from tasks.web.views import task_pages
from tests.helpers import run_concurrently
from vassim.simulator import SEED_TASK_ID, TASK_A_ID

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SERVICE = "c-face-edge"


def record(project, payload, *, task_id=TASK_A_ID, when=None):
    return snapshot_record(
        project=project,
        service=SERVICE,
        task_id=task_id,
        payload=payload,
        request_id=None,
        now=when or timezone.now(),
    )


def grow(project, versions: int, *, task_id=TASK_A_ID, start=0) -> TrackedTask:
    """`versions` distinct versions of the task, recorded one by one as fetches would."""
    for n in range(start, start + versions):
        record(project, {"id": task_id, "state": "RUNNING", "n": n}, task_id=task_id)
    return TrackedTask.objects.get(project=project, task_id=task_id)


def assert_counted(tracked: TrackedTask, expected: int) -> None:
    tracked.refresh_from_db()
    assert tracked.snapshot_count == expected == TaskSnapshot.objects.filter(task=tracked).count()


# --------------------------------------------------------------------------- the count


def test_each_new_version_is_counted_and_a_sighting_is_not(sim_project):
    tracked = grow(sim_project, 3)
    assert_counted(tracked, 3)
    record(sim_project, {"id": TASK_A_ID, "state": "RUNNING", "n": 2})  # the newest again
    assert_counted(tracked, 3)
    record(sim_project, {"id": TASK_A_ID, "state": "RUNNING", "n": 0})  # an old one comes back
    assert_counted(tracked, 4)


def test_fetches_count_the_versions_they_store(sim_project, simulator):
    task_fetch(project=sim_project, service=SERVICE, task_id=SEED_TASK_ID)
    task_fetch(project=sim_project, service=SERVICE, task_id=SEED_TASK_ID, refresh=True)
    simulator.tasks[(SERVICE, SEED_TASK_ID)].doc["state"] = "STOPPED"
    task_fetch(project=sim_project, service=SERVICE, task_id=SEED_TASK_ID, refresh=True)
    assert_counted(TrackedTask.objects.get(task_id=SEED_TASK_ID), 2)


@pytest.mark.django_db(transaction=True)
def test_writers_racing_with_different_versions_count_each_once(sim_project):
    """On PostgreSQL the writers collide on (task, seq); the losers retry, and only the rows that
    were committed are counted."""
    tracked = grow(sim_project, 1)

    def worker(n: int) -> Callable[[], object]:
        return lambda: record(sim_project, {"id": TASK_A_ID, "state": "RUNNING", "writer": n})

    results = run_concurrently(*[worker(n) for n in range(3)])
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert_counted(tracked, 4)
    assert sorted(tracked.snapshots.values_list("seq", flat=True)) == [1, 2, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_writers_racing_with_the_same_version_count_it_once(sim_project):
    results = run_concurrently(
        *[lambda: record(sim_project, {"id": TASK_A_ID, "state": "RUNNING"}) for _ in range(4)]
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    tracked = TrackedTask.objects.get(task_id=TASK_A_ID)
    assert_counted(tracked, 1)
    assert tracked.snapshots.get().times_seen == 4


def test_prune_counts_what_is_left(sim_project):
    tracked = grow(sim_project, 10)
    call_command("prune_snapshots", "--keep", "3")
    assert_counted(tracked, 3)
    TaskSnapshot.objects.filter(task=tracked).update(last_seen=timezone.now() - timedelta(days=30))
    call_command("prune_snapshots", "--older-than", "7")
    assert_counted(tracked, 1)  # the newest always stays


def test_prune_puts_a_count_that_is_out_of_step_right(sim_project):
    tracked = grow(sim_project, 5)
    TrackedTask.objects.filter(pk=tracked.pk).update(snapshot_count=0)  # e.g. rows restored
    call_command("prune_snapshots", "--keep", "2")
    assert_counted(tracked, 2)


def test_versions_after_a_prune_are_counted_on_top(sim_project):
    tracked = grow(sim_project, 6)
    call_command("prune_snapshots", "--keep", "2")
    grow(sim_project, 3, start=100)
    assert_counted(tracked, 5)
    assert list(tracked.snapshots.values_list("seq", flat=True)) == [9, 8, 7, 6, 5]


def test_the_migration_counts_the_existing_history(sim_project):
    tracked = grow(sim_project, 4)
    empty = grow(sim_project, 1, task_id=SEED_TASK_ID)
    empty.snapshots.all().delete()
    TrackedTask.objects.update(snapshot_count=7)
    migration = importlib.import_module("tasks.migrations.0004_tracked_snapshot_count")
    migration.count_snapshots(apps, None)
    assert_counted(tracked, 4)
    assert_counted(empty, 0)


# --------------------------------------------------------------------------- the first page


def _task_url(project, *, api: bool, suffix: str) -> str:
    base = "/api/v1" if api else ""
    return f"{base}/projects/{project.public_id}/services/{SERVICE}/tasks/{TASK_A_ID}/{suffix}"


def _queries(client, url: str) -> list[str]:
    assert client.get(url).status_code == 200  # warm: caches of the session, token, project
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def _surface(surface, sim_project, api, client, bob):
    if surface == "history page":
        client.force_login(bob)
        return client, _task_url(sim_project, api=False, suffix="history/")
    return api("viewer"), _task_url(sim_project, api=True, suffix="snapshots/")


SURFACES = ["snapshot list API", "history page"]


@pytest.mark.parametrize("surface", SURFACES)
def test_the_first_page_costs_the_same_queries_however_long_the_history(
    sim_project, api, client, bob, surface, monkeypatch
):
    # Rendered anew on every request: what the first request after a change costs.
    monkeypatch.setattr(task_pages, "HISTORY_TTL", 0)
    monkeypatch.setattr(SnapshotListView, "PAGE_TTL", 0)
    client, url = _surface(surface, sim_project, api, client, bob)
    grow(sim_project, 1)
    short = _queries(client, url)
    grow(sim_project, 120, start=1)
    long = _queries(client, url)
    assert len(long) == len(short)
    # No COUNT(*) over the history, and every read of it bounded by a LIMIT.
    snapshot_queries = [sql for sql in long if "tasks_tasksnapshot" in sql]
    assert snapshot_queries and all("LIMIT" in sql for sql in snapshot_queries)
    assert not any("COUNT(" in sql.upper() for sql in long)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_page_of_history_is_rendered_once_per_change(sim_project, api, client, bob, surface):
    client, url = _surface(surface, sim_project, api, client, bob)
    grow(sim_project, 30)
    warm = _queries(client, url)
    assert not [sql for sql in warm if "tasks_tasksnapshot" in sql]
    grow(sim_project, 1, start=30)  # a new version: the next request shows it
    response = client.get(url)
    if surface == "history page":
        assert 'id="snapshot-' in response.content.decode()
        assert "#31" in response.content.decode()
    else:
        assert response.json()["count"] == 31
        assert response.json()["results"][0]["seq"] == 31
    record(sim_project, {"id": TASK_A_ID, "state": "RUNNING", "n": 30})  # seen again
    again = client.get(url)
    if surface == "snapshot list API":
        assert again.json()["results"][0]["times_seen"] == 2


def test_the_api_list_counts_and_pages_the_whole_history(sim_project, api):
    grow(sim_project, 120)
    client = api("viewer")
    url = _task_url(sim_project, api=True, suffix="snapshots/")
    first = client.get(url).json()
    assert first["count"] == 120 and len(first["results"]) == 50 and first["previous"] is None
    assert [s["seq"] for s in first["results"]] == list(range(120, 70, -1))
    last = client.get(url + "?page=3").json()
    assert [s["seq"] for s in last["results"]] == list(range(20, 0, -1)) and last["next"] is None
    assert client.get(url + "?page=4").status_code == 404


def test_the_history_page_pages_the_whole_history(sim_project, client, bob):
    grow(sim_project, 45)
    client.force_login(bob)
    url = _task_url(sim_project, api=False, suffix="history/")
    first = client.get(url).content.decode()
    assert first.count('class="timeline-entry card"') == 20
    assert "Version #45" in first and "Page 1 of 3" in first
    assert first.count(">latest<") == 1
    last = client.get(url + "?page=3").content.decode()
    assert last.count('class="timeline-entry card"') == 5
    assert "Version #1<" in last and ">latest<" not in last
    assert "The first version the portal saw." in last
    # The oldest version of the second page is compared with the newest of the third.
    second = client.get(url + "?page=2").content.decode()
    assert (
        '<td class="mono">n</td><td class="mono change-before">4</td>'
        '<td aria-hidden="true">→</td><td class="mono change-after">5</td>'
    ) in second
