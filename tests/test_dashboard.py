"""The dashboard: every visible project with counts per state, problems first with how long, the
last successful poll, recent events, filters — in HTML and JSON, for members only, in a bounded
number of queries however many tasks there are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.fleet_fixtures import make_projects, make_task, steady

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def fleet(project, now):
    """Lobby cameras (alice admin, bob viewer): 2 RUNNING, 1 ABNORMAL for 3 hours (after being
    RUNNING), 1 FROZEN unwatched but fetched today, and one watched STOPPED."""
    make_task(project, steady(now), name="entrance")
    make_task(project, steady(now), name="exit")
    make_task(
        project,
        [
            ("RUNNING", now - timedelta(days=2), now - timedelta(hours=3, minutes=1)),
            ("ABNORMAL", now - timedelta(hours=3), now),
        ],
        name="parking",
    )
    make_task(project, steady(now, "FROZEN"), name="loading bay", watched=False)
    make_task(project, steady(now, "STOPPED"), name="roof")
    return project


@pytest.fixture
def other(db, charlie, now):
    """A project only charlie is a member of, with a FAILED task."""
    other = make_projects(1, admin=charlie, prefix="Secret")[0]
    make_task(other, steady(now, "FAILED"), name="hidden camera")
    return other


def login(client, user):
    client.force_login(user)
    return client


def test_the_home_page_is_the_dashboard(client, bob):
    response = login(client, bob).get("/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_logging_in_lands_on_the_dashboard(client, bob, password):
    response = client.post("/accounts/login/", {"username": "bob", "password": password})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_the_dashboard_counts_each_state_and_lists_problems_first(client, bob, fleet, other):
    page = login(client, bob).get("/dashboard/").content.decode()
    assert "Lobby cameras" in page
    assert "Secret" not in page and "hidden camera" not in page
    problems = page[page.index('id="problems"') : page.index('id="attention"')]
    assert "parking" in problems and "loading bay" in problems
    assert "entrance" not in problems
    assert "3 h" in problems  # ABNORMAL since it left RUNNING 3 hours ago
    assert 'data-state="RUNNING"' in page


def test_the_api_answers_the_contracts_shape(api, fleet, other, now):
    body = api("viewer").get("/api/v1/dashboard/").json()
    assert set(body) >= {"projects", "problems", "events"}
    (row,) = body["projects"]
    assert row["id"] == str(fleet.public_id) and row["name"] == "Lobby cameras"
    assert row["states"] == {"RUNNING": 2, "ABNORMAL": 1, "FROZEN": 1, "STOPPED": 1}
    assert row["problems"] == 2
    assert row["upstream_failing"] is False
    assert "last_poll_at" in row
    by_name = {p["name"]: p for p in body["problems"]}
    assert set(by_name) == {"parking", "loading bay"}
    parking = by_name["parking"]
    assert parking["state"] == "ABNORMAL" and parking["project"] == str(fleet.public_id)
    assert parking["seconds"] == pytest.approx(3 * 3600, abs=5)
    assert isinstance(body["events"], list)


def test_a_member_of_nothing_sees_no_project(api, fleet, db, django_user_model):
    django_user_model.objects.create_user("dave", "d@example.com", "x")
    from tests.api_fixtures import token_client, token_for

    loner = django_user_model.objects.get(username="dave")
    body = token_client(token_for(loner)).get("/api/v1/dashboard/").json()
    assert body["projects"] == [] and body["problems"] == []


def test_the_dashboard_needs_a_login(client, api):
    assert client.get("/dashboard/").status_code == 302
    assert api("anonymous").get("/api/v1/dashboard/").status_code == 401


def test_the_outsider_sees_only_their_own_project(api, fleet, other):
    body = api("outsider").get("/api/v1/dashboard/").json()
    assert [p["name"] for p in body["projects"]] == ["Secret 000"]
    assert [p["name"] for p in body["problems"]] == ["hidden camera"]


def test_filters_narrow_to_a_project_and_a_state(client, api, bob, fleet, alice, now):
    second = make_projects(1, viewer=bob, prefix="Yard")[0]
    make_task(second, steady(now, "ABNORMAL"), name="gate")
    body = api("viewer").get(f"/api/v1/dashboard/?project={second.public_id}").json()
    assert [p["name"] for p in body["projects"]] == ["Yard 000"]
    assert [p["name"] for p in body["problems"]] == ["gate"]
    page = login(client, bob).get("/dashboard/?state=RUNNING").content.decode()
    listed = page[page.index('id="tasks-in-state"') :]
    assert (
        "entrance" in listed and "exit" in listed and "parking" not in listed.split("</section>")[0]
    )


@pytest.mark.parametrize("query", ["project=nope", "state=SLEEPING", "page=0", "problems_page=x"])
def test_a_bad_filter_is_a_clear_400(client, api, bob, fleet, query):
    page = login(client, bob).get(f"/dashboard/?{query}")
    assert page.status_code == 400
    assert 'class="alert error"' in page.content.decode()
    response = api("viewer").get(f"/api/v1/dashboard/?{query}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_a_project_without_watched_tasks_says_how_to_watch_one(client, bob, project):
    page = login(client, bob).get("/dashboard/").content.decode()
    assert "No watched task yet" in page


def test_the_dashboard_reads_in_chinese(client, bob, fleet):
    page = login(client, bob).get("/dashboard/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "仪表盘" in page and "异常" in page


def _grow(project, tasks: int, now) -> None:
    """`tasks` tasks, each with two versions; problems and findings among them from the first."""
    states = ["ABNORMAL", "RUNNING", "RUNNING", "STOPPED", "FAILED"]
    for i in range(tasks):
        state = states[i % len(states)]
        make_task(
            project,
            [
                ("RUNNING", now - timedelta(days=3), now - timedelta(days=1)),
                (state, now - timedelta(hours=20), now),
            ],
            payload_extra={"output": {"webhook": {"url": "http://hooks.example.com/x"}}}
            if i % 7 == 0
            else None,
        )


def _count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


def test_the_dashboard_makes_the_same_few_queries_at_1_and_200_tasks(client, api, alice, now):
    projects = make_projects(3, admin=alice, prefix="Scale")
    _grow(projects[0], 1, now)
    login(client, alice)
    viewer = api("admin")
    _count_queries(client, "/dashboard/")  # the session and the user, read once and memoised
    _count_queries(viewer, "/api/v1/dashboard/")
    small = (_count_queries(client, "/dashboard/"), _count_queries(viewer, "/api/v1/dashboard/"))
    for project in projects:
        _grow(project, 200 // len(projects) + 1, now)
    large = (_count_queries(client, "/dashboard/"), _count_queries(viewer, "/api/v1/dashboard/"))
    assert large == small
    assert max(large) <= 16
    state = _count_queries(client, "/dashboard/?state=ABNORMAL")
    assert state <= small[0] + 1


def test_fifty_projects_fit_one_page_and_problems_are_paginated(client, alice, now):
    projects = make_projects(50, admin=alice, prefix="Wide")
    for project in projects[:3]:
        _grow(project, 30, now)
    page = login(client, alice).get("/dashboard/").content.decode()
    assert page.count('class="project-row') == 50
    assert page.count('class="problem-row"') == 25
    assert "problems_page=2" in page


def test_the_superuser_sees_every_project(api, fleet, other):
    names = {p["name"] for p in api("superuser").get("/api/v1/dashboard/").json()["projects"]}
    assert names == {"Lobby cameras", "Secret 000"}


def _monitor_model(name: str):
    from django.apps import apps

    try:
        return apps.get_model("tasks", name)
    except LookupError:
        pytest.skip(f"{name} arrives with the monitor work")


def test_the_last_successful_poll_and_a_failing_upstream_come_from_the_poll_schedule(
    api, fleet, now
):
    schedule = _monitor_model("PollSchedule")
    schedule.objects.create(
        project=fleet,
        service="c-face-edge",
        next_poll_at=now,
        last_poll_at=now,
        last_success_at=now - timedelta(minutes=20),
        failing_since=now - timedelta(minutes=15),
        failing_code="upstream_unavailable",
    )
    schedule.objects.create(
        project=fleet,
        service="c-vehicle-detection-edge",
        next_poll_at=now,
        last_poll_at=now,
        last_success_at=now - timedelta(minutes=2),
    )
    (row,) = api("viewer").get("/api/v1/dashboard/").json()["projects"]
    assert row["upstream_failing"] is True
    assert row["last_poll_at"] == (now - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")


def test_the_latest_events_are_listed_newest_first_for_members_only(
    api, client, bob, fleet, other, now
):
    event = _monitor_model("TaskEvent")
    tracked = fleet.tracked_tasks.get(name="parking")
    for minutes, (before, after) in ((30, ("STARTING", "RUNNING")), (5, ("RUNNING", "ABNORMAL"))):
        event.objects.create(
            project=fleet,
            task=tracked,
            service=tracked.service,
            task_id=tracked.task_id,
            task_name=tracked.name,
            kind="state_changed",
            severity="problem" if after == "ABNORMAL" else "info",
            from_state=before,
            to_state=after,
            changes=[],
            seen_at=now - timedelta(minutes=minutes),
            dedupe_key=f"test-{minutes}",
        )
    hidden = other.tracked_tasks.get()
    event.objects.create(
        project=other,
        task=hidden,
        service=hidden.service,
        task_id=hidden.task_id,
        task_name=hidden.name,
        kind="task_gone",
        severity="problem",
        from_state="",
        to_state="",
        changes=[],
        seen_at=now,
        dedupe_key="test-hidden",
    )
    events = api("viewer").get("/api/v1/dashboard/").json()["events"]
    assert [(e["kind"], e["to"]) for e in events] == [
        ("state_changed", "ABNORMAL"),
        ("state_changed", "RUNNING"),
    ]
    assert events[0]["task_name"] == "parking" and events[0]["severity"] == "problem"
    page = login(client, bob).get("/dashboard/").content.decode()
    listed = page[page.index('id="events"') :]
    assert "parking" in listed and "hidden camera" not in listed
