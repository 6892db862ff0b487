"""task_fetch against the live simulator: cache, single-flight, history, stale copies, back-off."""

import time

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from tasks.caching.locks import NamedLock
from tasks.errors import PortalError, http_status
from tasks.models import AuditEvent, TaskSnapshot, TrackedTask
from tasks.selectors import snapshot_changes
from tasks.services import task_fetch as task_fetch_module
from tasks.services.task_fetch import task_cache_key, task_fetch
from tasks.services.task_list import task_list_upstream
from tasks.services.watch import task_watch
from tasks.vas import errors as vas_errors
from tests.helpers import run_concurrently
from vassim.simulator import SEED_TASK_ID, TASK_A_ID, TASK_C_ID

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
SERVICE = "c-face-edge"


def shows(simulator, task_id=SEED_TASK_ID) -> int:
    """Upstream GETs of one task the simulator has answered."""
    return simulator.count(f"/tasks/{task_id}", method="GET")


def fetch(project, task_id=SEED_TASK_ID, **kwargs):
    return task_fetch(project=project, service=SERVICE, task_id=task_id, **kwargs)


def test_it_fetches_upstream_then_serves_from_cache(sim_project, simulator):
    first = fetch(sim_project)
    assert first.meta["source"] == "upstream"
    assert first.task["id"] == SEED_TASK_ID
    assert first.roi["shapes"][0]["points"] == [[100, 100], [1800, 100], [1800, 1000], [100, 1000]]
    assert first.meta["snapshot_id"] == TaskSnapshot.objects.get().pk
    assert first.meta["upstream_request_id"]

    second = fetch(sim_project)
    assert second.meta["source"] == "cache"
    assert second.task == first.task
    assert shows(simulator) == 1


def test_a_cache_hit_makes_no_query_and_no_upstream_call(
    sim_project, simulator, django_assert_num_queries
):
    fetch(sim_project)
    with django_assert_num_queries(0):
        assert fetch(sim_project).meta["source"] == "cache"
    assert shows(simulator) == 1


def _add_history(project, count: int) -> None:
    tracked = TrackedTask.objects.get(project=project, task_id=SEED_TASK_ID)
    now = timezone.now()
    TaskSnapshot.objects.bulk_create(
        TaskSnapshot(
            task=tracked,
            seq=1000 + n,
            payload={"n": n},
            content_hash=f"h{n}",
            first_seen=now,
            last_seen=now,
        )
        for n in range(count)
    )


@pytest.mark.parametrize("history", [1, 1000])
def test_a_miss_costs_the_same_queries_whatever_the_history(
    sim_project, simulator, django_assert_num_queries, history
):
    fetch(sim_project)
    _add_history(sim_project, history - 1)
    # savepoint, get_or_create, newest, insert-or-update, tracked update, release. With a longer
    # history the newest stored version differs from the upstream's (a new version): its events
    # cost three more (the old payload, the task's open problem, one insert), whatever the history.
    with django_assert_num_queries(6 if history == 1 else 9):
        fetch(sim_project, refresh=True)


def test_the_same_content_adds_no_snapshot(sim_project, simulator):
    fetch(sim_project)
    fetch(sim_project, refresh=True)
    fetch(sim_project, refresh=True)
    snapshot = TaskSnapshot.objects.get()
    assert snapshot.times_seen == 3
    assert snapshot.last_seen >= snapshot.first_seen


def test_a_state_change_adds_a_version_whose_changes_name_it(sim_project, simulator):
    from vassim.simulator import SEEDED_IDS

    task_id = SEEDED_IDS["lifecycle-fetch"]  # PENDING → STARTING → RUNNING, one step per fetch
    states = [fetch(sim_project, task_id, refresh=True).task["state"] for _ in range(3)]
    assert states == ["PENDING", "STARTING", "RUNNING"]
    tracked = TrackedTask.objects.get(task_id=task_id)
    newest, middle, oldest = TaskSnapshot.objects.filter(task=tracked).order_by("-seq")
    assert snapshot_changes(snapshot=oldest) == []
    state_change = [c for c in snapshot_changes(snapshot=newest) if c["path"] == "state"]
    assert state_change == [{"path": "state", "before": "STARTING", "after": "RUNNING"}]
    assert tracked.state == "RUNNING"


def test_a_forced_refresh_is_audited_and_throttled(sim_project, simulator, alice, settings):
    settings.PORTAL_REFRESH_RATE = "2/min"
    fetch(sim_project, refresh=True, actor=alice)
    fetch(sim_project, refresh=True, actor=alice)
    with pytest.raises(PortalError) as caught:
        fetch(sim_project, refresh=True, actor=alice)
    assert caught.value.code == "throttled" and http_status(caught.value.code) == 429
    assert AuditEvent.objects.filter(action="task.refreshed").count() == 2
    assert shows(simulator) == 2


@pytest.mark.parametrize(
    ("service", "task_id", "code"),
    [
        ("c-face-edge", "../../etc/passwd", "invalid_task_id"),
        ("c-face-edge", "x" * 65, "invalid_task_id"),
        ("c-face-edge", "", "invalid_task_id"),
        ("c face", SEED_TASK_ID, "invalid_service"),
        ("c-face-edge/..", SEED_TASK_ID, "invalid_service"),
    ],
)
def test_malformed_ids_are_refused_before_any_io(sim_project, simulator, service, task_id, code):
    with pytest.raises(PortalError) as caught:
        task_fetch(project=sim_project, service=service, task_id=task_id)
    assert caught.value.code == code
    assert simulator.count() == 0


STALE_FAULTS = [
    ("503", "upstream_unavailable"),
    ("malformed_json", "upstream_invalid_response"),
    ("html", "upstream_invalid_response"),
    ("oversized", "upstream_invalid_response"),
    ("401", "upstream_auth_failed"),
    ("403", "upstream_forbidden"),
    ("delay", "upstream_timeout"),
    ("drop", "upstream_unavailable"),
]


@pytest.mark.parametrize(("mode", "code"), STALE_FAULTS)
def test_an_upstream_failure_answers_the_stale_copy(sim_project, simulator, settings, mode, code):
    settings.PORTAL_UPSTREAM_TIMEOUT = (1.0, 0.5)
    first = fetch(sim_project)
    simulator.set_fault(SEED_TASK_ID, mode, seconds=1.5)
    result = fetch(sim_project, refresh=True)
    assert result.meta["source"] == "stale"
    assert result.meta["error"]["code"] == code
    assert result.task == first.task
    assert TaskSnapshot.objects.count() == 1


@pytest.mark.parametrize(("mode", "code"), STALE_FAULTS[:3])
def test_a_stale_copy_comes_from_the_snapshots_when_the_cache_is_empty(
    sim_project, simulator, mode, code
):
    from django.core.cache import cache

    fetch(sim_project)
    cache.clear()
    simulator.set_fault(SEED_TASK_ID, mode)
    result = fetch(sim_project)
    assert result.meta["source"] == "stale"
    assert result.meta["snapshot_id"] == TaskSnapshot.objects.get().pk
    assert result.meta["error"]["code"] == code


def test_without_any_copy_the_typed_error_is_raised(sim_project, simulator):
    simulator.set_fault(SEED_TASK_ID, "503")
    with pytest.raises(vas_errors.UpstreamUnavailable):
        fetch(sim_project)
    assert not TaskSnapshot.objects.exists()


def test_a_404_is_not_hidden_and_marks_the_task_gone(sim_project, simulator):
    doc = {
        "id": "0123456789abcdef0123456789abcdef",
        "name": "short-lived",
        "creator": "ops",
        "project_id": "p",
        "service_version": "3.0",
        "state": "RUNNING",
        "input": {},
        "output": {},
    }
    simulator.add_task(doc, service=SERVICE)
    fetch(sim_project, doc["id"])
    simulator.reset()  # the added task is gone upstream
    with pytest.raises(vas_errors.TaskNotFound):
        fetch(sim_project, doc["id"], refresh=True)
    tracked = TrackedTask.objects.get(task_id=doc["id"])
    assert tracked.gone_at is not None
    assert tracked.snapshots.count() == 1  # history kept
    # The 404 is remembered briefly: no second upstream call.
    with pytest.raises(vas_errors.TaskNotFound):
        fetch(sim_project, doc["id"], refresh=True)
    assert shows(simulator, doc["id"]) == 1


def test_after_a_failure_refreshes_are_held_back(sim_project, simulator):
    with time_machine.travel(time.time(), tick=False) as traveller:
        fetch(sim_project)
        simulator.set_fault(SEED_TASK_ID, "503")
        traveller.shift(31)  # past the TTL
        assert fetch(sim_project).meta["source"] == "stale"
        calls = shows(simulator)
        for _ in range(20):  # a burst within the back-off window
            traveller.shift(0.2)
            assert fetch(sim_project).meta["source"] == "stale"
        assert shows(simulator) == calls
        traveller.shift(5)
        fetch(sim_project)
        assert shows(simulator) > calls  # the back-off expired: upstream is asked again


def test_during_an_outage_upstream_calls_follow_the_back_off_not_the_request_rate(
    sim_project, simulator
):
    with time_machine.travel(time.time(), tick=False) as traveller:
        fetch(sim_project)
        simulator.set_fault("*", "503")
        traveller.shift(31)
        simulator.reset_counts()
        requests_made = 0
        for _ in range(300):  # 30 s of outage at 10 requests a second
            traveller.shift(0.1)
            assert fetch(sim_project).meta["source"] == "stale"
            requests_made += 1
        attempts = 30 / task_fetch_module.BACKOFF_SECONDS + 1
        # Each attempt is one call plus at most two in-process retries.
        assert shows(simulator) <= attempts * 3
        assert requests_made == 300


def test_a_429_backs_off_for_its_retry_after(sim_project, simulator):
    simulator.set_fault(SEED_TASK_ID, "429", retry_after=20)
    with time_machine.travel(time.time(), tick=False) as traveller:
        with pytest.raises(vas_errors.UpstreamUnavailable):
            fetch(sim_project)
        traveller.shift(10)
        with pytest.raises(vas_errors.UpstreamUnavailable) as caught:
            fetch(sim_project)
        assert 5 <= caught.value.retry_after <= 11
        assert shows(simulator) == 1


def test_while_another_request_refreshes_the_previous_copy_answers_at_once(sim_project, simulator):
    with time_machine.travel(time.time(), tick=False) as traveller:
        fetch(sim_project)
        traveller.shift(31)
        key = task_cache_key(sim_project.public_id, SERVICE, SEED_TASK_ID)
        holder = NamedLock(key, timeout=30)
        assert holder.acquire()
        try:
            result = fetch(sim_project)
        finally:
            holder.release()
    assert result.meta["source"] == "cache"
    assert result.meta["age_seconds"] >= 31
    assert shows(simulator) == 1


def test_with_nothing_cached_waiters_give_up_after_a_bound(sim_project, simulator, monkeypatch):
    monkeypatch.setattr(task_fetch_module, "lock_timeout", lambda: 0.3)
    holder = NamedLock(task_cache_key(sim_project.public_id, SERVICE, SEED_TASK_ID), timeout=30)
    assert holder.acquire()
    try:
        with pytest.raises(vas_errors.UpstreamUnavailable):
            fetch(sim_project)
    finally:
        holder.release()
    assert shows(simulator) == 0


def test_a_lock_is_released_only_by_its_holder():
    first = NamedLock("k", timeout=30)
    second = NamedLock("k", timeout=30)
    assert first.acquire()
    assert not second.acquire()
    second.release()  # not the holder: nothing happens
    assert not NamedLock("k", timeout=30).acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_a_dead_holders_lock_expires():
    stuck = NamedLock("expiring", timeout=1)
    assert stuck.acquire()
    time.sleep(1.2)
    assert NamedLock("expiring", timeout=1).acquire()


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_cold_requests_make_one_upstream_call(sim_project, simulator):
    simulator.set_fault(SEED_TASK_ID, "delay", seconds=0.3)
    results = run_concurrently(*[lambda: fetch(sim_project).meta["source"] for _ in range(50)])
    assert [r for r in results if isinstance(r, BaseException)] == []
    sources: list[str] = results
    assert shows(simulator) == 1
    assert sorted(set(sources)) == ["cache", "upstream"]
    assert sources.count("upstream") == 1
    assert TaskSnapshot.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_writers_recording_the_same_change_make_one_version(sim_project):
    from tasks.services.snapshots import snapshot_record

    payload = {"id": TASK_A_ID, "state": "RUNNING"}

    def worker() -> object:
        return snapshot_record(
            project=sim_project,
            service=SERVICE,
            task_id=TASK_A_ID,
            payload=payload,
            request_id=None,
            now=timezone.now(),
        )

    results = run_concurrently(*[worker for _ in range(4)])
    assert [r for r in results if isinstance(r, BaseException)] == []
    snapshot = TaskSnapshot.objects.get()
    assert snapshot.times_seen == 4


def test_an_error_mid_write_leaves_nothing_half_written(sim_project, simulator, monkeypatch):
    from tasks.services import snapshots

    real_filter = snapshots.TrackedTask.objects.filter

    def broken_filter(*args, **kwargs):
        if "pk" in kwargs:  # the final bookkeeping update, after the snapshot insert
            raise RuntimeError("disk full")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(snapshots.TrackedTask.objects, "filter", broken_filter)
    with pytest.raises(RuntimeError):
        fetch(sim_project)
    assert not TaskSnapshot.objects.exists()
    assert not TrackedTask.objects.exists()


def test_credentials_versions_separate_cache_entries(sim_project, simulator, alice):
    from tasks.services.projects import project_update
    from vassim.simulator import DEFAULT_SK

    fetch(sim_project)
    project_update(actor=alice, project=sim_project, fields={}, secrets={"secret_key": DEFAULT_SK})
    assert fetch(sim_project).meta["source"] == "upstream"
    assert shows(simulator) == 2


def test_a_zero_ttl_disables_caching(sim_project, simulator):
    sim_project.cache_ttl = 0
    fetch(sim_project)
    assert fetch(sim_project).meta["source"] == "upstream"
    assert shows(simulator) == 2


def test_secrets_never_reach_the_cache_or_snapshots(sim_project, simulator):
    from django.core.cache import cache

    from vassim.simulator import DEFAULT_AK, DEFAULT_SK, SEEDED_IDS

    task_id = SEEDED_IDS["webhook-secret"]
    result = task_fetch(project=sim_project, service=SERVICE, task_id=task_id)
    stored = str(TaskSnapshot.objects.get().payload) + str(
        cache.get(task_cache_key(sim_project.public_id, SERVICE, task_id))
    )
    headers = result.task["output"]["webhook"]["headers"]
    assert any(value == "******" for value in headers.values())
    for secret in (DEFAULT_AK, DEFAULT_SK):
        assert secret not in stored
    assert "Bearer" not in stored


def test_the_upstream_list_is_proxied_and_cached_briefly(sim_project, simulator):
    page = task_list_upstream(project=sim_project, service=SERVICE, limit=5)
    assert page["count"] >= len(page["tasks"]) > 0
    assert set(page["tasks"][0]) == {
        "id",
        "name",
        "state",
        "service_version",
        "created_at",
        "updated_at",
    }
    again = task_list_upstream(project=sim_project, service=SERVICE, limit=5)
    assert again["meta"]["source"] == "cache"
    running = task_list_upstream(project=sim_project, service=SERVICE, state="RUNNING")
    assert all(task["state"] == "RUNNING" for task in running["tasks"])
    with pytest.raises(PortalError):
        task_list_upstream(project=sim_project, service=SERVICE, state="NOPE")
    with pytest.raises(PortalError):
        task_list_upstream(project=sim_project, service=SERVICE, limit=101)


def test_watching_a_never_seen_task_fetches_it_first(sim_project, simulator, alice):
    tracked = task_watch(
        actor=alice,
        project=sim_project,
        service="c-non-motor-detection-edge",
        task_id=TASK_C_ID,
        watched=True,
    )
    assert tracked.watched and tracked.state == "ABNORMAL"
    assert AuditEvent.objects.filter(action="task.watched").count() == 1


# Commands


@pytest.mark.django_db(transaction=True)
def test_poll_tasks_refreshes_watched_tasks_and_summarises(sim_project, simulator, capsys):
    from vassim.simulator import SEEDED_IDS

    lifecycle = SEEDED_IDS["lifecycle-fetch"]
    for task_id in (SEED_TASK_ID, lifecycle):
        fetch(sim_project, task_id)
    TrackedTask.objects.update(watched=True)
    simulator.reset_counts()
    call_command("poll_tasks", "--concurrency", "2")
    out = capsys.readouterr().out
    assert "polled 2 watched task(s): 1 changed, 1 unchanged, 0 failed" in out
    # Batched (the monitor): both came in one page of the service's list, none fetched alone.
    assert simulator.operations == {"ListTasksDetails": 1}


@pytest.mark.django_db(transaction=True)
def test_poll_tasks_fails_only_when_every_fetch_failed(sim_project, simulator, capsys):
    from django.core.management.base import CommandError

    fetch(sim_project)
    fetch(sim_project, TASK_A_ID)
    TrackedTask.objects.update(watched=True)
    # Missing from the list, the seed task is fetched alone, and that fails.
    simulator.list_hidden = {SEED_TASK_ID}
    simulator.set_fault(SEED_TASK_ID, "500")
    call_command("poll_tasks")
    assert "1 unchanged, 1 failed" in capsys.readouterr().out
    simulator.set_fault("*", "500")
    with pytest.raises(CommandError):
        call_command("poll_tasks")


def _history(tracked, count, days_ago_each=1):
    now = timezone.now()
    TaskSnapshot.objects.bulk_create(
        TaskSnapshot(
            task=tracked,
            seq=n + 1,
            payload={"n": n},
            content_hash=str(n),
            first_seen=now - timezone.timedelta(days=(count - n) * days_ago_each - 0.5),
            last_seen=now - timezone.timedelta(days=(count - n) * days_ago_each - 0.5),
        )
        for n in range(count)
    )


def _tracked(project):
    now = timezone.now()
    return TrackedTask.objects.create(
        project=project,
        service=SERVICE,
        task_id=SEED_TASK_ID,
        first_seen=now,
        last_fetched=now,
        last_changed=now,
    )


def test_prune_keeps_the_newest_n(sim_project):
    tracked = _tracked(sim_project)
    _history(tracked, 10)
    call_command("prune_snapshots", "--keep", "3")
    assert list(tracked.snapshots.values_list("seq", flat=True)) == [10, 9, 8]


def test_prune_by_age_never_drops_the_newest(sim_project):
    tracked = _tracked(sim_project)
    _history(tracked, 5, days_ago_each=10)  # newest is 9.5 days old
    call_command("prune_snapshots", "--older-than", "3")
    assert list(tracked.snapshots.values_list("seq", flat=True)) == [5]


def test_prune_with_both_rules(sim_project):
    tracked = _tracked(sim_project)
    _history(tracked, 6, days_ago_each=1)  # ages 5.5 … 0.5 days
    call_command("prune_snapshots", "--keep", "4", "--older-than", "2")
    assert list(tracked.snapshots.values_list("seq", flat=True)) == [6, 5]


def test_the_demo_seed_is_idempotent(db, capsys):
    from tasks.models import AuditEvent, CloudProject

    def counts():
        return [m.objects.count() for m in (CloudProject, TrackedTask, TaskSnapshot, AuditEvent)]

    call_command("demo")
    first = counts()
    call_command("demo")
    assert counts() == first
    assert first[1] > 5 and first[2] > first[1]
    assert "log in as: admin / demo-" in capsys.readouterr().out


@pytest.mark.parametrize("history", [4, 300])
def test_a_history_page_costs_one_query_and_matches_each_version(
    sim_project, django_assert_num_queries, history
):
    from tasks.selectors import snapshot_list, snapshot_page_changes

    tracked = _tracked(sim_project)
    now = timezone.now()
    TaskSnapshot.objects.bulk_create(
        TaskSnapshot(
            task=tracked,
            seq=n + 1,
            payload={"state": f"S{n}", "n": n},
            content_hash=str(n),
            first_seen=now,
            last_seen=now,
        )
        for n in range(history)
    )
    page = list(snapshot_list(tracked=tracked)[1:3])  # a page that does not start at the newest
    with django_assert_num_queries(1):
        changes = snapshot_page_changes(tracked=tracked, snapshots=page)
    for snapshot in page:
        assert changes[snapshot.pk] == snapshot_changes(snapshot=snapshot)
        assert {
            "path": "state",
            "before": f"S{snapshot.seq - 2}",
            "after": f"S{snapshot.seq - 1}",
        } in (changes[snapshot.pk])
