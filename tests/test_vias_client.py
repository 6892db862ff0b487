"""The VIAS client, mocked at the requests level: paths, paging, tolerance, typed errors."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from tasks.vas import (
    VIAS_SERVICE,
    AkSkAuth,
    TaskNotFound,
    UpstreamBadRequest,
    UpstreamInvalidResponse,
    UpstreamUnavailable,
    ViasClient,
    ViasTaskView,
)
from tasks.vas.errors import parse_error_extras
from tasks.vas.vias import (
    FIRST_PAGE,
    VIAS_STATES,
    common_config,
    input_type,
    schedule_windows,
    task_type,
    vas_to_vias,
    vias_schedule_from_timing,
)

EP = "https://vias.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"
TID = "3c1f0e9a7b2d4f6e8a9b0c1d2e3f4a5b"
TASK_URL = f"{EP}/v2/{PID}/tasks/{TID}"
LIST_URL = f"{EP}/v2/{PID}/tasks"
AK = "AKSECRETACCESSKEY001"
SK = "SKSECRETVALUEDONOTLEAK000000000000000000"

DOC = {
    "id": TID,
    "name": "lobby-face-01",
    "state": "RUNNING",
    "schedule_status": "ACTIVATED",
    "schedule": {
        "type": "weekly",
        "timezone": "+08:00",
        "days_of_week": [1, 2, 3, 4, 5],
        "periods": [[{"begin_at": "07:00:00", "end_at": "20:00:00"}]],
    },
    "input": {
        "type": "vcn",
        "data": [{"device_id": "x", "index": 0}],
        "vcn": {"ip": "10.0.0.1", "port": 9000, "username": "u", "password": "vcn-pass-SECRET"},
    },
    "output": {
        "webhook": {
            "url": "https://hooks.example.com/vias",
            "headers": {"Authorization": "Bearer WEBHOOK-SECRET", "content-type": "json"},
        },
        "event_center": True,
    },
    "config": {"common": {"detection_min_size": 120, "target_roi": "{}"}},
    "type": "edge",
    "future_field": {"kept": True},
}


def _client(**kwargs) -> ViasClient:
    return ViasClient(endpoint=EP, project_id=PID, auth=AkSkAuth(AK, SK, project_id=PID), **kwargs)


def _error(code: str, msg: str, **extra) -> dict:
    return {"error_code": code, "error_msg": msg, "params": [], **extra}


def test_the_reserved_service_key_is_vias():
    assert VIAS_SERVICE == "vias"


@responses.activate
def test_show_gets_the_task_without_a_service_and_redacts_secrets():
    responses.get(TASK_URL, json=DOC, headers={"X-Request-Id": "req-1"})
    fetched = _client().show_task(TID)
    assert fetched.request_id == "req-1"
    assert fetched.payload["input"]["vcn"]["password"] == "******"
    assert fetched.payload["output"]["webhook"]["headers"]["Authorization"] == "******"
    assert fetched.payload["output"]["webhook"]["headers"]["content-type"] == "json"
    assert fetched.payload["future_field"] == {"kept": True}
    sent = responses.calls[0].request
    assert sent.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=" + AK)
    assert "vcn-pass-SECRET" not in json.dumps(fetched.payload)


@responses.activate
def test_show_refuses_json_that_is_not_a_task():
    responses.get(TASK_URL, json={"hello": "world"})
    with pytest.raises(UpstreamInvalidResponse):
        _client().show_task(TID)


@responses.activate
def test_a_404_is_task_not_found_with_detail_reason_and_advice():
    body = _error(
        "VIAS.0005",
        "The requested resource is NOT found.",
        detail="task 3c1f… does not exist",
        reason="No such task in the project.",
        advice="Check the task id.",
    )
    responses.get(TASK_URL, json=body, status=404, headers={"X-Request-Id": "req-404"})
    with pytest.raises(TaskNotFound) as info:
        _client().show_task(TID)
    error = info.value
    assert error.extras == {
        "detail": "task 3c1f… does not exist",
        "reason": "No such task in the project.",
        "advice": "Check the task id.",
    }
    upstream = error.upstream_dict()
    assert upstream["error_code"] == "VIAS.0005" and upstream["request_id"] == "req-404"
    assert upstream["advice"] == "Check the task id."


@responses.activate
def test_a_vas_style_error_body_keeps_the_contracts_four_upstream_keys():
    responses.get(TASK_URL, json=_error("IVA.0004", "bad"), status=400)
    with pytest.raises(UpstreamBadRequest) as info:
        _client().show_task(TID)
    assert set(info.value.upstream_dict()) == {"status", "error_code", "error_msg", "request_id"}


def test_error_extras_are_read_leniently():
    assert parse_error_extras(b"<html>") == {}
    assert parse_error_extras(b"[1]") == {}
    assert parse_error_extras(json.dumps({"advice": "x" * 900}).encode())["advice"] == "x" * 500
    assert parse_error_extras(json.dumps({"reason": True, "detail": ""}).encode()) == {}


@responses.activate
def test_the_list_sends_page_page_size_and_only_the_filters_given():
    responses.get(LIST_URL, json={"count": 0, "tasks": [], "page": 1, "page_size": 5})
    page = _client().list_tasks(page_size=5, task_state="SCHEDULING", camera_name="gate cam")
    query = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert query == {
        "page": [str(FIRST_PAGE)],
        "page_size": ["5"],
        "task_state": ["SCHEDULING"],
        "camera_name": ["gate cam"],
    }
    assert page.is_last and page.tasks == []


@pytest.mark.parametrize("size", [0, 4, 1001, True])
def test_the_list_refuses_a_page_size_outside_5_to_1000(size):
    with pytest.raises(ValueError):
        _client().list_tasks(page_size=size)


@responses.activate
def test_iter_pages_stops_at_the_first_short_page_because_count_is_no_total():
    items = [{"id": f"{i:032x}", "state": "RUNNING"} for i in range(12)]
    for number, chunk in ((1, items[:5]), (2, items[5:10]), (3, items[10:])):
        responses.get(
            LIST_URL,
            json={"count": len(chunk), "tasks": chunk},
            match=[responses.matchers.query_param_matcher({"page": str(number), "page_size": "5"})],
        )
    pages = list(_client().iter_pages(page_size=5))
    assert [len(p.tasks) for p in pages] == [5, 5, 2]
    assert len(responses.calls) == 3


@responses.activate
def test_iter_pages_asks_once_more_after_a_full_last_page():
    full = [{"id": f"{i:032x}", "state": "RUNNING"} for i in range(5)]
    responses.get(
        LIST_URL,
        json={"count": 5, "tasks": full},
        match=[responses.matchers.query_param_matcher({"page": "1", "page_size": "5"})],
    )
    responses.get(
        LIST_URL,
        json={"count": 0, "tasks": []},
        match=[responses.matchers.query_param_matcher({"page": "2", "page_size": "5"})],
    )
    assert [len(p.tasks) for p in _client().iter_pages(page_size=5)] == [5, 0]


@responses.activate
def test_list_items_are_redacted_and_a_missing_count_is_tolerated():
    responses.get(LIST_URL, json={"tasks": [DOC]})
    page = _client().list_tasks(page_size=5)
    assert page.count is None
    assert page.tasks[0]["input"]["vcn"]["password"] == "******"


@responses.activate
@pytest.mark.parametrize(
    "body", [{"count": 1, "tasks": "x"}, {"count": "1", "tasks": []}, {"tasks": [1]}, [1]]
)
def test_a_list_of_the_wrong_shape_is_an_invalid_response(body):
    responses.get(LIST_URL, json=body)
    with pytest.raises(UpstreamInvalidResponse):
        _client().list_tasks(page_size=5)


@responses.activate
@pytest.mark.parametrize("action", ["start", "stop"])
def test_start_and_stop_are_a_put_on_the_action_path_answered_200(action):
    responses.put(f"{TASK_URL}/action/{action}", status=200, headers={"X-Request-Id": "r-a"})
    method = getattr(_client(), f"{action}_task")
    assert method(TID) == "r-a"
    assert responses.calls[0].request.method == "PUT"


@responses.activate
def test_start_is_never_retried():
    responses.put(f"{TASK_URL}/action/start", status=503, json=_error("VIAS.0010", "busy"))
    with pytest.raises(UpstreamUnavailable):
        _client().start_task(TID)
    assert len(responses.calls) == 1


@responses.activate
def test_show_is_retried_on_a_503():
    responses.get(TASK_URL, status=503, json=_error("VIAS.0010", "busy"))
    responses.get(TASK_URL, json=DOC)
    assert _client().show_task(TID).payload["id"] == TID
    assert len(responses.calls) == 2


@responses.activate
def test_update_puts_the_signed_json_body():
    responses.put(TASK_URL, json={})
    assert _client().update_task(TID, {"config": {"common": {"target_roi": "{}"}}}).payload == {}
    sent = responses.calls[0].request
    assert json.loads(sent.body) == {"config": {"common": {"target_roi": "{}"}}}
    assert "SignedHeaders=" in sent.headers["Authorization"]


@responses.activate
def test_update_returns_an_echoed_task_redacted():
    responses.put(TASK_URL, json=DOC)
    fetched = _client().update_task(TID, {"name": "x"})
    assert fetched.payload["input"]["vcn"]["password"] == "******"


@responses.activate
def test_show_unredacted_keeps_the_secrets_for_an_update_body_in_memory():
    responses.get(TASK_URL, json=DOC)
    fetched = _client().show_task_unredacted(TID)
    assert fetched.payload["input"]["vcn"]["password"] == "vcn-pass-SECRET"


@responses.activate
def test_an_oversized_answer_is_refused():
    responses.get(TASK_URL, body=b'{"id": "' + b"x" * (3 * 1024 * 1024) + b'"}')
    with pytest.raises(UpstreamInvalidResponse):
        _client().show_task(TID)


@responses.activate
def test_check_reports_the_first_page_and_never_raises():
    responses.get(LIST_URL, json={"count": 2, "tasks": [DOC, DOC]})
    result = _client().check()
    assert result.ok and result.count == 2
    responses.replace(responses.GET, LIST_URL, status=401, json=_error("APIGW.0301", "bad sig"))
    result = _client().check()
    assert not result.ok and result.error.code == "upstream_auth_failed"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("cloud", "cloud"), ("edge", "edge"), ("0", "cloud"), (1, "edge"), ("EDGE", "edge")],
)
def test_the_task_type_accepts_both_spellings(value, expected):
    assert task_type(value) == expected


def test_an_unknown_task_type_is_kept_as_it_came():
    assert task_type("hybrid") == "hybrid"
    assert task_type(None) is None


def test_restful_is_read_as_edgerestful():
    assert input_type("restful") == "edgerestful"
    assert input_type("video_source") == "video_source"


def test_the_vias_states_add_scheduling_and_lack_of_resources():
    assert {"SCHEDULING", "LACK_OF_RESOURCES", "RUNNING"} <= set(VIAS_STATES)
    assert len(VIAS_STATES) == 17


def test_the_view_reads_config_common_schedule_and_vias_fields():
    view = ViasTaskView.from_payload(DOC)
    assert view.service_config_common["detection_min_size"] == 120
    assert view.task_type == "edge" and view.event_center is True
    assert view.schedule_status == "ACTIVATED"
    assert view.state_family == "running"


def test_the_view_renders_an_unknown_state_as_it_came():
    view = ViasTaskView.from_payload({**DOC, "state": "HIBERNATING"})
    assert view.state == "HIBERNATING" and view.state_family == "unknown"
    assert ViasTaskView.from_payload({**DOC, "state": "SCHEDULING"}).state_family == "transitional"


@pytest.mark.parametrize("payload", [None, [], "x", {"config": "x", "schedule": [1]}])
def test_the_view_never_raises(payload):
    ViasTaskView.from_payload(payload)


def test_common_config_reads_vas_and_vias_documents():
    assert common_config({"service_config": {"common": {"a": 1}}}) == {"a": 1}
    assert common_config({"config": {"common": {"b": 2}}}) == {"b": 2}
    assert common_config({"config": {"common": "x"}}) == {}


def test_a_schedule_with_one_window_list_per_day_is_shown_per_day():
    rows = schedule_windows(
        {
            "days_of_week": [1, 3],
            "periods": [
                [{"begin_at": "07:00:00", "end_at": "09:00:00"}],
                [{"begin_at": "10:00:00", "end_at": "11:00:00"}],
            ],
        }
    )
    assert rows == [
        {"days": [1], "windows": [("07:00:00", "09:00:00")], "day_names": ["Monday"]},
        {"days": [3], "windows": [("10:00:00", "11:00:00")], "day_names": ["Wednesday"]},
    ]


def test_a_schedule_with_one_window_list_applies_it_to_every_day():
    rows = schedule_windows(DOC["schedule"])
    assert rows[0]["days"] == [1, 2, 3, 4, 5]
    assert rows[0]["windows"] == [("07:00:00", "20:00:00")]


def test_a_flat_vas_style_period_list_is_read_too():
    rows = schedule_windows({"days_of_week": [7], "periods": [{"begin_at": "1", "end_at": "2"}]})
    assert rows == [{"days": [7], "windows": [("1", "2")], "day_names": ["Sunday"]}]


@pytest.mark.parametrize("schedule", [None, {}, {"periods": "x"}, {"days_of_week": [9, True]}])
def test_odd_schedules_never_raise(schedule):
    schedule_windows(schedule)


def test_the_vas_to_vias_rows_name_each_mapped_field():
    vas = {
        "service_config": {"common": {"target_roi": "{}"}},
        "timing": {
            "type": "weekly",
            "timezone": "+08:00",
            "days_of_week": [1, 2],
            "periods": [{"begin_at": "07:00:00", "end_at": "20:00:00"}],
        },
        "input": {"type": "edgecamera"},
        "output": {"localpath": {"mount_source_path": "/x"}},
    }
    rows = {row["vas_field"]: row for row in vas_to_vias(vas)}
    assert rows["service_config.common"]["vias_field"] == "config.common"
    assert rows["timing"]["vias_value"]["periods"] == [
        [{"begin_at": "07:00:00", "end_at": "20:00:00"}],
        [{"begin_at": "07:00:00", "end_at": "20:00:00"}],
    ]
    assert rows["input.type"]["vias_value"] == "video_source"
    assert rows["output.localpath"]["present"] and rows["output.localpath"]["vias_value"] is None
    assert not rows["output.hosting"]["present"]


def test_a_once_timing_has_no_weekly_equivalent():
    assert isinstance(vias_schedule_from_timing({"type": "once", "periods": []}), str)
