"""The VIAS client against the live simulator over a real socket: paths, paging, actions, faults,
and the gateway's signature check shared with VAS (the official SDK's signer is accepted too)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from tasks.vas import (
    AkSkAuth,
    IamPasswordAuth,
    TaskNotFound,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamInvalidResponse,
    UpstreamUnavailable,
)
from tasks.vas.auth import sign
from tasks.vas.vias import VIAS_STATES
from vassim import vias as sim_vias
from vassim.simulator import (
    DEFAULT_AK,
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_PASSWORD,
    DEFAULT_IAM_USER,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
)

pytestmark = pytest.mark.integration


def test_the_simulator_serves_a_vias_task_in_every_vias_state(vias_client):
    client = vias_client()
    states = {task["state"] for page in client.iter_pages(page_size=5) for task in page.tasks}
    assert set(VIAS_STATES) <= states


def test_the_seeds_are_data_files_with_video_sources_event_center_and_nested_schedules():
    seeds = [entry["doc"] for entry in sim_vias.seed_tasks()]
    assert sim_vias.SEED_FILE.suffix == ".json"
    assert any(d["input"]["type"] == "video_source" for d in seeds)
    assert any(d["output"].get("event_center") is True for d in seeds)
    assert any(isinstance(d.get("schedule", {}).get("periods", [None])[0], list) for d in seeds)


def test_show_fetches_a_vias_task_with_its_secrets_redacted(vias_client, vias_ids):
    fetched = vias_client().show_task(vias_ids["dock-vcn-03"])
    assert fetched.payload["state"] == "LACK_OF_RESOURCES"
    assert fetched.payload["input"]["vcn"]["password"] == "******"
    assert "sim-vcn-password-4419" not in str(fetched.payload)
    assert fetched.request_id and len(fetched.request_id) == 32


def test_a_missing_vias_task_is_task_not_found_with_the_richer_body(vias_client):
    with pytest.raises(TaskNotFound) as info:
        vias_client().show_task("0" * 32)
    assert info.value.extras["reason"] and info.value.extras["advice"]
    assert info.value.upstream_dict()["error_code"] == "VIAS.0005"


def test_the_list_is_paged_until_a_short_page(simulator, vias_client):
    pages = list(vias_client().iter_pages(page_size=5))
    total = sum(len(p.tasks) for p in pages)
    assert total == sum(1 for key in simulator.tasks if key[0] == "vias")
    assert all(not p.is_last for p in pages[:-1]) and pages[-1].is_last
    assert all(p.count == len(p.tasks) for p in pages)  # count: items on that page


def test_the_list_filters_by_state_name_and_camera(vias_client):
    client = vias_client()
    assert {t["state"] for t in client.list_tasks(page_size=50, task_state="SCHEDULING").tasks} == {
        "SCHEDULING"
    }
    named = client.list_tasks(page_size=50, task_name="lobby-face").tasks
    assert [t["name"] for t in named] == ["lobby-face-01"]
    gate = client.list_tasks(page_size=50, camera_name="gate-cam").tasks
    assert [t["video_source_name"] for t in gate] == ["gate-cam"]


def test_the_list_gives_type_as_0_or_1_while_show_says_cloud_or_edge(vias_client, vias_ids):
    client = vias_client()
    item = client.list_tasks(page_size=50, task_name="gate-vehicle-sched").tasks[0]
    assert item["type"] == "0"
    assert client.show_task(vias_ids["gate-vehicle-sched"]).payload["type"] == "cloud"


def test_a_page_size_the_upstream_refuses_is_a_bad_request(simulator, vias_client):
    client = vias_client()
    with pytest.raises(UpstreamBadRequest):
        client.list_tasks(page=0, page_size=5)


def test_stop_then_start_move_the_task_through_its_states(simulator, vias_client, vias_ids):
    client = vias_client()
    task_id = vias_ids["lobby-face-01"]
    client.stop_task(task_id)
    assert client.show_task(task_id).payload["state"] == "STOPPING"
    assert client.show_task(task_id).payload["state"] == "STOPPED"
    client.start_task(task_id)
    assert simulator.state_of("vias", task_id) == "STARTING"


def test_starting_a_running_task_is_refused_with_advice(vias_client, vias_ids):
    with pytest.raises(UpstreamBadRequest) as info:
        vias_client().start_task(vias_ids["vias-state-running"])
    assert "RUNNING" in info.value.extras["reason"]


def test_update_replaces_config_and_keeps_the_rest(simulator, vias_client, vias_ids):
    client = vias_client()
    task_id = vias_ids["gate-vehicle-sched"]
    before = client.show_task(task_id).payload
    common = {**before["config"]["common"], "target_roi": '{"polygons":[]}'}
    client.update_task(task_id, {"config": {"common": common}})
    after = client.show_task(task_id).payload
    assert after["config"]["common"]["target_roi"] == '{"polygons":[]}'
    assert after["config"]["common"]["vendor_specific_knob"] == 7
    assert after["schedule"] == before["schedule"]
    assert simulator.updates[-1]["task_id"] == task_id
    assert simulator.updates[-1]["service"] == "vias"


@pytest.mark.parametrize("mode", ["503"])
def test_faults_apply_to_vias_as_to_vas(simulator, vias_client, vias_ids, mode):
    task_id = vias_ids["lobby-face-01"]
    simulator.set_fault(task_id, mode, times=2)
    assert vias_client().show_task(task_id).payload["id"] == task_id  # retried
    simulator.set_fault(task_id, mode)
    with pytest.raises(UpstreamUnavailable):
        vias_client().show_task(task_id)


def test_a_list_fault_has_its_own_key(simulator, vias_client):
    simulator.set_fault("vias-list", "not_task")
    with pytest.raises(UpstreamInvalidResponse):
        vias_client().list_tasks(page_size=5)


def test_a_wrong_secret_key_is_refused_by_the_gateway_check(vias_client, vias_ids):
    client = vias_client(auth=AkSkAuth(DEFAULT_AK, "WRONG-SK", project_id=DEFAULT_PROJECT_ID))
    with pytest.raises(UpstreamAuthFailed) as info:
        client.show_task(vias_ids["lobby-face-01"])
    assert "WRONG-SK" not in str(info.value) + repr(info.value.upstream_dict())


def test_an_iam_token_works_for_vias_too(simulator_server, vias_client, vias_ids):
    auth = IamPasswordAuth(
        iam_endpoint=simulator_server.url,
        domain=DEFAULT_IAM_DOMAIN,
        user=DEFAULT_IAM_USER,
        password=DEFAULT_IAM_PASSWORD,
        project_id=DEFAULT_PROJECT_ID,
    )
    assert vias_client(auth=auth).show_task(vias_ids["lobby-face-01"]).payload["state"]


# ---- signing vectors shared with VAS: the same signer, the official SDK's signer on VIAS paths

AK = "AKEXAMPLEAKEXAMPLE00"
SK = "SKEXAMPLEsecretkeySKEXAMPLEsecretkey0000"
HOST = "vias.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"
DATE = "20240102T030405Z"

VIAS_CASES = [
    ("GET", f"/v2/{PID}/tasks/3c1f0e9a7b2d4f6e8a9b0c1d2e3f4a5b", [], b""),
    ("GET", f"/v2/{PID}/tasks", [("page_size", "1000"), ("page", "1"), ("task_name", "厅 1")], b""),
    ("PUT", f"/v2/{PID}/tasks/3c1f0e9a7b2d4f6e8a9b0c1d2e3f4a5b/action/start", [], b""),
    ("PUT", f"/v2/{PID}/tasks/3c1f0e9a7b2d4f6e8a9b0c1d2e3f4a5b", [], b'{"config": {}}'),
]


@pytest.mark.parametrize(("method", "path", "query", "body"), VIAS_CASES)
def test_our_vias_signature_equals_the_official_sdks(method, path, query, body):
    from urllib.parse import quote

    headers = {
        "Content-Type": "application/json",
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "X-Project-Id": PID,
        "X-Sdk-Date": DATE,
    }
    request = SdkRequest(
        method=method,
        schema="https",
        host=HOST,
        resource_path=path,
        query_params=list(query),
        header_params=dict(headers),
        body=body,
    )
    Signer(BasicCredentials(AK, SK, PID)).sign(request)
    qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    url = f"https://{HOST}{quote(path)}" + (f"?{qs}" if qs else "")
    assert (
        sign(method, url, {**headers, "Host": HOST}, body, AK, SK)
        == (request.header_params["Authorization"])
    )


def test_a_request_signed_by_the_official_sdk_is_accepted_on_a_vias_path(
    simulator_server, vias_ids
):
    host = simulator_server.url.split("://", 1)[1]
    path = f"/v2/{DEFAULT_PROJECT_ID}/tasks/{vias_ids['lobby-face-01']}"
    request = SdkRequest(
        method="GET",
        schema="http",
        host=host,
        resource_path=path,
        query_params=[],
        header_params={
            "Content-Type": "application/json",
            "X-Project-Id": DEFAULT_PROJECT_ID,
            "X-Sdk-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        },
        body=b"",
    )
    Signer(BasicCredentials(DEFAULT_AK, DEFAULT_SK, DEFAULT_PROJECT_ID)).sign(request)
    answer = requests.get(simulator_server.url + path, headers=request.header_params, timeout=5)
    assert answer.status_code == 200 and answer.json()["name"] == "lobby-face-01"
