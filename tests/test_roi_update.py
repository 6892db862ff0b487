"""PUT …/roi/ (admins): validated, refused on a version conflict, written back with only
target_roi changed, and never with a masked secret. Against the live simulator over a socket."""

from __future__ import annotations

import json

import pytest

from tasks.models import AuditEvent, TaskSnapshot
from tasks.services.task_fetch import task_fetch
from tests.api_fixtures import SECRET_VALUES
from vassim.simulator import SEEDED_IDS, TASK_A_ID

pytestmark = pytest.mark.integration

FACE = "c-face-edge"
SQUARE = [[200, 200], [800, 200], [800, 700], [200, 700]]
# Secret-looking values the update must send back as they are (never the mask).
SECRET_TASK_ID = "5ec2e75ec2e75ec2e75ec2e75ec2e75e"
SECRET_HEADER = "Bearer real-webhook-token-123"
SECRET_CONFIG = "real-config-password-456"


def roi_url(project, task_id=TASK_A_ID, service=FACE) -> str:
    return f"/api/v1/projects/{project.public_id}/services/{service}/tasks/{task_id}/roi/"


def task_url(project, task_id=TASK_A_ID, service=FACE) -> str:
    return f"/api/v1/projects/{project.public_id}/services/{service}/tasks/{task_id}/"


def put(client, url, body):
    return client.put(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def as_admin(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def secret_task(simulator):
    doc = json.loads(json.dumps(simulator.tasks[(FACE, TASK_A_ID)].doc))
    doc["id"] = SECRET_TASK_ID
    doc["output"]["webhook"]["headers"] = {
        "Authorization": SECRET_HEADER,
        "X-Signature-Key": "real-signature-789",
        "content-type": "application/json",
    }
    doc["service_config"]["common"]["upload_password"] = SECRET_CONFIG
    doc["service_config"]["common"]["api_token"] = "real-api-token-000"
    simulator.add_task(doc)
    return doc


def snapshot_id(project, task_id=TASK_A_ID) -> int:
    return task_fetch(project=project, service=FACE, task_id=task_id).meta["snapshot_id"]


def test_a_valid_roi_is_written_back_and_answers_the_new_task(as_admin, sim_project, simulator):
    before = snapshot_id(sim_project)
    shapes = [
        {"kind": "polygon", "name": "door", "points": SQUARE},
        {
            "kind": "line",
            "name": "tripwire",
            "points": [[100, 900], [1700, 900]],
            "properties": {"side1_name": "outside", "side2_name": "inside"},
        },
    ]
    response = put(
        as_admin, roi_url(sim_project), {"shapes": shapes, "expected_snapshot_id": before}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["meta"]["snapshot_id"] != before and body["meta"]["source"] == "upstream"
    assert body["roi"]["shapes"] == shapes and body["roi"]["problems"] == []
    sent = simulator.updates[-1]["body"]
    expected_roi = (
        '{"polygons":[{"data":[[200,200],[800,200],[800,700],[200,700]],"name":"door"}],'
        '"lines":[{"data":[[100,900],[1700,900]],"name":"tripwire",'
        '"properties":{"side1_name":"outside","side2_name":"inside"}}]}'
    )
    assert sent["service_config"]["common"]["target_roi"] == expected_roi
    # Every other key as it was: the rest of service_config, output, input, name.
    original = TaskSnapshot.objects.get(pk=before).payload
    for key in ("name", "input", "output"):
        assert sent[key] == original[key]
    rest = {k: v for k, v in sent["service_config"]["common"].items() if k != "target_roi"}
    assert rest == {
        k: v for k, v in original["service_config"]["common"].items() if k != "target_roi"
    }
    assert "service_version" not in sent and "edge_pool_id" not in sent
    event = AuditEvent.objects.get(action="task.roi_updated")
    assert event.actor_username == "alice"
    assert event.details["before"]["shapes"][0]["name"] == "door"
    assert event.details["after"]["shapes"] == shapes


def test_secrets_are_sent_back_as_they_are_never_masked(
    as_admin, sim_project, simulator, secret_task
):
    before = snapshot_id(sim_project, SECRET_TASK_ID)
    stored = TaskSnapshot.objects.get(pk=before).payload
    assert stored["output"]["webhook"]["headers"]["Authorization"] == "******"  # as stored
    response = put(
        as_admin,
        roi_url(sim_project, SECRET_TASK_ID),
        {"shapes": [{"kind": "polygon", "points": SQUARE}], "expected_snapshot_id": before},
    )
    assert response.status_code == 200, response.content
    sent = simulator.updates[-1]["body"]
    assert sent["output"]["webhook"]["headers"]["Authorization"] == SECRET_HEADER
    assert sent["output"]["webhook"]["headers"]["X-Signature-Key"] == "real-signature-789"
    assert sent["service_config"]["common"]["upload_password"] == SECRET_CONFIG
    assert sent["service_config"]["common"]["api_token"] == "real-api-token-000"
    assert "******" not in json.dumps(sent)
    # The upstream kept the real values; neither the answer nor the audit shows them.
    kept = simulator.tasks[(FACE, SECRET_TASK_ID)].doc
    assert kept["output"]["webhook"]["headers"]["Authorization"] == SECRET_HEADER
    for text in (
        response.content.decode(),
        json.dumps(AuditEvent.objects.get(action="task.roi_updated").details),
    ):
        assert SECRET_HEADER not in text and "real-signature-789" not in text
        for value in SECRET_VALUES:
            assert value not in text


def test_a_masked_value_shown_by_the_upstream_is_never_sent(as_admin, sim_project, simulator):
    doc = json.loads(json.dumps(simulator.tasks[(FACE, TASK_A_ID)].doc))
    doc["output"]["webhook"]["headers"]["Authorization"] = "******"  # the upstream masked it
    simulator.add_task(doc)
    response = put(
        as_admin,
        roi_url(sim_project),
        {"shapes": [], "expected_snapshot_id": snapshot_id(sim_project)},
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_invalid_response"
    assert simulator.updates == []


@pytest.mark.parametrize(
    ("shapes", "code"),
    [
        (
            [{"kind": "polygon", "points": [[100, 100], [900, 900], [900, 100], [100, 900]]}],
            "self_intersecting",
        ),
        ([{"kind": "polygon", "points": [[0, 0], [10, 10]]}], "too_few_points"),
        ([{"kind": "polygon", "points": [[0, 0], [5, 5], [10, 10]]}], "zero_area"),
        ([{"kind": "polygon", "points": [[0, 0], [5000, 0], [10, 10]]}], "out_of_frame"),
        (
            [
                {"kind": "polygon", "name": "a", "points": SQUARE},
                {"kind": "line", "name": "a", "points": [[0, 0], [9, 9]]},
            ],
            "duplicate_name",
        ),
        ([{"kind": "star", "points": []}], "invalid_shape"),
    ],
)
def test_a_bad_roi_is_400_invalid_roi_with_its_problems_and_nothing_is_sent(
    as_admin, sim_project, simulator, shapes, code
):
    before = snapshot_id(sim_project)
    simulator.reset_counts()
    response = put(
        as_admin, roi_url(sim_project), {"shapes": shapes, "expected_snapshot_id": before}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_roi"
    assert code in [p["code"] for p in error["problems"]]
    assert all(p["message"] for p in error["problems"])
    assert simulator.count() == 0 and simulator.updates == []


def test_too_many_lines_for_a_vehicle_service_is_invalid(as_admin, sim_project, simulator):
    service, tid = "c-vehicle-detection-edge", SEEDED_IDS["roi-lines-only"]
    before = task_fetch(project=sim_project, service=service, task_id=tid).meta["snapshot_id"]
    lines = [{"kind": "line", "points": [[0, y], [500, y]]} for y in (100, 200, 300)]
    response = put(
        as_admin,
        roi_url(sim_project, tid, service),
        {"shapes": lines, "expected_snapshot_id": before},
    )
    assert response.status_code == 400
    assert [p["code"] for p in response.json()["error"]["problems"]] == ["too_many_shapes"]


def test_a_malformed_body_is_400_invalid(as_admin, sim_project):
    response = put(as_admin, roi_url(sim_project), {"shapes": "nope"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_a_change_upstream_since_the_editor_loaded_is_409_version_conflict(
    as_admin, sim_project, simulator
):
    before = snapshot_id(sim_project)
    simulator.tasks[(FACE, TASK_A_ID)].doc["service_config"]["common"]["detection_min_size"] = 99
    response = put(
        as_admin,
        roi_url(sim_project),
        {"shapes": [{"kind": "polygon", "points": SQUARE}], "expected_snapshot_id": before},
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "version_conflict"
    assert error["current_snapshot_id"] != before
    assert TaskSnapshot.objects.filter(pk=error["current_snapshot_id"]).exists()  # recorded
    assert simulator.updates == []


def test_two_editors_the_second_apply_is_a_conflict(
    client, alice, superuser, sim_project, simulator
):
    from django.test import Client

    loaded = snapshot_id(sim_project)  # both editors open the same version
    first, second = Client(), Client()
    first.force_login(alice)
    second.force_login(superuser)
    ok = put(
        first,
        roi_url(sim_project),
        {"shapes": [{"kind": "polygon", "points": SQUARE}], "expected_snapshot_id": loaded},
    )
    assert ok.status_code == 200
    late = put(second, roi_url(sim_project), {"shapes": [], "expected_snapshot_id": loaded})
    assert late.status_code == 409 and late.json()["error"]["code"] == "version_conflict"
    assert late.json()["error"]["current_snapshot_id"] == ok.json()["meta"]["snapshot_id"]
    assert len(simulator.updates) == 1
    assert AuditEvent.objects.filter(action="task.roi_updated").count() == 1


def test_an_empty_list_sends_the_whole_frame(as_admin, sim_project, simulator):
    response = put(
        as_admin,
        roi_url(sim_project),
        {"shapes": [], "expected_snapshot_id": snapshot_id(sim_project)},
    )
    assert response.status_code == 200
    assert simulator.updates[-1]["body"]["service_config"]["common"]["target_roi"] == "{}"
    assert response.json()["roi"]["whole_frame"] is True


def test_the_upstreams_refusal_of_the_update_is_its_error(as_admin, sim_project, simulator):
    doc = json.loads(json.dumps(simulator.tasks[(FACE, TASK_A_ID)].doc))
    doc["name"] = "a name the update refuses!"  # the update sends the name as it is
    simulator.add_task(doc)
    response = put(
        as_admin,
        roi_url(sim_project),
        {"shapes": [], "expected_snapshot_id": snapshot_id(sim_project)},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "upstream_bad_request"
    assert not AuditEvent.objects.filter(action="task.roi_updated").exists()


def test_viewers_get_403_and_outsiders_404(client, bob, charlie, sim_project, simulator):
    body = {"shapes": [], "expected_snapshot_id": snapshot_id(sim_project)}
    client.force_login(bob)
    assert put(client, roi_url(sim_project), body).status_code == 403
    client.force_login(charlie)
    assert put(client, roi_url(sim_project), body).status_code == 404
    assert simulator.updates == []


@pytest.mark.django_db(transaction=True)
def test_two_editors_applying_at_once_change_the_task_once(
    alice, superuser, sim_project, simulator
):
    """Real threads: both start from the same version and apply at the same moment; one update
    reaches the upstream, the other is refused (in flight: edit_conflict; after: a conflict)."""
    import threading

    from django.db import connections

    from tasks.services.task_roi import EditConflict, VersionConflict, task_roi_update

    loaded = snapshot_id(sim_project)
    simulator.delay = 0.2  # every upstream call takes a while: the two applies overlap
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def editor(actor, shapes) -> None:
        try:
            barrier.wait()
            task_roi_update(
                actor=actor,
                project=sim_project,
                service=FACE,
                task_id=TASK_A_ID,
                shapes=shapes,
                expected_snapshot_id=loaded,
            )
            outcomes.append("applied")
        except (EditConflict, VersionConflict) as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=editor, args=(alice, [{"kind": "polygon", "points": SQUARE}])),
        threading.Thread(target=editor, args=(superuser, [])),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        simulator.delay = 0.0
    assert sorted(outcomes) in (["applied", "edit_conflict"], ["applied", "version_conflict"])
    assert len(simulator.updates) == 1
    assert AuditEvent.objects.filter(action="task.roi_updated").count() == 1
