"""Acting on VIAS tasks (admins), against the live simulator: start/stop through VIAS'
`PUT …/action/start|stop`, the ROI written back into `config.common.target_roi` with VIAS'
UpdateTask, the reference still; every VIAS sub-path by role."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from tasks.models import AuditEvent
from tasks.services.task_fetch import task_fetch
from tests.api_fixtures import SECRET_VALUES, assert_error, assert_no_secrets

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

VIAS = "vias"
SQUARE = [[200, 200], [800, 200], [800, 700], [200, 700]]


def _url(project, task_id, suffix="") -> str:
    return f"/api/v1/projects/{project.public_id}/vias/tasks/{task_id}/{suffix}"


def _png(width: int = 1920, height: int = 1080) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 80, 120)).save(out, format="PNG")
    return out.getvalue()


def test_stop_sends_the_vias_action_and_answers_the_refetched_task(
    api, vias_project, vias_ids, simulator
):
    task_id = vias_ids["lobby-face-01"]
    response = api("admin").post(_url(vias_project, task_id, "stop/"))
    assert response.status_code == 202, response.content[:300]
    assert response.json()["task"]["state"] in ("STOPPING", "STOPPED")
    assert simulator.count(f"/tasks/{task_id}/action/stop", method="PUT") == 1
    assert AuditEvent.objects.filter(action="task.stopped").exists()
    assert_no_secrets(response)


def test_a_scheduling_vias_task_can_be_stopped(api, vias_project, vias_ids, simulator):
    task_id = vias_ids["gate-vehicle-sched"]
    assert api("admin").post(_url(vias_project, task_id, "stop/")).status_code == 202


def test_starting_a_running_vias_task_is_refused_without_calling_the_upstream(
    api, vias_project, vias_ids, simulator
):
    task_id = vias_ids["vias-state-running"]
    assert_error(api("admin").post(_url(vias_project, task_id, "start/")), 409, "invalid_state")
    assert simulator.count("/action/start") == 0


def test_a_viewer_may_not_start_a_vias_task(api, vias_project, vias_ids):
    task_id = vias_ids["vias-state-stopped"]
    assert_error(api("viewer").post(_url(vias_project, task_id, "start/")), 403)


def test_the_roi_is_written_back_into_config_common_with_vias_update(
    api, vias_project, vias_ids, simulator
):
    task_id = vias_ids["gate-vehicle-sched"]
    before = task_fetch(project=vias_project, service=VIAS, task_id=task_id).meta["snapshot_id"]
    shapes = [{"kind": "polygon", "name": "bay", "points": SQUARE}]
    response = api("admin").put(
        _url(vias_project, task_id, "roi/"),
        data=json.dumps({"shapes": shapes, "expected_snapshot_id": before}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content[:500]
    assert response.json()["roi"]["shapes"] == shapes
    sent = simulator.updates[-1]
    assert sent["service"] == VIAS and sent["task_id"] == task_id
    assert set(sent["body"]) <= {"name", "description", "schedule", "input", "output", "config"}
    assert "service_config" not in sent["body"] and "timing" not in sent["body"]
    common = sent["body"]["config"]["common"]
    assert json.loads(common["target_roi"])["polygons"][0]["data"] == SQUARE
    assert common["vendor_specific_knob"] == 7  # every other key sent as it was
    assert sent["body"]["schedule"]["periods"][0][0]["begin_at"] == "07:00:00"


def test_a_vias_update_sends_the_real_vcn_password_never_the_mask(
    api, vias_project, vias_ids, simulator
):
    task_id = vias_ids["dock-vcn-03"]
    before = task_fetch(project=vias_project, service=VIAS, task_id=task_id).meta["snapshot_id"]
    response = api("admin").put(
        _url(vias_project, task_id, "roi/"),
        data=json.dumps(
            {
                "shapes": [{"kind": "polygon", "points": SQUARE}],
                "expected_snapshot_id": before,
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content[:500]
    sent = simulator.updates[-1]["body"]
    assert sent["input"]["vcn"]["password"] == "sim-vcn-password-4419"
    assert "******" not in json.dumps(sent)
    assert_no_secrets(response)
    audit = json.dumps(list(AuditEvent.objects.values_list("details", flat=True)))
    assert not [value for value in SECRET_VALUES if value in audit]


def test_a_stale_expected_snapshot_is_a_version_conflict(api, vias_project, vias_ids, simulator):
    task_id = vias_ids["lobby-face-01"]
    loaded = task_fetch(project=vias_project, service=VIAS, task_id=task_id).meta["snapshot_id"]
    # The task changes upstream after the editor loaded it.
    simulator.tasks[(VIAS, task_id)].doc["description"] = "changed meanwhile"
    response = api("admin").put(
        _url(vias_project, task_id, "roi/"),
        data=json.dumps({"shapes": [], "expected_snapshot_id": loaded}),
        content_type="application/json",
    )
    error = assert_error(response, 409, "version_conflict")
    assert error["current_snapshot_id"] != loaded


def test_a_reference_still_is_kept_for_a_vias_task(
    api, vias_project, vias_ids, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    task_id = vias_ids["lobby-face-01"]
    admin = api("admin")
    with django_capture_on_commit_callbacks(execute=True):
        put = admin.put(
            _url(vias_project, task_id, "frame/"), data=_png(), content_type="image/png"
        )
    assert put.status_code == 201, put.content[:300]
    assert api("viewer").get(_url(vias_project, task_id, "frame/")).status_code == 200
    roi = admin.get(_url(vias_project, task_id, "roi/")).json()
    assert roi["frame"] == {"width": 1920, "height": 1080, "assumed": False, "source": "frame"}


def test_the_detail_page_offers_the_actions_on_vias_paths(client, alice, vias_project, vias_ids):
    client.force_login(alice)
    task_id = vias_ids["lobby-face-01"]
    html = client.get(f"/projects/{vias_project.public_id}/vias/tasks/{task_id}/").content.decode()
    base = f"/projects/{vias_project.public_id}/vias/tasks/{task_id}/"
    assert f'action="{base}stop/"' in html
    assert f'href="{base}roi/edit/"' in html
    editor = client.get(base + "roi/edit/")
    assert editor.status_code == 200
    assert not [value for value in SECRET_VALUES if value in editor.content.decode()]


def test_a_vias_task_is_muted_through_its_vias_path(api, client, alice, vias_project, vias_ids):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import TrackedTask

    task_id = vias_ids["lobby-face-01"]
    until = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    response = api("admin").put(
        _url(vias_project, task_id, "mute/"),
        data=json.dumps({"until": until.isoformat()}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content[:300]
    tracked = TrackedTask.objects.get(project=vias_project, service=VIAS, task_id=task_id)
    assert tracked.muted_until == until
    assert api("admin").delete(_url(vias_project, task_id, "mute/")).status_code == 204
