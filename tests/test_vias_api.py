"""The VIAS API paths, the project's VIAS endpoint, the connection test of both services, and
VIAS secrets searched in every answer, snapshot, cache value and the database."""

import json

import pytest
from django.core.cache import cache
from django.db import connection

from tasks.models import TaskSnapshot, TrackedTask
from tasks.services.projects import project_check, project_update
from tasks.services.task_fetch import task_cache_key, task_fetch
from tests.api_fixtures import SECRET_VALUES, assert_error, assert_no_secrets

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

VIAS = "vias"


def _url(project, task_id="", suffix="") -> str:
    base = f"/api/v1/projects/{project.public_id}/vias/tasks/"
    return base + (f"{task_id}/" if task_id else "") + suffix


def test_the_task_is_the_vias_document_as_it_came_with_the_roi_from_config_common(
    api, vias_project, vias_ids
):
    response = api("viewer").get(_url(vias_project, vias_ids["lobby-face-01"]))
    assert response.status_code == 200
    body = response.json()
    assert body["task"]["config"]["common"]["detection_min_size"] == 120
    assert "service_config" not in body["task"]
    assert body["task"]["output"]["event_center"] is True
    assert body["roi"]["shapes"][0]["name"] == "door"
    assert body["roi"]["detection"] == {"min_size": 120, "max_size": 800}
    assert body["meta"]["source"] == "upstream"
    assert_no_secrets(response)


def test_the_roi_sub_path_reads_config_common(api, vias_project, vias_ids):
    response = api("viewer").get(_url(vias_project, vias_ids["gate-vehicle-sched"], "roi/"))
    kinds = sorted(shape["kind"] for shape in response.json()["shapes"])
    assert kinds == ["line", "polygon"]


def test_a_vias_task_is_tracked_under_the_reserved_service_key(api, vias_project, vias_ids):
    task_id = vias_ids["lobby-face-01"]
    api("viewer").get(_url(vias_project, task_id))
    assert TrackedTask.objects.get(project=vias_project, task_id=task_id).service == VIAS
    listing = api("viewer").get(f"/api/v1/projects/{vias_project.public_id}/tasks/?service=vias")
    assert [t["task_id"] for t in listing.json()["results"]] == [task_id]


def test_the_second_read_comes_from_the_cache(api, vias_project, vias_ids, simulator):
    task_id = vias_ids["lobby-face-01"]
    api("viewer").get(_url(vias_project, task_id))
    simulator.reset_counts()
    assert api("viewer").get(_url(vias_project, task_id)).json()["meta"]["source"] == "cache"
    assert simulator.count() == 0


def test_a_failing_vias_upstream_answers_the_stale_copy(api, vias_project, vias_ids, simulator):
    task_id = vias_ids["lobby-face-01"]
    api("viewer").get(_url(vias_project, task_id))
    simulator.set_fault(task_id, "503")
    body = api("viewer").get(_url(vias_project, task_id, "?refresh=true")).json()
    assert body["meta"]["source"] == "stale"
    assert body["meta"]["error"]["code"] == "upstream_unavailable"


def test_a_missing_vias_task_carries_reason_and_advice(api, vias_project):
    error = assert_error(api("viewer").get(_url(vias_project, "0" * 32)), 404, "task_not_found")
    assert error["upstream"]["error_code"] == "VIAS.0005"
    assert error["upstream"]["reason"] and error["upstream"]["advice"]


def test_the_vias_list_pages_by_number_and_filters(api, vias_project):
    client = api("viewer")
    first = client.get(_url(vias_project) + "?page_size=5").json()
    assert first["count"] == 5 and first["meta"]["has_more"] is True
    assert set(first["tasks"][0]) >= {"id", "name", "state", "video_source_name", "title", "type"}
    scheduling = client.get(_url(vias_project) + "?state=SCHEDULING&page_size=100").json()
    assert {t["state"] for t in scheduling["tasks"]} == {"SCHEDULING"}
    assert scheduling["meta"]["has_more"] is False
    camera = client.get(_url(vias_project) + "?camera=gate-cam").json()
    assert [t["name"] for t in camera["tasks"]] == ["gate-vehicle-sched"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?state=NOT_A_STATE", "invalid_state"),
        ("?page_size=4", "invalid"),
        ("?page=0", "invalid"),
        ("?offset=3", None),  # VAS paging is no VIAS parameter; ignored
    ],
)
def test_bad_vias_list_queries_are_400(api, vias_project, query, code):
    response = api("viewer").get(_url(vias_project) + query)
    if code is None:
        assert response.status_code == 200
    else:
        assert_error(response, 400, code)


def test_vias_is_refused_as_a_vas_service_name(api, vias_project, vias_ids):
    base = f"/api/v1/projects/{vias_project.public_id}/services/vias/tasks/"
    assert_error(api("viewer").get(base), 404, "not_found")
    assert_error(api("viewer").get(base + vias_ids["lobby-face-01"] + "/"), 404, "not_found")


def test_watch_and_snapshots_work_under_vias_paths(api, vias_project, vias_ids):
    task_id = vias_ids["lifecycle-vias"]
    admin = api("admin")
    assert admin.put(_url(vias_project, task_id, "watch/")).json()["watched"] is True
    admin.get(_url(vias_project, task_id, "?refresh=true"))
    snapshots = admin.get(_url(vias_project, task_id, "snapshots/")).json()["results"]
    assert [s["state"] for s in snapshots] == ["STARTING", "SCHEDULING"]
    one = admin.get(_url(vias_project, task_id, f"snapshots/{snapshots[0]['id']}/")).json()
    assert one["payload"]["state"] == "STARTING"


# ---- the project's VIAS endpoint


def test_the_project_shows_and_takes_a_vias_endpoint(api, project):
    url = f"/api/v1/projects/{project.public_id}/"
    assert api("viewer").get(url).json()["vias_endpoint"] == ""
    response = api("admin").patch(
        url,
        {"vias_endpoint": "https://vias.cn-north-4.myhuaweicloud.com/"},
        content_type="application/json",
    )
    assert response.json()["vias_endpoint"] == "https://vias.cn-north-4.myhuaweicloud.com"


@pytest.mark.parametrize(
    "endpoint", ["https://evil.example.com", "http://vias.cn-north-4.myhuaweicloud.com", "ftp://x"]
)
def test_a_vias_endpoint_off_the_allow_list_is_refused(api, project, endpoint):
    response = api("admin").patch(
        f"/api/v1/projects/{project.public_id}/",
        {"vias_endpoint": endpoint},
        content_type="application/json",
    )
    assert "vias_endpoint" in assert_error(response, 400, "invalid")["details"]


def test_changing_the_vias_endpoint_bumps_the_credentials_version(alice, project):
    before = project.credentials_version
    project_update(
        actor=alice,
        project=project,
        fields={"vias_endpoint": "https://vias.cn-east-3.myhuaweicloud.com"},
    )
    assert project.credentials_version == before + 1


def test_the_edit_page_shows_and_saves_the_vias_endpoint(client, alice, project):
    client.force_login(alice)
    page = client.get(f"/projects/{project.public_id}/edit/").content.decode()
    assert 'name="vias_endpoint"' in page
    data = {
        "name": project.name,
        "region": project.region,
        "upstream_project_id": project.upstream_project_id,
        "endpoint": project.endpoint,
        "iam_endpoint": project.iam_endpoint,
        "vias_endpoint": "https://vias.cn-south-1.myhuaweicloud.com",
        "default_service": project.default_service,
        "cache_ttl": project.cache_ttl,
        "auth_type": project.auth_type,
    }
    response = client.post(f"/projects/{project.public_id}/edit/", data)
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.vias_endpoint == "https://vias.cn-south-1.myhuaweicloud.com"
    detail = client.get(f"/projects/{project.public_id}/").content.decode()
    assert "https://vias.cn-south-1.myhuaweicloud.com" in detail


def test_the_connection_test_checks_both_services_when_both_are_configured(
    api, vias_project, simulator
):
    answer = api("viewer").post(f"/api/v1/projects/{vias_project.public_id}/check/").json()
    vias_project.refresh_from_db()
    stored = vias_project.last_check_result
    assert stored["code"] == "checked_both"  # data, worded when shown
    assert stored["params"]["vas"]["code"] == "connected"
    assert stored["params"]["vias"] == {"code": "connected_vias", "params": {"count": 5}}
    assert answer["ok"] is True
    assert answer["message"].startswith("VAS: Connected: ")
    assert answer["message"].endswith(" | VIAS: Connected: 5 VIAS tasks on the first page.")
    assert simulator.count(f"/v2/{vias_project.upstream_project_id}/tasks") == 1
    zh = api("viewer").get(
        f"/api/v1/projects/{vias_project.public_id}/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "VIAS：连接成功：第一页有 5 个 VIAS 作业。" in zh.json()["last_check"]["message"]


def test_a_failing_vias_fails_the_connection_test(api, vias_project, simulator):
    simulator.set_fault("vias-list", "403")
    answer = api("viewer").post(f"/api/v1/projects/{vias_project.public_id}/check/").json()
    assert answer["ok"] is False
    assert answer["message"].startswith("VAS: Connected")
    vias_project.refresh_from_db()
    assert vias_project.last_check_result["params"]["vias"]["code"] == "upstream_forbidden"


def test_without_a_vias_endpoint_only_vas_is_checked(alice, sim_project, simulator):
    project_check(project=sim_project)
    assert sim_project.last_check_ok is True
    assert sim_project.last_check_result["code"] == "connected"
    assert simulator.count(f"/v2/{sim_project.upstream_project_id}/tasks") == 0


# ---- secrets: every answer, snapshot, cache value and the database


def test_vias_secrets_appear_in_no_answer_snapshot_cache_value_or_table(
    api, vias_project, vias_ids
):
    client = api("admin")
    responses = []
    for name in ("lobby-face-01", "dock-vcn-03", "restful-edge-04"):
        task_id = vias_ids[name]
        for suffix in ("", "roi/", "snapshots/", "watch/"):
            method = client.put if suffix == "watch/" else client.get
            responses.append(method(_url(vias_project, task_id, suffix)))
        snapshot = TaskSnapshot.objects.filter(task__task_id=task_id).first()
        responses.append(client.get(_url(vias_project, task_id, f"snapshots/{snapshot.pk}/")))
    responses.append(client.get(_url(vias_project) + "?page_size=100"))
    for response in responses:
        assert response.status_code == 200, response.content[:300]
        assert_no_secrets(response)
    for snapshot in TaskSnapshot.objects.filter(task__service=VIAS):
        text = json.dumps(snapshot.payload, ensure_ascii=False)
        assert not [v for v in SECRET_VALUES if v in text]
    for name in ("lobby-face-01", "dock-vcn-03", "restful-edge-04"):
        entry = cache.get(task_cache_key(vias_project, VIAS, vias_ids[name]))
        text = repr(entry)
        assert entry is not None and not [v for v in SECRET_VALUES if v in text]
    with connection.cursor() as cursor:
        for table in (TaskSnapshot._meta.db_table, TrackedTask._meta.db_table, "tasks_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own table names
            dump = repr(cursor.fetchall())
            assert not [v for v in SECRET_VALUES if v in dump], table


def test_the_vcn_password_is_masked_in_the_stored_document(vias_project, vias_ids):
    result = task_fetch(project=vias_project, service=VIAS, task_id=vias_ids["dock-vcn-03"])
    assert result.task["input"]["vcn"]["password"] == "******"
    headers = task_fetch(
        project=vias_project, service=VIAS, task_id=vias_ids["lobby-face-01"]
    ).task["output"]["webhook"]["headers"]
    assert headers == {"content-type": "application/json", "Authorization": "******"}
