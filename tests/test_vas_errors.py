"""Upstream answers -> typed errors, SDK-style body parsing, and IAM token handling (mocked)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from tasks.errors import Message, error_text
from tasks.errors import http_status as catalogue_status
from tasks.vas import (
    AkSkAuth,
    IamPasswordAuth,
    StaticTokenAuth,
    TaskNotFound,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamForbidden,
    UpstreamInvalidResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    VasClient,
)
from tasks.vas.client import parse_retry_after
from tasks.vas.errors import parse_error_body

EP = "https://iva.cn-north-4.myhuaweicloud.com"
IAM = "https://iam.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"
TID = "a066974ae7334649a37257242c5fa4c3"
TASK_URL = f"{EP}/v2/{PID}/services/c-face-edge/tasks/{TID}"
LIST_URL = f"{EP}/v2/{PID}/services/c-face-edge/tasks"
AK = "AKSECRETACCESSKEY001"
SK = "SKSECRETVALUEDONOTLEAK000000000000000000"
PASSWORD = "iam-password-do-not-leak"


def _client(auth=None, **kwargs) -> VasClient:
    return VasClient(
        endpoint=EP, project_id=PID, auth=auth or AkSkAuth(AK, SK, project_id=PID), **kwargs
    )


def _body(code: str, msg: str) -> dict:
    return {"error_code": code, "error_msg": msg}


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "http_status", "error_code"),
    [
        (
            404,
            _body("IVA.0005", "The requested resource is NOT found."),
            TaskNotFound,
            "task_not_found",
            404,
            "IVA.0005",
        ),
        (
            400,
            _body("IVA.0004", "The request param is invalid."),
            UpstreamBadRequest,
            "upstream_bad_request",
            400,
            "IVA.0004",
        ),
        (
            400,
            _body("IVA.0002", "Project id is invalid."),
            UpstreamBadRequest,
            "upstream_bad_request",
            400,
            "IVA.0002",
        ),
        (
            401,
            _body(
                "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail"
            ),
            UpstreamAuthFailed,
            "upstream_auth_failed",
            502,
            "APIGW.0301",
        ),
        (
            401,
            _body("IVA.0001", "The authentication token is abnormal."),
            UpstreamAuthFailed,
            "upstream_auth_failed",
            502,
            "IVA.0001",
        ),
        (
            403,
            _body("IVA.0007", "No permission to access service."),
            UpstreamForbidden,
            "upstream_forbidden",
            502,
            "IVA.0007",
        ),
        (
            429,
            _body("APIGW.0308", "throttled"),
            UpstreamUnavailable,
            "upstream_unavailable",
            503,
            "APIGW.0308",
        ),
        (
            500,
            _body("IVA.0006", "Internal server error."),
            UpstreamUnavailable,
            "upstream_unavailable",
            503,
            "IVA.0006",
        ),
        (
            503,
            _body("IVA.0010", "Service unavailable."),
            UpstreamUnavailable,
            "upstream_unavailable",
            503,
            "IVA.0010",
        ),
        (502, "<html>bad gateway</html>", UpstreamUnavailable, "upstream_unavailable", 503, None),
    ],
)
@responses.activate
def test_it_maps_each_upstream_status(status, body, cls, code, http_status, error_code):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    responses.get(TASK_URL, status=status, headers={"X-Request-Id": "req-abc-123"}, **kwargs)
    with pytest.raises(cls) as info:
        _client().show_task("c-face-edge", TID)
    err = info.value
    assert (err.code, catalogue_status(err.code), err.status) == (code, http_status, status)
    assert err.error_code == error_code
    assert err.request_id == "req-abc-123"
    assert err.upstream_dict() == {
        "status": status,
        "error_code": error_code,
        "error_msg": err.error_msg,
        "request_id": "req-abc-123",
    }
    message = error_text(err)
    assert message and message.endswith((".", err.error_msg or "."))


@responses.activate
def test_a_429_carries_retry_after_in_seconds_or_as_a_date():
    responses.get(TASK_URL, status=429, headers={"Retry-After": "7"}, json={})
    with pytest.raises(UpstreamUnavailable) as info:
        _client().show_task("c-face-edge", TID)
    assert info.value.retry_after == 7.0
    assert "7" in error_text(info.value)


def test_it_parses_retry_after_dates():
    when = datetime.now(UTC) + timedelta(seconds=30)
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds is not None and 25 <= seconds <= 31
    assert parse_retry_after("garbage") is None and parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"error_code": "IVA.0005", "error_msg": "nf"}', ("IVA.0005", "nf")),
        ('{"code": "APIGW.0101", "message": "no api"}', ("APIGW.0101", "no api")),
        ('{"error": {"code": 401, "message": "wrong password"}}', ("401", "wrong password")),
        ('{"a": {"b": {"error_code": "X.1", "error_msg": "deep"}}}', ("X.1", "deep")),
        ("<html>oops</html>", (None, "<html>oops</html>")),
        ("x" * 5000, (None, "x" * 500)),
        ("", (None, None)),
        ("[1, 2]", (None, "[1, 2]")),
    ],
)
def test_it_parses_error_bodies_like_the_sdk(body, expected):
    assert parse_error_body(body) == expected


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ("not json", {}),
        ('{"id": "x", "state": "RUNNING", "n": NaN}', {}),
        ('{"id": "x", "state": "RUNNING", "n": Infinity}', {}),
        ("[1, 2, 3]", {}),
        ('{"hello": "world"}', {}),
        ('{"id": 5, "state": "RUNNING"}', {}),
        ("", {}),
    ],
)
@responses.activate
def test_unusable_bodies_are_invalid_responses(body, headers):
    responses.get(TASK_URL, body=body, headers={"X-Request-Id": "r1", **headers})
    with pytest.raises(UpstreamInvalidResponse) as info:
        _client().show_task("c-face-edge", TID)
    assert info.value.code == "upstream_invalid_response"
    assert catalogue_status(info.value.code) == 502


@responses.activate
def test_a_declared_oversized_body_is_refused():
    responses.get(TASK_URL, body=b"{}", headers={"Content-Length": str(3 * 1024 * 1024)})
    with pytest.raises(UpstreamInvalidResponse):
        _client().show_task("c-face-edge", TID)


@responses.activate
def test_a_redirect_is_not_followed():
    responses.get(TASK_URL, status=302, headers={"Location": "http://169.254.169.254/"})
    with pytest.raises(UpstreamInvalidResponse):
        _client().show_task("c-face-edge", TID)
    assert len(responses.calls) == 1


@responses.activate
def test_timeouts_and_connection_errors_are_typed():
    responses.get(TASK_URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(UpstreamTimeout) as info:
        _client().show_task("c-face-edge", TID)
    assert catalogue_status(info.value.code) == 504 and info.value.upstream_dict() is None
    responses.replace(responses.GET, TASK_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(UpstreamUnavailable):
        _client().show_task("c-face-edge", TID)


@responses.activate
def test_the_list_is_parsed_and_redacted():
    task = {
        "id": TID,
        "state": "RUNNING",
        "output": {"webhook": {"url": "u", "headers": {"Authorization": "Bearer s3cr3t"}}},
    }
    responses.get(LIST_URL, json={"count": 42, "tasks": [task]})
    page = _client().list_tasks("c-face-edge", offset=0, limit=1, state="RUNNING")
    assert page.count == 42 and page.tasks[0]["output"]["webhook"]["headers"] == {
        "Authorization": "******"
    }
    sent = responses.calls[0].request.url
    assert sent.endswith("/tasks?limit=1&offset=0&state=RUNNING")


@responses.activate
def test_a_list_of_the_wrong_shape_is_invalid():
    responses.get(LIST_URL, json={"count": "many", "tasks": []})
    with pytest.raises(UpstreamInvalidResponse):
        _client().list_tasks("c-face-edge")


@responses.activate
def test_check_never_raises_and_explains():
    responses.get(LIST_URL, status=401, json=_body("APIGW.0301", "verify aksk signature fail"))
    result = _client().check("c-face-edge")
    assert not result.ok and "credentials" in error_text(result.error)
    responses.replace(responses.GET, LIST_URL, json={"count": 3, "tasks": []})
    result = _client().check("c-face-edge")
    assert result.ok and result.count == 3 and result.error is None
    connected = Message("connected", params={"count": result.count, "service": "c-face-edge"})
    assert "3 tasks" in connected.render()


@responses.activate
def test_secrets_never_appear_in_error_texts():
    responses.get(
        TASK_URL,
        status=401,
        json=_body("APIGW.0301", f"Incorrect IAM authentication information: ak {AK} not exist"),
    )
    with pytest.raises(UpstreamAuthFailed) as info:
        _client().show_task("c-face-edge", TID)
    texts = [str(info.value), repr(info.value), error_text(info.value), str(info.value.error_msg)]
    texts.append(json.dumps(info.value.upstream_dict()))
    for text in texts:
        assert AK not in text and SK not in text


def test_invalid_ids_are_refused_before_any_call():
    with pytest.raises(ValueError):
        _client().show_task("c-face-edge", "../../etc")
    with pytest.raises(ValueError):
        _client().show_task("c face", TID)


# ------------------------------------------------------------------------------------ IAM


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _iam_ok(token: str = "TOKEN-1", expires_in: float = 3600.0, clock: FakeClock | None = None):
    base = clock.now if clock else time.time()
    expires = datetime.fromtimestamp(base + expires_in, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    responses.post(
        f"{IAM}/v3/auth/tokens",
        status=201,
        headers={"X-Subject-Token": token},
        json={"token": {"expires_at": expires}},
    )


def _iam_auth(clock: FakeClock | None = None) -> IamPasswordAuth:
    return IamPasswordAuth(
        iam_endpoint=IAM,
        domain="acme",
        user="ops",
        password=PASSWORD,
        project_id=PID,
        clock=clock or time.time,
    )


@responses.activate
def test_the_iam_token_is_reused_until_five_minutes_before_expiry():
    clock = FakeClock()
    _iam_ok("TOKEN-1", 3600, clock)
    responses.get(TASK_URL, json={"id": TID, "state": "RUNNING"})
    auth = _iam_auth(clock)
    client = _client(auth)
    client.show_task("c-face-edge", TID)
    client.show_task("c-face-edge", TID)
    assert auth.fetch_count == 1
    body = json.loads(responses.calls[0].request.body)
    assert body["auth"]["scope"] == {"project": {"id": PID}}
    assert responses.calls[1].request.headers["X-Auth-Token"] == "TOKEN-1"
    clock.now += 3600 - 299  # inside the 5-minute margin
    responses.replace(
        responses.POST,
        f"{IAM}/v3/auth/tokens",
        status=201,
        headers={"X-Subject-Token": "TOKEN-2"},
        json={"token": {"expires_at": "2099-01-01T00:00:00.000000Z"}},
    )
    client.show_task("c-face-edge", TID)
    assert auth.fetch_count == 2
    assert responses.calls[-1].request.headers["X-Auth-Token"] == "TOKEN-2"


@responses.activate
def test_a_401_from_the_vas_refetches_the_token_once():
    _iam_ok("OLD")
    responses.get(TASK_URL, status=401, json=_body("IVA.0001", "The token must be updated"))
    responses.get(TASK_URL, json={"id": TID, "state": "RUNNING"})
    auth = _iam_auth()
    assert _client(auth).show_task("c-face-edge", TID).payload["id"] == TID
    assert auth.fetch_count == 2
    vas_calls = [c for c in responses.calls if c.request.url.startswith(EP)]
    assert len(vas_calls) == 2


@responses.activate
def test_a_second_401_is_an_auth_failure_without_a_third_call():
    _iam_ok("T")
    responses.get(
        TASK_URL, status=401, json=_body("IVA.0001", "The authentication token is abnormal.")
    )
    auth = _iam_auth()
    with pytest.raises(UpstreamAuthFailed):
        _client(auth).show_task("c-face-edge", TID)
    vas_calls = [c for c in responses.calls if c.request.url.startswith(EP)]
    assert len(vas_calls) == 2 and auth.fetch_count == 2


@pytest.mark.parametrize("status", [400, 401, 403])
@responses.activate
def test_iam_refusing_the_credentials_is_an_auth_failure(status):
    responses.post(
        f"{IAM}/v3/auth/tokens",
        status=status,
        json={"error": {"code": status, "message": f"bad password {PASSWORD}"}},
    )
    with pytest.raises(UpstreamAuthFailed) as info:
        _client(_iam_auth()).show_task("c-face-edge", TID)
    assert info.value.code == "upstream_auth_failed"
    assert PASSWORD not in str(info.value) and PASSWORD not in str(info.value.error_msg)


@responses.activate
def test_twenty_threads_share_one_iam_call():
    def slow_iam(request):
        time.sleep(0.2)  # hold the lock long enough for every thread to pile up
        return (
            201,
            {"X-Subject-Token": "SHARED"},
            json.dumps({"token": {"expires_at": "2099-01-01T00:00:00Z"}}),
        )

    responses.add_callback(responses.POST, f"{IAM}/v3/auth/tokens", callback=slow_iam)
    responses.get(TASK_URL, json={"id": TID, "state": "RUNNING"})
    auth = _iam_auth()
    client = _client(auth)
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            client.show_task("c-face-edge", TID)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert auth.fetch_count == 1
    assert len([c for c in responses.calls if "/v3/auth/tokens" in c.request.url]) == 1


def test_auth_reprs_hide_secrets():
    for auth in (_iam_auth(), StaticTokenAuth("STATIC-SECRET"), AkSkAuth(AK, SK)):
        text = repr(auth)
        assert PASSWORD not in text and "STATIC-SECRET" not in text
        assert SK not in text and AK not in text
