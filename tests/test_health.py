"""A task's health from its snapshots: time per state, up ratio, flips, longest problem and
segments, with unobserved time counted as neither up nor down — checked against a known history,
through the service, the API and the detail page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import TaskSnapshot
from tasks.services.health import health_from_versions, max_gap_for, task_health_get
from tests.fleet_fixtures import make_task

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
H, M = 3600, 60


def at(hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


#: Polled every 5 minutes (so a sighting vouches for 10): RUNNING, 5 minutes to see ABNORMAL, a
#: 1 h 50 min outage of the worker, RUNNING again, STOPPED, then nobody looks for the last 3 h 50.
HISTORY = [
    ("RUNNING", at(-1), at(2)),
    ("ABNORMAL", at(2, 5), at(3)),
    ("RUNNING", at(5), at(10)),
    ("STOPPED", at(10, 5), at(20)),
]
EXPECTED_SEGMENTS = [
    ("RUNNING", at(0), at(2, 5)),
    ("ABNORMAL", at(2, 5), at(3, 10)),
    (None, at(3, 10), at(5)),
    ("RUNNING", at(5), at(10, 5)),
    ("STOPPED", at(10, 5), at(20, 10)),
    (None, at(20, 10), at(24)),
]


def known_health():
    return health_from_versions(HISTORY, start=T0, end=NOW, max_gap=max_gap_for(300))


def test_a_known_history_gives_its_segments_with_the_unobserved_gaps():
    health = known_health()
    assert [(s.state, s.start, s.end) for s in health.segments] == EXPECTED_SEGMENTS


def test_time_per_state_counts_only_observed_time():
    health = known_health()
    assert health.state_seconds == {
        "RUNNING": 2 * H + 5 * M + 5 * H + 5 * M,
        "ABNORMAL": 65 * M,
        "STOPPED": 10 * H + 5 * M,
    }
    assert health.observed_seconds == 66_000
    assert health.unobserved_seconds == 86_400 - 66_000


def test_the_up_ratio_is_a_share_of_observed_time_not_of_the_window():
    assert known_health().up_ratio == pytest.approx(25_800 / 66_000)


def test_flips_count_changes_between_up_and_not_up_even_across_a_gap():
    assert known_health().flips == 3


def test_the_longest_problem_is_stopped_straight_from_running_until_the_end():
    # ABNORMAL lasted 65 observed minutes; STOPPED from RUNNING is a problem still going on.
    assert known_health().longest_problem_seconds == 10 * H + 5 * M


def test_a_problem_lasts_through_other_states_until_the_task_is_up_again():
    history = [
        ("RUNNING", at(0), at(1)),
        ("ABNORMAL", at(1), at(2)),
        ("STARTING", at(2), at(3)),
        ("RUNNING", at(3), at(24)),
    ]
    health = health_from_versions(history, start=T0, end=NOW, max_gap=max_gap_for(300))
    assert health.longest_problem_seconds == 2 * H
    assert health.flips == 2


def test_nothing_observed_means_no_ratio_and_one_unobserved_segment():
    health = health_from_versions([], start=T0, end=NOW, max_gap=max_gap_for(300))
    assert health.up_ratio is None
    assert [(s.state, s.start, s.end) for s in health.segments] == [(None, T0, NOW)]
    assert health.as_dict()["up_ratio"] is None


def test_a_longer_poll_interval_explains_a_longer_gap():
    # With polls every 2 hours the 1 h 50 gap after ABNORMAL is what the cadence explains.
    health = health_from_versions(HISTORY, start=T0, end=NOW, max_gap=max_gap_for(7200))
    assert health.state_seconds["ABNORMAL"] == 2 * H + 55 * M
    assert health.segments[2].state == "RUNNING"


def test_a_version_from_before_the_window_is_clipped_to_it():
    history = [("RUNNING", T0 - timedelta(days=30), at(12))]
    health = health_from_versions(history, start=T0, end=NOW, max_gap=max_gap_for(300))
    assert health.segments[0].start == T0
    assert health.state_seconds == {"RUNNING": 12 * H + 10 * M}


def test_the_answer_has_the_contracts_shape():
    body = known_health().as_dict()
    assert set(body) == {
        "from",
        "to",
        "observed_seconds",
        "state_seconds",
        "up_ratio",
        "flips",
        "longest_problem_seconds",
        "segments",
    }
    assert body["from"] == "2026-03-01T00:00:00Z" and body["to"] == "2026-03-02T00:00:00Z"
    assert body["segments"][2] == {
        "state": None,
        "from": "2026-03-01T03:10:00Z",
        "to": "2026-03-01T05:00:00Z",
    }
    assert body["up_ratio"] == 0.3909


# --------------------------------------------------------------------------- stored history


@pytest.mark.django_db
def test_the_stored_history_gives_the_same_health_in_one_query(project):
    tracked = make_task(project, HISTORY)
    tracked.project = project
    with CaptureQueriesContext(connection) as queries:
        health = task_health_get(task=tracked, days=1, now=NOW)
    assert len(queries) == 1
    assert [(s.state, s.start, s.end) for s in health.segments] == EXPECTED_SEGMENTS
    assert health.flips == 3


@pytest.mark.django_db
def test_health_reads_only_the_versions_inside_its_window(project):
    old = [
        (
            "RUNNING" if i % 2 else "ABNORMAL",
            T0 - timedelta(days=400 - i),
            T0 - timedelta(days=399 - i),
        )
        for i in range(300)
    ]
    tracked = make_task(project, old + HISTORY)
    tracked.project = project
    with CaptureQueriesContext(connection) as queries:
        health = task_health_get(task=tracked, days=1, now=NOW)
    assert [(s.state, s.start, s.end) for s in health.segments] == EXPECTED_SEGMENTS
    sql = queries[0]["sql"]
    assert '"last_seen" >=' in sql and "payload" not in sql
    # The index serves the window: the query plan names it.
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        else:
            cursor.execute("ANALYZE tasks_tasksnapshot")
            cursor.execute("EXPLAIN " + sql)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "snapshot_task_last_seen" in plan
    rows = TaskSnapshot.objects.filter(task=tracked, last_seen__gte=T0 - timedelta(minutes=10))
    assert rows.count() == len(HISTORY)


# --------------------------------------------------------------------------- the API


def health_url(project, task_id: str, query: str = "") -> str:
    return (
        f"/api/v1/projects/{project.public_id}/services/c-face-edge/tasks/{task_id}/health/{query}"
    )


@pytest.mark.django_db
def test_the_api_serves_the_windows_numbers(api, project):
    now = datetime.now(UTC)
    history = [
        ("RUNNING", now - timedelta(hours=30), now - timedelta(hours=10)),
        ("FAILED", now - timedelta(hours=10), now),
    ]
    tracked = make_task(project, history)
    body = api("viewer").get(health_url(project, tracked.task_id, "?days=1")).json()
    assert body["state_seconds"]["FAILED"] == pytest.approx(10 * H, abs=2)
    assert body["state_seconds"]["RUNNING"] == pytest.approx(14 * H, abs=2)
    assert body["flips"] == 1
    assert body["longest_problem_seconds"] == pytest.approx(10 * H, abs=2)
    assert body["up_ratio"] == pytest.approx(14 / 24, abs=0.001)
    assert [s["state"] for s in body["segments"]] == ["RUNNING", "FAILED"]
    default = api("viewer").get(health_url(project, tracked.task_id)).json()
    assert default["state_seconds"]["RUNNING"] == pytest.approx(20 * H, abs=2)


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["0", "91", "abc", "7.0", "-1", "", "1e1", "007"])
def test_days_outside_1_to_90_is_a_400(api, project, days):
    tracked = make_task(project, HISTORY)
    response = api("viewer").get(health_url(project, tracked.task_id, f"?days={days}"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "days" in response.json()["error"]["details"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "status"),
    [("superuser", 200), ("admin", 200), ("viewer", 200), ("outsider", 404), ("anonymous", 401)],
)
def test_only_members_see_a_tasks_health(api, project, role, status):
    tracked = make_task(project, HISTORY)
    response = api(role).get(health_url(project, tracked.task_id, "?days=90"))
    assert response.status_code == status
    if status != 200:
        assert "error" in response.json()


@pytest.mark.django_db
def test_an_unknown_or_malformed_task_has_no_health(api, project):
    assert api("viewer").get(health_url(project, "f" * 32)).status_code == 404
    response = api("viewer").get(health_url(project, "bad.id"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_task_id"


# --------------------------------------------------------------------------- the detail page


@pytest.mark.django_db
@pytest.mark.integration
def test_the_detail_page_draws_a_strip_per_window_from_the_stored_history(
    client, alice, bob, sim_project
):
    from tasks.services.task_fetch import task_fetch
    from vassim.simulator import SEED_TASK_ID

    task_fetch(project=sim_project, service="c-face-edge", task_id=SEED_TASK_ID)
    now = datetime.now(UTC)
    TaskSnapshot.objects.filter(task__task_id=SEED_TASK_ID).update(
        first_seen=now - timedelta(hours=30), last_seen=now - timedelta(hours=6)
    )
    client.force_login(bob)
    path = f"/projects/{sim_project.public_id}/services/c-face-edge/tasks/{SEED_TASK_ID}/"
    page = client.get(path).content.decode()
    for days in (1, 7, 30, 90):
        assert f'id="health-strip-{days}"' in page
    one_day = page[page.index('id="health-strip-1"') : page.index('id="health-strip-7"')]
    # 18 hours RUNNING (then 10 vouched minutes), the last 5 h 50 min not observed.
    assert one_day.count('class="seg running"') == 1
    assert one_day.count('class="seg unobserved"') == 1
    seconds = [int(n) for n in re.findall(r'data-seconds="([0-9]+)"', one_day)]
    assert seconds == [pytest.approx(65_400, abs=2), pytest.approx(21_000, abs=2)]
    assert "js/health_strip.js" in page
    assert "/badge/" not in page  # viewers get no badge URL
    client.force_login(alice)
    assert f"/badge/{sim_project.badge_key}/t/" in client.get(path).content.decode()


def test_a_busy_window_is_drawn_as_a_bounded_number_of_slices():
    from tasks.web.views.fleet import STRIP_MAX_RECTS, _strip

    # A flip every 5 minutes for a day: 288 versions, 576 would-be segments.
    history = []
    for i in range(288):
        first = T0 + timedelta(minutes=5 * i)
        history.append(("RUNNING" if i % 2 else "ABNORMAL", first, first + timedelta(minutes=2)))
    health = health_from_versions(history, start=T0, end=NOW, max_gap=max_gap_for(60))
    assert len(health.segments) > STRIP_MAX_RECTS
    rects = _strip(health)
    assert len(rects) <= STRIP_MAX_RECTS
    assert abs(sum(float(r["width"]) for r in rects) - 1000) < 0.01
    assert health.flips == 287  # the numbers are not binned


@pytest.mark.django_db
def test_a_vias_tasks_health_is_served_without_a_service_in_the_path(api, project):
    shift = datetime.now(UTC) - NOW  # the known history, ending a day ago
    history = [(state, first + shift, last + shift) for state, first, last in HISTORY]
    tracked = make_task(project, history, service="vias")
    path = f"/api/v1/projects/{project.public_id}/vias/tasks/{tracked.task_id}/health/?days=90"
    body = api("viewer").get(path).json()
    assert body["flips"] == 3 and body["state_seconds"]["ABNORMAL"] == pytest.approx(65 * M, abs=2)
