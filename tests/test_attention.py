"""Needs attention: ROI problems, plain-http webhooks, expiring or failing credentials, watched
tasks the worker stopped refreshing, ended mutes — each linking to where it is fixed, on the
dashboard and the project's own page, for members only, in two queries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.models import AuthType, CloudProject, TrackedTask
from tasks.services.attention import attention_for_projects, payload_problem_codes
from tasks.services.snapshots import snapshot_record
from tests.fleet_fixtures import make_projects, make_task, steady

BAD_ROI = '{"polygons": [{"data": [[10, 10], [20, 20]]}, {"data": [[-5, 0], [100, 0], [100, 90]]}]}'


def vas_task(roi: str | None = None, webhook: str | None = None) -> dict:
    task: dict[str, Any] = {"id": "t", "state": "RUNNING", "service_config": {"common": {}}}
    if roi is not None:
        task["service_config"]["common"]["target_roi"] = roi
    if webhook is not None:
        task["output"] = {"webhook": {"url": webhook, "headers": {}}}
    return task


def test_a_clean_task_needs_nothing():
    assert payload_problem_codes(vas_task(webhook="https://hooks.example.com/x")) == []
    assert payload_problem_codes(vas_task()) == []  # no ROI: the whole frame


def test_roi_problems_are_found_once_per_kind():
    codes = payload_problem_codes(vas_task(roi=BAD_ROI))
    assert "roi:too_few_points" in codes
    assert len(codes) == len(set(codes))
    assert payload_problem_codes(vas_task(roi="{not json")) != []


def test_a_plain_http_webhook_is_found():
    assert payload_problem_codes(vas_task(webhook="http://hooks.example.com/x")) == [
        "webhook_not_https"
    ]
    assert payload_problem_codes(vas_task(webhook="HTTPS://hooks.example.com/x")) == []


def test_a_vias_tasks_roi_is_read_from_config_common():
    vias = {"id": "v", "config": {"common": {"target_roi": BAD_ROI}}}
    assert "roi:too_few_points" in payload_problem_codes(vias)


@pytest.mark.parametrize("payload", [None, [], "x", {"output": 3}, {"service_config": []}])
def test_odd_payloads_never_raise(payload):
    assert isinstance(payload_problem_codes(payload), list)


@pytest.mark.django_db
def test_each_new_version_stores_what_needs_attention(project):
    now = timezone.now()
    tracked, _s, _c = snapshot_record(
        project=project,
        service="c-face-edge",
        task_id="a" * 32,
        payload=vas_task(roi=BAD_ROI, webhook="http://x.example.com"),
        request_id=None,
        now=now,
    )
    tracked.refresh_from_db()
    assert "webhook_not_https" in tracked.payload_problems.split()
    snapshot_record(
        project=project,
        service="c-face-edge",
        task_id="a" * 32,
        payload=vas_task(),
        request_id=None,
        now=now,
    )
    tracked.refresh_from_db()
    assert tracked.payload_problems == ""


@pytest.fixture
def troubled(project):
    """A project with one of every task-level finding and a failed connection check."""
    now = timezone.now()
    make_task(project, steady(now), name="bad roi", payload_extra=vas_task(roi=BAD_ROI))
    make_task(
        project, steady(now), name="plain hook", payload_extra=vas_task(webhook="http://h.example")
    )
    # Watched, last fetched 16 minutes ago: more than 3 × the default 300 s poll interval.
    late = now - timedelta(minutes=16)
    make_task(project, [("RUNNING", late - timedelta(hours=1), late)], name="late")
    make_task(project, [("RUNNING", late, late)], name="not watched", watched=False)
    CloudProject.objects.filter(pk=project.pk).update(last_check_ok=False, last_check_at=now)
    project.refresh_from_db()
    return project


def _kinds(attention) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in attention.findings:
        found.setdefault(finding.kind, []).append(finding.task.name if finding.task else "")
    return found


@pytest.mark.django_db
def test_every_kind_of_finding_is_found_with_a_link_to_its_fix(troubled):
    attention = attention_for_projects(
        projects=[troubled], now=timezone.now(), admin_pks=[troubled.pk]
    )
    kinds = _kinds(attention)
    assert kinds["roi"] == ["bad roi"]
    assert kinds["webhook_not_https"] == ["plain hook"]
    assert kinds["not_polled"] == ["late"]
    assert kinds["check_failed"] == [""]
    links = {f.kind: f.url for f in attention.findings}
    base = f"/projects/{troubled.public_id}/"
    assert links["roi"].startswith(base + "services/c-face-edge/tasks/")
    assert links["roi"].endswith("/#roi")
    assert links["webhook_not_https"].endswith("/#output")
    assert links["check_failed"] == base
    assert attention.total(troubled) == 4


@pytest.mark.django_db
def test_a_token_expiring_within_seven_days_sends_the_admin_to_the_edit_page(project):
    CloudProject.objects.filter(pk=project.pk).update(
        auth_type=AuthType.TOKEN, token_expires_at=timezone.now() + timedelta(days=3)
    )
    project.refresh_from_db()
    admin_view = attention_for_projects(
        projects=[project], now=timezone.now(), admin_pks=[project.pk]
    )
    (finding,) = admin_view.findings
    assert finding.kind == "token_expiring"
    assert finding.url == f"/projects/{project.public_id}/edit/"
    viewer_view = attention_for_projects(projects=[project], now=timezone.now())
    assert viewer_view.findings[0].url == f"/projects/{project.public_id}/"
    later = attention_for_projects(projects=[project], now=timezone.now() - timedelta(days=10))
    assert later.findings == []


@pytest.mark.django_db
def test_a_muted_task_whose_mute_has_ended_is_found(project):
    if not any(f.name == "muted_until" for f in TrackedTask._meta.get_fields()):
        pytest.skip("TrackedTask.muted_until arrives with the monitor work")
    now = timezone.now()
    ended = make_task(project, steady(now), name="was muted")
    TrackedTask.objects.filter(pk=ended.pk).update(muted_until=now - timedelta(minutes=1))
    still = make_task(project, steady(now), name="still muted")
    TrackedTask.objects.filter(pk=still.pk).update(muted_until=now + timedelta(hours=1))
    assert _kinds(attention_for_projects(projects=[project], now=now)) == {
        "mute_ended": ["was muted"]
    }


@pytest.mark.django_db
def test_the_findings_take_the_same_few_queries_for_any_number_of_tasks(alice):
    now = timezone.now()
    projects = make_projects(5, admin=alice, prefix="Many")

    def grow(tasks: int) -> int:
        for project in projects:
            for i in range(tasks):
                extra = vas_task(roi=BAD_ROI) if i % 3 == 0 else None
                make_task(project, steady(now), payload_extra=extra)
        with CaptureQueriesContext(connection) as queries:
            attention = attention_for_projects(projects=projects, now=now, limit=20)
        assert len(attention.findings) == min(20, attention.total())
        return len(queries)

    few = grow(1)
    assert grow(40) == few <= 6  # a count and a list per kind of query
    assert attention_for_projects(projects=projects, now=now).total() == 5 * (1 + 14)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("user", "status"), [("alice", 200), ("bob", 200), ("charlie", 404), (None, 302)]
)
def test_the_project_attention_page_is_for_members(client, troubled, request, user, status):
    if user:
        client.force_login(request.getfixturevalue(user))
    response = client.get(f"/projects/{troubled.public_id}/attention/")
    assert response.status_code == status
    if status == 200:
        page = response.content.decode()
        assert page.count('class="finding ') == 4
        assert "#roi" in page


@pytest.mark.django_db
def test_the_project_page_shows_its_findings(client, bob, troubled):
    client.force_login(bob)
    page = client.get(f"/projects/{troubled.public_id}/").content.decode()
    assert 'id="attention"' in page and "bad roi" in page
    assert 'id="badges"' not in page  # a viewer does not get the badge key


@pytest.mark.django_db
def test_late_means_three_of_the_projects_own_poll_intervals(project):
    if not any(f.name == "poll_interval" for f in CloudProject._meta.get_fields()):
        pytest.skip("CloudProject.poll_interval arrives with the monitor work")
    now = timezone.now()
    late = now - timedelta(minutes=16)
    make_task(project, [("RUNNING", late - timedelta(hours=1), late)], name="quarter hour ago")
    CloudProject.objects.filter(pk=project.pk).update(poll_interval=600)
    project.refresh_from_db()
    assert attention_for_projects(projects=[project], now=now).findings == []
    CloudProject.objects.filter(pk=project.pk).update(poll_interval=300)
    project.refresh_from_db()
    assert _kinds(attention_for_projects(projects=[project], now=now)) == {
        "not_polled": ["quarter hour ago"]
    }


def test_the_geometry_checks_the_editor_uses_find_crossings_and_duplicate_names():
    bow_tie = {"data": [[0, 0], [100, 100], [100, 0], [0, 100]], "name": "door"}
    square = {"data": [[200, 200], [300, 200], [300, 300], [200, 300]], "name": "door"}
    codes = payload_problem_codes(
        vas_task(roi=json.dumps({"polygons": [bow_tie, square]})), "c-face-edge"
    )
    assert "roi:self_intersecting" in codes and "roi:duplicate_name" in codes


def test_a_vehicle_service_reads_at_most_two_lines():
    lines = [{"data": [[0, i * 10], [100, i * 10]]} for i in range(1, 4)]
    payload = vas_task(roi=json.dumps({"lines": lines}))
    assert "roi:too_many_shapes" in payload_problem_codes(payload, "c-vehicle-detection-edge")
    assert payload_problem_codes(payload, "c-face-edge") == []
