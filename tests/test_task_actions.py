"""Start and stop (admins): API and pages, against the live simulator over a socket."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tasks.models import AuditEvent, TaskSnapshot
from tasks.services.task_fetch import task_fetch
from vassim.simulator import SEEDED_IDS, TASK_A_ID, TASK_B_ID

pytestmark = pytest.mark.integration

FACE = "c-face-edge"
VEHICLE = "c-vehicle-detection-edge"


def api(project, service, task_id, action):
    return f"/api/v1/projects/{project.public_id}/services/{service}/tasks/{task_id}/{action}/"


def page(project, service, task_id, action=""):
    base = f"/projects/{project.public_id}/services/{service}/tasks/{task_id}/"
    return base + (f"{action}/" if action else "")


@pytest.fixture
def as_admin(client, alice):
    client.force_login(alice)
    return client


def test_stop_calls_the_upstream_refetches_and_answers_202_with_the_task(
    as_admin, sim_project, simulator
):
    response = as_admin.post(api(sim_project, FACE, TASK_A_ID, "stop"))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["task"]["state"] == "STOPPING" and body["meta"]["source"] == "upstream"
    assert simulator.count(f"/tasks/{TASK_A_ID}/stop", method="POST") == 1
    snapshot = TaskSnapshot.objects.get(pk=body["meta"]["snapshot_id"])
    assert snapshot.state == "STOPPING"
    event = AuditEvent.objects.get(action="task.stopped")
    assert event.actor_username == "alice"
    assert event.details["task_id"] == TASK_A_ID and event.details["from_state"] == "RUNNING"


def test_start_after_the_transition_runs_the_task_again(as_admin, sim_project, simulator):
    response = as_admin.post(api(sim_project, VEHICLE, TASK_B_ID, "start"))
    assert response.status_code == 202
    assert response.json()["task"]["state"] == "STARTING"
    simulator.pass_time(simulator.transition_seconds)
    fresh = as_admin.get(api(sim_project, VEHICLE, TASK_B_ID, "")[:-1] + "?refresh=true")
    assert fresh.json()["task"]["state"] == "RUNNING"
    assert AuditEvent.objects.filter(action="task.started").count() == 1


@pytest.mark.parametrize(
    ("action", "service", "task_id"),
    [
        ("start", FACE, TASK_A_ID),  # RUNNING
        ("stop", VEHICLE, TASK_B_ID),  # STOPPED
        ("stop", FACE, SEEDED_IDS["state-stopping"]),
        ("start", FACE, SEEDED_IDS["state-deleting"]),
    ],
)
def test_a_pointless_action_is_409_invalid_state_without_an_upstream_action(
    as_admin, sim_project, simulator, action, service, task_id
):
    task_fetch(project=sim_project, service=service, task_id=task_id)  # known and cached
    simulator.reset_counts()
    response = as_admin.post(api(sim_project, service, task_id, action))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert simulator.count() == 0  # not even a fetch: the cached state was fresh
    assert not AuditEvent.objects.filter(action__in=["task.started", "task.stopped"]).exists()


def test_a_stale_copy_is_refused_with_the_upstreams_error(as_admin, sim_project, simulator):
    sim_project.cache_ttl = 0
    sim_project.save()
    task_fetch(project=sim_project, service=FACE, task_id=TASK_A_ID)  # a snapshot to fall back on
    simulator.set_fault(TASK_A_ID, "503")
    response = as_admin.post(api(sim_project, FACE, TASK_A_ID, "stop"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert simulator.count(f"/tasks/{TASK_A_ID}/stop") == 0


def test_the_upstreams_refusal_of_a_transition_is_upstream_bad_request(
    as_admin, sim_project, simulator
):
    task_fetch(project=sim_project, service=FACE, task_id=TASK_A_ID)  # cached RUNNING
    simulator.add_task({**simulator.tasks[(FACE, TASK_A_ID)].doc, "state": "STOPPED"})
    response = as_admin.post(api(sim_project, FACE, TASK_A_ID, "stop"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "upstream_bad_request" and error["upstream"]["error_code"] == "IVA.0004"
    assert not AuditEvent.objects.filter(action="task.stopped").exists()


@pytest.mark.parametrize("action", ["start", "stop"])
def test_viewers_get_403_and_outsiders_404_and_nothing_happens(
    client, bob, charlie, sim_project, simulator, action
):
    client.force_login(bob)
    assert client.post(api(sim_project, FACE, TASK_A_ID, action)).status_code == 403
    assert client.post(page(sim_project, FACE, TASK_A_ID, action)).status_code == 403
    client.force_login(charlie)
    assert client.post(api(sim_project, FACE, TASK_A_ID, action)).status_code == 404
    assert client.post(page(sim_project, FACE, TASK_A_ID, action)).status_code == 404
    assert simulator.count() == 0


def test_the_detail_page_offers_stop_with_a_confirmation_to_admins_only(
    client, alice, bob, sim_project
):
    client.force_login(alice)
    html = client.get(page(sim_project, FACE, TASK_A_ID)).content.decode()
    assert 'id="stop-confirm"' in html and 'id="task-stop"' in html
    assert 'id="start-confirm"' not in html  # RUNNING: only stop makes sense
    client.force_login(bob)
    html = client.get(page(sim_project, FACE, TASK_A_ID)).content.decode()
    assert "stop-confirm" not in html and "start-confirm" not in html


def test_the_page_button_stops_and_comes_back_with_the_new_state(as_admin, sim_project, simulator):
    response = as_admin.post(page(sim_project, FACE, TASK_A_ID, "stop"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == page(sim_project, FACE, TASK_A_ID)
    assert "Stop requested" in response.content.decode()
    assert simulator.state_of(FACE, TASK_A_ID) == "STOPPING"


def test_a_pointless_page_action_explains_itself_on_the_detail_page(as_admin, sim_project):
    response = as_admin.post(page(sim_project, FACE, TASK_A_ID, "start"), follow=True)
    assert response.status_code == 200
    assert "starting it makes no sense" in response.content.decode()


def test_the_actions_are_documented_in_the_schema(as_admin):
    schema = as_admin.get(reverse("api-schema") + "?format=json").json()
    paths = [p for p in schema["paths"] if p.endswith("/start/") or p.endswith("/stop/")]
    assert len(paths) == 2
    for path in paths:
        assert {"202", "403", "404", "409"} <= set(schema["paths"][path]["post"]["responses"])


def test_the_roi_editor_is_for_admins_and_hands_its_data_over_without_secrets(
    client, alice, bob, charlie, sim_project
):
    import json
    import re

    from tests.api_fixtures import SECRET_VALUES

    task_id = SEEDED_IDS["webhook-secret"]
    editor = page(sim_project, FACE, task_id, "roi/edit")
    client.force_login(charlie)
    assert client.get(editor).status_code == 404
    client.force_login(bob)
    assert client.get(editor).status_code == 403
    client.force_login(alice)
    response = client.get(editor)
    assert response.status_code == 200
    html = response.content.decode()
    data = json.loads(
        re.search(
            r'<script id="roi-editor-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data["shapes"][0]["kind"] == "polygon" and data["snapshot_id"]
    assert data["api_url"].endswith(f"/tasks/{task_id}/roi/") and data["frame_url"] is None
    # No inline code (CSP): every script is a file or JSON data.
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    for value in SECRET_VALUES:
        assert value not in html
    assert 'src="/static/js/roi_editor.js"' in html and 'src="/static/js/roi_geometry.js"' in html
