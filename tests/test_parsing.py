"""Redaction of secrets and the tolerant TaskView."""

from __future__ import annotations

import copy

import pytest

from tasks.vas.parsing import (
    KNOWN_SERVICES,
    SERVICE_CONFIG_KEYS,
    STATES,
    TaskView,
    redact_task,
)
from vassim.simulator import SEED_TASK_ID, TASK_A_ID, TASK_B_ID, TASK_C_ID, seed_tasks

DOCS = {doc["id"]: doc for doc, _ in seed_tasks()}


def test_it_masks_secret_looking_webhook_headers_and_keeps_the_rest():
    doc = {
        "id": "x",
        "output": {
            "webhook": {
                "url": "https://h",
                "headers": {
                    "Authorization": "Bearer abc",
                    "X-Api-Key": "k",
                    "x-auth-TOKEN": "t",
                    "Cookie": "c",
                    "X-Signature": "s",
                    "client_secret": "s2",
                    "Password": "p",
                    "content-type": "application/json",
                },
            }
        },
        "input": {
            "type": "vcn",
            "data": [{"url": "https://x", "headers": {"Authorization": "a", "Accept": "b"}}],
            "vcn": {"ip": "1.2.3.4", "port": 1, "username": "u", "password": "pw"},
        },
        "unknown_field": {"nested": [1, 2]},
    }
    original = copy.deepcopy(doc)
    out = redact_task(doc)
    assert doc == original  # the input is not modified
    headers = out["output"]["webhook"]["headers"]
    assert headers["content-type"] == "application/json"
    assert all(v == "******" for k, v in headers.items() if k != "content-type")
    assert out["input"]["data"][0]["headers"] == {"Authorization": "******", "Accept": "b"}
    assert out["input"]["vcn"] == {
        "ip": "1.2.3.4",
        "port": 1,
        "username": "u",
        "password": "******",
    }
    assert out["unknown_field"] == {"nested": [1, 2]}


@pytest.mark.parametrize("doc", [{}, {"output": "x"}, {"output": {"webhook": None}}, {"input": []}])
def test_redaction_tolerates_odd_shapes(doc):
    assert redact_task(doc) == doc


def test_the_simulator_webhook_secret_task_is_redacted():
    doc = next(d for d in DOCS.values() if d["name"] == "webhook-with-authorization")
    out = redact_task(doc)
    assert "sim-webhook-secret-value" not in str(out) and "sim-vcn-password" not in str(out)


def test_the_view_reads_the_seed_task():
    view = TaskView.from_payload(DOCS[SEED_TASK_ID])
    assert view.id == SEED_TASK_ID and view.state == "RUNNING" and view.state_family == "running"
    assert view.service_name is None  # the seed page omits it; tolerated
    assert view.input_type == "edgecamera" and view.inputs[0]["id"].startswith("5213039b")
    assert view.outputs["webhook"]["data_category"] == ["FaceImage", "OriginImage"]
    assert view.service_config_common["detection_max_size"] == 800
    assert isinstance(view.target_roi, str)
    assert view.state_zh == "运行中"


def test_the_view_reads_the_illustrative_tasks():
    a, b, c = (TaskView.from_payload(DOCS[i]) for i in (TASK_A_ID, TASK_B_ID, TASK_C_ID))
    assert a.service_title == {"zh": "边缘人脸提取", "en": "Edge Face Extraction"}
    assert b.timing and b.timing["type"] == "weekly" and b.timing_status == "INACTIVATED"
    assert b.description is None and b.state_family == "stopped"
    assert c.error == {"code": "ALG.002", "message": "video stream interrupted"}
    assert c.status and c.state_family == "failed" and c.outputs["localpath"]
    assert c.id == "task7qe4sbmo"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "x",
        {},
        {"id": 5, "state": None, "error": "boom", "input": "x", "output": [1]},
        {"service_config": {"common": "nope"}, "service_title": ["x"], "timing": 3},
        {"input": {"data": [1, None, {"id": "ok"}]}, "error": {"code": 1}},
    ],
)
def test_the_view_never_raises(payload):
    view = TaskView.from_payload(payload)
    assert isinstance(view, TaskView)
    assert view.state_family in {
        "running",
        "transitional",
        "stopped",
        "failed",
        "frozen",
        "unknown",
    }


def test_the_tables_cover_the_documented_values():
    assert len(STATES) == 15
    assert {f for f, _, _ in STATES.values()} == {
        "running",
        "transitional",
        "stopped",
        "failed",
        "frozen",
    }
    assert STATES["FROZEN"][0] == "frozen" and STATES["PENDING"][2] == "等待中"
    assert SERVICE_CONFIG_KEYS["detection_min_size"][1] == "px"
    assert "c-face-edge" in KNOWN_SERVICES and "c-vehicle-edge" not in KNOWN_SERVICES
