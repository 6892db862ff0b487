"""The client against the live simulator over a real socket: retries, caps, timeouts, faults."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tasks.errors import error_text
from tasks.vas import (
    AkSkAuth,
    EndpointNotAllowed,
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
from tasks.vas.client import parse_json
from vassim.simulator import (
    DEFAULT_AK,
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_PASSWORD,
    DEFAULT_IAM_USER,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    SEED_TASK_ID,
    SEEDED_IDS,
    TASK_A_ID,
    TASK_B_ID,
)
from vassim.simulator import _Task as _SimTask

pytestmark = pytest.mark.integration

SVC = "c-face-edge"
TASK_PATH = f"/v2/{DEFAULT_PROJECT_ID}/services/{SVC}/tasks/{TASK_A_ID}"


def test_it_fetches_the_seed_task(vas_client):
    fetched = vas_client().show_task(SVC, SEED_TASK_ID)
    assert fetched.payload["name"] == "人脸提取-T4M-edge-0"
    assert isinstance(fetched.payload["service_config"]["common"]["target_roi"], str)
    assert fetched.request_id and len(fetched.request_id) == 32


def test_503_503_200_is_three_calls_and_succeeds(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "503", times=2)
    assert vas_client().show_task(SVC, TASK_A_ID).payload["id"] == TASK_A_ID
    assert simulator.count(TASK_PATH) == 3


def test_persistent_5xx_gives_up_after_two_retries(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "500")
    with pytest.raises(UpstreamUnavailable) as info:
        vas_client().show_task(SVC, TASK_A_ID)
    assert info.value.status == 500 and info.value.error_code == "IVA.0006"
    assert simulator.count(TASK_PATH) == 3


def test_a_read_timeout_is_one_call(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "delay", seconds=1.0)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        vas_client(timeout=(1.0, 0.3)).show_task(SVC, TASK_A_ID)
    assert time.monotonic() - started < 0.9
    assert simulator.count(TASK_PATH) == 1


def test_post_is_never_retried(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "503")
    with pytest.raises(UpstreamUnavailable):
        vas_client().start_task(SVC, TASK_A_ID)
    assert simulator.count(TASK_PATH + "/start", method="POST") == 1


def test_start_moves_a_task_through_starting(simulator, vas_client):
    client = vas_client()
    client.stop_task(SVC, TASK_A_ID)
    assert client.show_task(SVC, TASK_A_ID).payload["state"] == "STOPPING"
    simulator.pass_time(simulator.transition_seconds)  # transitions run on the simulator's clock
    assert client.show_task(SVC, TASK_A_ID).payload["state"] == "STOPPED"
    client.start_task(SVC, TASK_A_ID)
    assert client.show_task(SVC, TASK_A_ID).payload["state"] == "STARTING"
    simulator.pass_time(simulator.transition_seconds)
    assert client.show_task(SVC, TASK_A_ID).payload["state"] == "RUNNING"


def test_a_lifecycle_task_advances_on_each_fetch(vas_client):
    client, tid = vas_client(), SEEDED_IDS["lifecycle-fetch"]
    states = [client.show_task(SVC, tid).payload["state"] for _ in range(4)]
    assert states == ["PENDING", "STARTING", "RUNNING", "RUNNING"]


def test_a_lifecycle_task_advances_on_the_control_call(simulator, simulator_server, vas_client):
    tid = SEEDED_IDS["lifecycle-timed"]
    assert simulator.state_of(SVC, tid) == "PENDING"
    requests.post(f"{simulator_server.url}/_sim/advance", json={"task_id": tid}, timeout=5)
    assert vas_client().show_task(SVC, tid).payload["state"] == "STARTING"


def test_a_trickling_body_hits_the_deadline(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "trickle", seconds=0.05)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        vas_client(timeout=(1.0, 0.5), deadline=0.8).show_task(SVC, TASK_A_ID)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("mode", ["oversized", "oversized_stream", "gzip_bomb"])
def test_big_bodies_are_cut_at_the_cap(simulator, vas_client, mode):
    simulator.set_fault(TASK_A_ID, mode)
    started = time.monotonic()
    with pytest.raises(UpstreamInvalidResponse) as info:
        vas_client().show_task(SVC, TASK_A_ID)
    assert "MiB" in error_text(info.value)
    assert time.monotonic() - started < 2.0
    assert simulator.count(TASK_PATH) == 1


@pytest.mark.parametrize("mode", ["malformed_json", "html", "nan", "array", "not_task"])
def test_unusable_answers_are_invalid_responses(simulator, vas_client, mode):
    simulator.set_fault(TASK_A_ID, mode)
    with pytest.raises(UpstreamInvalidResponse) as info:
        vas_client().show_task(SVC, TASK_A_ID)
    assert info.value.request_id


def test_a_deeply_nested_task_is_an_invalid_response(simulator, vas_client):
    # json.loads takes ~1000 levels; redaction, hashing and the pages would crash far sooner.
    nested: list = []
    for _ in range(300):
        nested = [nested]
    doc = {"id": TASK_B_ID, "state": "RUNNING", "service_name": SVC, "extra": nested}
    simulator.tasks[(SVC, TASK_B_ID)] = _SimTask(doc=doc)
    with pytest.raises(UpstreamInvalidResponse):
        vas_client().show_task(SVC, TASK_B_ID)
    with pytest.raises(ValueError):
        parse_json(b"[" * 900 + b"]" * 900)
    assert parse_json(b'{"a": ' + b"[" * 50 + b"]" * 50 + b"}")


def test_a_redirect_is_not_followed(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "redirect")
    with pytest.raises(UpstreamInvalidResponse) as info:
        vas_client().show_task(SVC, TASK_A_ID)
    assert info.value.status == 302


@pytest.mark.parametrize("mode", ["drop", "reset"])
def test_a_dropped_connection_is_unavailable(simulator, vas_client, mode):
    simulator.set_fault(TASK_A_ID, mode)
    with pytest.raises(UpstreamUnavailable):
        vas_client().show_task(SVC, TASK_A_ID)
    assert simulator.count(TASK_PATH) == 1


def test_429_is_not_retried_and_carries_retry_after(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "429", retry_after=7)
    with pytest.raises(UpstreamUnavailable) as info:
        vas_client().show_task(SVC, TASK_A_ID)
    assert info.value.retry_after == 7.0 and info.value.status == 429
    assert simulator.count(TASK_PATH) == 1


def test_a_retry_after_beyond_the_deadline_is_not_slept(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "503", retry_after=60)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as info:
        vas_client(deadline=2.0).show_task(SVC, TASK_A_ID)
    assert time.monotonic() - started < 1.0
    assert info.value.retry_after == 60.0
    assert simulator.count(TASK_PATH) == 1


def test_a_short_retry_after_on_503_is_honoured(simulator, vas_client):
    simulator.set_fault(TASK_A_ID, "503", retry_after="0.2", times=1)
    assert vas_client().show_task(SVC, TASK_A_ID).payload["id"] == TASK_A_ID
    assert simulator.count(TASK_PATH) == 2


@pytest.mark.parametrize(("mode", "cls"), [("401", UpstreamAuthFailed), ("403", UpstreamForbidden)])
def test_auth_faults_are_typed(simulator, vas_client, mode, cls):
    simulator.set_fault(TASK_A_ID, mode)
    with pytest.raises(cls):
        vas_client().show_task(SVC, TASK_A_ID)


def test_a_wildcard_fault_applies_to_lists(simulator, vas_client):
    simulator.set_fault("*", "502", times=5)
    with pytest.raises(UpstreamUnavailable):
        vas_client().list_tasks(SVC)


def test_connection_refused_is_unavailable(vas_client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UpstreamUnavailable):
        vas_client(endpoint=f"http://127.0.0.1:{port}").show_task(SVC, TASK_A_ID)


def test_upstream_errors_are_typed(vas_client):
    client = vas_client()
    with pytest.raises(TaskNotFound) as info:
        client.show_task(SVC, "f" * 32)
    assert info.value.error_code == "IVA.0005" and info.value.request_id
    with pytest.raises(TaskNotFound):
        client.show_task("c-vehicle-detection-edge", TASK_A_ID)
    with pytest.raises(UpstreamBadRequest) as info:
        client.list_tasks(SVC, state="BOGUS")
    assert info.value.error_code == "IVA.0004"
    with pytest.raises(UpstreamBadRequest) as info:
        vas_client(project_id="ffffffffffffffffffffffffffffffff").list_tasks(SVC)
    assert info.value.error_code in ("IVA.0002", "APIGW.0301")


def test_the_list_filters_and_counts(vas_client):
    client = vas_client()
    everything = client.list_tasks(SVC)
    page = client.list_tasks(SVC, offset=1, limit=2, order="name:ASC")
    assert page.count == everything.count and len(page.tasks) == 2
    names = sorted(t["name"] for t in everything.tasks)
    assert [t["name"] for t in page.tasks] == names[1:3]
    running = client.list_tasks(SVC, state="RUNNING")
    assert running.count == len(running.tasks) > 0
    assert all(t["state"] == "RUNNING" for t in running.tasks)
    assert client.list_tasks(SVC, name_like="lobby").tasks[0]["id"] == TASK_A_ID
    assert client.list_tasks(SVC, id_like="8d7c029b").count == 1
    vehicles = client.list_tasks("c-vehicle-detection-edge")
    assert TASK_B_ID in {t["id"] for t in vehicles.tasks}


def test_webhook_secrets_are_redacted(vas_client):
    payload = vas_client().show_task(SVC, SEEDED_IDS["webhook-secret"]).payload
    text = json.dumps(payload)
    assert "sim-webhook-secret-value" not in text and "sim-vcn-password" not in text
    assert payload["output"]["webhook"]["headers"]["Authorization"] == "******"


def test_a_wrong_sk_is_an_auth_failure_without_leaking_keys(vas_client):
    client = vas_client(
        auth=AkSkAuth(DEFAULT_AK, "WRONG-SK-VALUE-123", project_id=DEFAULT_PROJECT_ID)
    )
    with pytest.raises(UpstreamAuthFailed) as info:
        client.show_task(SVC, TASK_A_ID)
    assert info.value.error_code == "APIGW.0301"
    assert "WRONG-SK-VALUE-123" not in str(info.value)
    unknown = vas_client(auth=AkSkAuth("UNKNOWNAK00000000001", DEFAULT_SK))
    with pytest.raises(UpstreamAuthFailed) as info:
        unknown.show_task(SVC, TASK_A_ID)
    assert "UNKNOWNAK00000000001" not in str(info.value) + str(info.value.error_msg)


def test_clock_skew_beyond_fifteen_minutes_is_refused(vas_client):
    skewed = AkSkAuth(DEFAULT_AK, DEFAULT_SK, now=lambda: datetime.now(UTC) - timedelta(minutes=16))
    with pytest.raises(UpstreamAuthFailed):
        vas_client(auth=skewed).show_task(SVC, TASK_A_ID)
    slight = AkSkAuth(DEFAULT_AK, DEFAULT_SK, now=lambda: datetime.now(UTC) - timedelta(minutes=5))
    assert vas_client(auth=slight).show_task(SVC, TASK_A_ID)


def test_a_security_token_is_signed_and_sent(simulator, vas_client):
    simulator.security_token = "TEMP-TOKEN"
    try:
        auth = AkSkAuth(DEFAULT_AK, DEFAULT_SK, security_token="TEMP-TOKEN")
        assert vas_client(auth=auth).show_task(SVC, TASK_A_ID)
        with pytest.raises(UpstreamAuthFailed):
            vas_client(auth=AkSkAuth(DEFAULT_AK, DEFAULT_SK)).show_task(SVC, TASK_A_ID)
    finally:
        simulator.security_token = None


def _iam(url: str, password: str = DEFAULT_IAM_PASSWORD) -> IamPasswordAuth:
    return IamPasswordAuth(
        iam_endpoint=url,
        domain=DEFAULT_IAM_DOMAIN,
        user=DEFAULT_IAM_USER,
        password=password,
        project_id=DEFAULT_PROJECT_ID,
    )


def test_iam_password_auth_reuses_and_refreshes_its_token(simulator, simulator_server, vas_client):
    auth = _iam(simulator_server.url)
    client = vas_client(auth=auth)
    client.show_task(SVC, TASK_A_ID)
    client.list_tasks(SVC)
    assert auth.fetch_count == 1
    simulator.revoke_tokens()  # the VAS now answers 401: one refetch, then success
    assert client.show_task(SVC, TASK_A_ID).payload["id"] == TASK_A_ID
    assert auth.fetch_count == 2
    assert simulator.count("/v3/auth/tokens") == 2


def test_a_wrong_iam_password_is_an_auth_failure(simulator_server, vas_client):
    client = vas_client(auth=_iam(simulator_server.url, "wrong-password-xyz"))
    with pytest.raises(UpstreamAuthFailed) as info:
        client.show_task(SVC, TASK_A_ID)
    assert "wrong-password-xyz" not in str(info.value)
    assert client.check(SVC).ok is False


def test_a_static_token_works_and_a_bad_one_fails(simulator, vas_client):
    token = simulator.issue_token()
    assert vas_client(auth=StaticTokenAuth(token)).show_task(SVC, TASK_A_ID)
    with pytest.raises(UpstreamAuthFailed):
        vas_client(auth=StaticTokenAuth("forged")).show_task(SVC, TASK_A_ID)


@pytest.mark.parametrize(
    "auth",
    [
        StaticTokenAuth("PASTED-TOKEN-PART-ONE\nPASTED-TOKEN-PART-TWO"),
        StaticTokenAuth("PASTED-TOKEN-PART-ONE\u4e2dPASTED-TOKEN-PART-TWO"),
        AkSkAuth(DEFAULT_AK, DEFAULT_SK, security_token="PASTED-TOKEN-PART-ONE\rPART-TWO"),
    ],
)
def test_a_credential_that_cannot_be_a_header_fails_without_echoing_it(vas_client, auth):
    # http.client's own error quotes the header value: it must not reach a message or a page.
    client = vas_client(auth=auth)
    with pytest.raises(UpstreamAuthFailed) as info:
        client.show_task(SVC, TASK_A_ID)
    assert "PASTED-TOKEN" not in str(info.value)
    assert "PASTED-TOKEN" not in error_text(info.value)
    result = client.check(SVC)
    assert result.ok is False and "PASTED-TOKEN" not in error_text(result.error)


def test_the_address_guard_allows_listed_loopback_only(vas_client):
    assert vas_client(allowed_hosts=["127.0.0.1"]).check(SVC).ok
    with pytest.raises(EndpointNotAllowed):
        vas_client(allowed_hosts=[".myhuaweicloud.com"]).show_task(SVC, TASK_A_ID)


def test_the_control_endpoints(simulator, simulator_server, vas_client):
    base = simulator_server.url
    spec = {TASK_A_ID: {"mode": "503", "times": 1}}
    assert requests.post(f"{base}/_sim/faults", json=spec, timeout=5).status_code == 200
    vas_client().show_task(SVC, TASK_A_ID)
    counts = requests.get(f"{base}/_sim/counts", timeout=5).json()
    assert counts[f"GET {TASK_PATH}"] == 2
    assert requests.delete(f"{base}/_sim/counts", timeout=5).status_code == 204
    assert simulator.count() == 0
    bad = requests.post(f"{base}/_sim/faults", json={"x": {"mode": "nope"}}, timeout=5)
    assert bad.status_code == 400


def test_the_session_is_shared_per_endpoint(simulator_server):
    auth = AkSkAuth(DEFAULT_AK, DEFAULT_SK)
    a = VasClient(endpoint=simulator_server.url, project_id=DEFAULT_PROJECT_ID, auth=auth)
    b = VasClient(endpoint=simulator_server.url + "/", project_id=DEFAULT_PROJECT_ID, auth=auth)
    assert a.session is b.session
