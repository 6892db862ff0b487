"""Status badges: a project's and a task's state word, as SVG and JSON, reached without a login by
the project's badge key; nothing else is in them, and a rotated key retires every old URL."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from tasks.models import AuditEvent, CloudProject, TrackedTask
from tasks.services.badges import task_badge_resolve, task_badge_token
from tests.fleet_fixtures import make_projects, make_task, steady

pytestmark = pytest.mark.django_db


@pytest.fixture
def watched(project):
    return make_task(project, steady(timezone.now(), "ABNORMAL"), name="front door camera")


def project_badge(project, fmt: str = "svg") -> str:
    return f"/badge/{project.badge_key}/project.{fmt}"


def task_badge(project, tracked, fmt: str = "svg") -> str:
    token = task_badge_token(project=project, service=tracked.service, task_id=tracked.task_id)
    return f"/badge/{project.badge_key}/t/{token}.{fmt}"


def test_every_project_gets_its_own_unguessable_key(project, alice):
    other = make_projects(1, admin=alice, prefix="Other")[0]
    assert len(project.badge_key) >= 32 and project.badge_key != other.badge_key


def test_the_project_badge_needs_no_login_and_shows_only_a_state_word(client, project, watched):
    response = client.get(project_badge(project))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert "no-cache" in response["Cache-Control"]
    svg = response.content.decode()
    assert ">problem<" in svg
    for leak in (project.name, str(project.public_id), watched.task_id, watched.name):
        assert leak not in svg
    assert "<script" not in svg
    assert client.get(project_badge(project, "json")).json() == {"state": "problem"}


def test_the_project_word_follows_its_watched_tasks(client, project):
    assert client.get(project_badge(project, "json")).json() == {"state": "none"}
    running = make_task(project, steady(timezone.now()))
    assert client.get(project_badge(project, "json")).json() == {"state": "up"}
    make_task(project, steady(timezone.now(), "STARTING"))
    assert client.get(project_badge(project, "json")).json() == {"state": "mixed"}
    TrackedTask.objects.filter(pk=running.pk).update(gone_at=timezone.now())
    assert client.get(project_badge(project, "json")).json() == {"state": "problem"}


def test_the_task_badge_carries_no_task_id_and_shows_its_state(client, project, watched):
    url = task_badge(project, watched)
    assert watched.task_id not in url
    svg = client.get(url).content.decode()
    assert ">ABNORMAL<" in svg and watched.name not in svg
    assert client.get(task_badge(project, watched, "json")).json() == {"state": "ABNORMAL"}


def test_the_badge_reads_in_chinese(client, project, watched):
    svg = client.get(task_badge(project, watched), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert ">异常<" in svg
    # The JSON word is a code: never translated.
    json_body = client.get(task_badge(project, watched, "json"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert json_body.json() == {"state": "ABNORMAL"}


def test_a_key_gives_only_its_own_projects_states(client, project, watched, charlie):
    other = make_projects(1, admin=charlie, prefix="Elsewhere")[0]
    theirs = make_task(other, steady(timezone.now()))
    # Their task's token under our key, and our token under their key: both unknown.
    token = task_badge_token(project=other, service=theirs.service, task_id=theirs.task_id)
    assert client.get(f"/badge/{project.badge_key}/t/{token}.json").status_code == 404
    ours = task_badge_token(project=project, service=watched.service, task_id=watched.task_id)
    assert client.get(f"/badge/{other.badge_key}/t/{ours}.json").status_code == 404
    assert task_badge_resolve(project=project, token=token) is None


@pytest.mark.parametrize(
    "path",
    [
        "/badge/not-a-key-at-all-0000000000000000/project.svg",
        "/badge/x/project.json",
        "/badge/{key}/t/AAAA.svg",
        "/badge/{key}/t/{garbage}.json",
        "/badge/{key}/project.png",
    ],
)
def test_unknown_keys_and_forged_tokens_are_404(client, project, path):
    url = path.format(key=project.badge_key, garbage="Zm9yZ2VkLXRva2VuLWZvci1hLXRhc2s")
    assert client.get(url).status_code == 404


def test_an_admin_rotates_the_key_and_the_old_urls_stop_working(client, alice, project, watched):
    old_project, old_task = project_badge(project), task_badge(project, watched)
    client.force_login(alice)
    response = client.post(f"/projects/{project.public_id}/badges/rotate/")
    assert response.status_code == 302
    project.refresh_from_db()
    assert client.get(old_project).status_code == 404
    assert client.get(old_task).status_code == 404
    assert client.get(project_badge(project)).status_code == 200
    assert client.get(task_badge(project, watched)).status_code == 200
    assert AuditEvent.objects.filter(project=project, action="project.badge_key_rotated").exists()


@pytest.mark.parametrize(("user", "status"), [("bob", 403), ("charlie", 404)])
def test_only_admins_rotate(client, project, request, user, status):
    key = project.badge_key
    client.force_login(request.getfixturevalue(user))
    assert client.post(f"/projects/{project.public_id}/badges/rotate/").status_code == status
    assert CloudProject.objects.get(pk=project.pk).badge_key == key


def test_admins_find_the_badge_urls_on_the_project_page(client, alice, project):
    client.force_login(alice)
    page = client.get(f"/projects/{project.public_id}/").content.decode()
    assert f"/badge/{project.badge_key}/project.svg" in page
    assert re.search(r'id="badge-rotate"', page)


def test_a_failing_upstream_makes_the_project_a_problem(client, project):
    from django.apps import apps

    try:
        schedule = apps.get_model("tasks", "PollSchedule")
    except LookupError:
        pytest.skip("PollSchedule arrives with the monitor work")
    make_task(project, steady(timezone.now()))
    now = timezone.now()
    schedule.objects.create(
        project=project,
        service="c-face-edge",
        next_poll_at=now,
        failing_since=now,
        failing_code="upstream_timeout",
    )
    assert client.get(project_badge(project, "json")).json() == {"state": "problem"}
