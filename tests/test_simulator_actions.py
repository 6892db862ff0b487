"""The simulator's StartTask / StopTask / UpdateTask over a real socket, through the client."""

from __future__ import annotations

import json

import pytest

from tasks.vas import UpstreamBadRequest
from vassim.simulator import SEEDED_IDS, TASK_A_ID, TASK_B_ID

pytestmark = pytest.mark.integration

SVC = "c-face-edge"
VEHICLE = "c-vehicle-detection-edge"


def update_body(doc: dict, **changes) -> dict:
    body = {k: doc[k] for k in ("name", "input", "output", "service_config") if k in doc}
    body.update(changes)
    return body


def test_start_goes_through_starting_to_running_over_the_simulators_clock(simulator, vas_client):
    client = vas_client()
    client.start_task(VEHICLE, TASK_B_ID)  # seeded STOPPED
    assert client.show_task(VEHICLE, TASK_B_ID).payload["state"] == "STARTING"
    assert client.show_task(VEHICLE, TASK_B_ID).payload["state"] == "STARTING"  # not per fetch
    simulator.pass_time(simulator.transition_seconds - 0.5)
    assert client.show_task(VEHICLE, TASK_B_ID).payload["state"] == "STARTING"
    simulator.pass_time(0.5)
    assert client.show_task(VEHICLE, TASK_B_ID).payload["state"] == "RUNNING"


def test_stop_goes_through_stopping_to_stopped(simulator, vas_client):
    client = vas_client()
    client.stop_task(SVC, TASK_A_ID)
    assert simulator.state_of(SVC, TASK_A_ID) == "STOPPING"
    simulator.pass_time(simulator.transition_seconds)
    assert client.show_task(SVC, TASK_A_ID).payload["state"] == "STOPPED"


@pytest.mark.parametrize(
    ("action", "service", "task_id", "state"),
    [
        ("start", SVC, TASK_A_ID, "RUNNING"),
        ("stop", VEHICLE, TASK_B_ID, "STOPPED"),
        ("start", SVC, SEEDED_IDS["state-stopping"], "STOPPING"),
        ("stop", SVC, SEEDED_IDS["state-frozen"], "FROZEN"),
    ],
)
def test_an_impossible_transition_is_refused_with_the_upstreams_400(
    simulator, vas_client, action, service, task_id, state
):
    client = vas_client()
    with pytest.raises(UpstreamBadRequest) as info:
        getattr(client, f"{action}_task")(service, task_id)
    assert info.value.status == 400 and info.value.error_code == "IVA.0004"
    assert state in (info.value.error_msg or "")
    assert simulator.state_of(service, task_id) == state  # nothing moved


def test_update_replaces_the_fields_sent_and_answers_the_task(simulator, vas_client):
    client = vas_client()
    doc = client.show_task_unredacted(SVC, TASK_A_ID).payload
    config = json.loads(json.dumps(doc["service_config"]))
    config["common"]["target_roi"] = json.dumps({"polygons": [{"data": [[1, 1], [9, 1], [9, 9]]}]})
    fetched = client.update_task(SVC, TASK_A_ID, update_body(doc, service_config=config))
    assert (
        fetched.payload["service_config"]["common"]["target_roi"]
        == (config["common"]["target_roi"])
    )
    assert client.show_task(SVC, TASK_A_ID).payload["service_config"] == config
    assert simulator.updates[-1]["task_id"] == TASK_A_ID


def test_the_unredacted_fetch_keeps_secrets_the_normal_fetch_masks(simulator, vas_client):
    client, tid = vas_client(), SEEDED_IDS["webhook-secret"]
    raw = client.show_task_unredacted(SVC, tid).payload
    assert raw["output"]["webhook"]["headers"]["Authorization"] == "Bearer sim-webhook-secret-value"
    masked = client.show_task(SVC, tid).payload
    assert masked["output"]["webhook"]["headers"]["Authorization"] == "******"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"name": "bad name!"}, "[name]"),
        ({"name": "x" * 101}, "[name]"),
        ({"service_version": "4.0"}, "[service_version]"),
        ({"edge_pool_id": "e9bf9ebe497d4c9bb2e65d1f99fe1ff9"}, "[edge_pool_id]"),
        (
            {"input": {"type": "edgecamera", "data": [{"id": "a"}, {"id": "b"}]}},
            "only one input stream",
        ),
        ({"service_config": {"common": {"target_roi": {"polygons": []}}}}, "[target_roi]"),
        ({"service_config": {"common": {"target_roi": '{"polygons": ['}}}, "[target_roi]"),
        ({"service_config": {"common": {"target_roi": '{"zones": []}'}}}, "[target_roi]"),
        ({"service_config": []}, "[service_config.common]"),
    ],
)
def test_update_validates_the_body_like_the_real_api(simulator, vas_client, change, says):
    client = vas_client()
    doc = client.show_task_unredacted(SVC, TASK_A_ID).payload
    with pytest.raises(UpstreamBadRequest) as info:
        client.update_task(SVC, TASK_A_ID, update_body(doc, **change))
    assert info.value.error_code == "IVA.0004" and says in (info.value.error_msg or "")
    assert simulator.updates == []
    assert client.show_task_unredacted(SVC, TASK_A_ID).payload == doc  # unchanged


def test_a_body_that_is_not_json_is_iva_0003(simulator, vas_client):
    client = vas_client()
    with pytest.raises(UpstreamBadRequest) as info:
        client._call("PUT", client._task_path(SVC, TASK_A_ID), body=b"{not json")
    assert info.value.error_code == "IVA.0003"
