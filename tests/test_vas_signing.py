"""AK/SK signing: the documented vectors, parity with the official SDK, SDK vs the simulator."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkvas.v2 import ListTasksDetailsRequest, ShowTaskRequest
from huaweicloudsdkvas.v2 import VasClient as SdkVasClient

from tasks.vas.auth import AkSkAuth, StaticTokenAuth, canonical_request, sign
from vassim.simulator import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, SEED_TASK_ID

AK = "AKEXAMPLEAKEXAMPLE00"
SK = "SKEXAMPLEsecretkeySKEXAMPLEsecretkey0000"
HOST = "iva.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"
DATE = "20240102T030405Z"

EXPECTED_CANONICAL = (
    "GET\n"
    f"/v2/{PID}/services/c-face-edge/tasks/53e4a0b1c2d3e4f5a6b7c8d9e0f1b55b/\n"
    "\n"
    "content-type:application/json\n"
    f"host:{HOST}\n"
    "user-agent:HuaweiCloud-SDK-Python\n"
    f"x-project-id:{PID}\n"
    f"x-sdk-date:{DATE}\n"
    "\n"
    "content-type;host;user-agent;x-project-id;x-sdk-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)


def _show_headers() -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Host": HOST,
        "User-Agent": "HuaweiCloud-SDK-Python",
        "X-Project-Id": PID,
        "X-Sdk-Date": DATE,
    }


def test_it_builds_the_documented_canonical_request():
    url = f"https://{HOST}/v2/{PID}/services/c-face-edge/tasks/53e4a0b1c2d3e4f5a6b7c8d9e0f1b55b"
    canonical = canonical_request("GET", url, _show_headers(), b"")
    assert canonical == EXPECTED_CANONICAL
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "2b425de6f0ff0cc31a79ff0ab97396c00ec8fbc321c23b9a9f846b67d2cfaf41"
    )


def test_it_signs_the_documented_show_task_vector():
    url = f"https://{HOST}/v2/{PID}/services/c-face-edge/tasks/53e4a0b1c2d3e4f5a6b7c8d9e0f1b55b"
    assert sign("GET", url, _show_headers(), b"", AK, SK) == (
        "SDK-HMAC-SHA256 Access=AKEXAMPLEAKEXAMPLE00, "
        "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, "
        "Signature=fef0505cc88d499e442220a83b10f7a7120ace31ea9779e04030e66cd9ee57e0"
    )


def test_it_signs_the_documented_list_vector_with_unsorted_query():
    headers = _show_headers()
    del headers["User-Agent"]
    url = f"https://{HOST}/v2/{PID}/services/c-face-edge/tasks?state=RUNNING&offset=0&limit=10"
    assert sign("GET", url, headers, b"", AK, SK).endswith(
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=275e52f69595b48dad26d7d744241677eabf8d6c625538ac4fafb09beaadfcff"
    )


def test_the_auth_sends_the_sorted_query_and_signs_every_header():
    fixed = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    auth = AkSkAuth(AK, SK, project_id=PID, now=lambda: fixed, user_agent="HuaweiCloud-SDK-Python")
    prepared = requests.Request(
        "GET",
        f"https://{HOST}/v2/{PID}/services/c-face-edge/tasks",
        params={"state": "RUNNING", "offset": "0", "limit": "10"},
        auth=auth,
    ).prepare()
    assert prepared.url.endswith("/tasks?limit=10&offset=0&state=RUNNING")
    assert prepared.headers["X-Sdk-Date"] == DATE
    assert prepared.headers["Host"] == HOST
    assert (
        "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date,"
        in (prepared.headers["Authorization"])
    )


def test_the_auth_matches_the_show_task_vector_end_to_end():
    fixed = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    auth = AkSkAuth(AK, SK, project_id=PID, now=lambda: fixed, user_agent="HuaweiCloud-SDK-Python")
    url = f"https://{HOST}/v2/{PID}/services/c-face-edge/tasks/53e4a0b1c2d3e4f5a6b7c8d9e0f1b55b"
    prepared = requests.Request("GET", url, auth=auth).prepare()
    assert prepared.headers["Authorization"].endswith(
        "Signature=fef0505cc88d499e442220a83b10f7a7120ace31ea9779e04030e66cd9ee57e0"
    )


def _sdk_authorization(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
) -> str:
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
    return request.header_params["Authorization"]


SDK_CASES = [
    ("GET", f"/v2/{PID}/services/c-face-edge/tasks/53e4a0b1c2d3e4f5a6b7c8d9e0f1b55b", [], b""),
    ("GET", f"/v2/{PID}/services/c-face-edge/tasks/人脸 任务", [], b""),
    ("GET", f"/v2/{PID}/services/c-face-edge/tasks/a b+c~d_e.f", [], b""),
    (
        "GET",
        f"/v2/{PID}/services/c-face-edge/tasks",
        [("state", "RUNNING"), ("name_like", "lobby face/01"), ("limit", "10"), ("offset", "0")],
        b"",
    ),
    ("GET", f"/v2/{PID}/services/x/tasks", [("b", "2"), ("a", "z"), ("a", "y"), ("a", "é ü")], b""),
    ("POST", f"/v2/{PID}/services/c-face-edge/tasks/abc/start", [], b""),
    ("PUT", f"/v2/{PID}/services/c-face-edge/tasks/abc", [], b'{"name": "x"}'),
]


@pytest.mark.parametrize(("method", "path", "query", "body"), SDK_CASES)
@pytest.mark.parametrize("security_token", [None, "TEMPORARY-TOKEN-VALUE"])
def test_our_authorization_equals_the_sdks(method, path, query, body, security_token):
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "X-Project-Id": PID,
        "X-Sdk-Date": DATE,
    }
    if security_token:
        headers["X-Security-Token"] = security_token
    expected = _sdk_authorization(method, path, query, headers, body)
    qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    url = f"https://{HOST}{quote(path)}" + (f"?{qs}" if qs else "")
    ours = sign(method, url, {**headers, "Host": HOST}, body, AK, SK)
    assert ours == expected


def test_the_auth_repr_hides_secrets():
    auth = AkSkAuth("AKVISIBLEPART1234567", "SECRET-SK-VALUE", security_token="SECRET-TOKEN")
    text = repr(auth)
    assert "SECRET-SK-VALUE" not in text and "SECRET-TOKEN" not in text
    assert "AKVISIBLEPART1234567" not in text
    assert "SECRET-STATIC" not in repr(StaticTokenAuth("SECRET-STATIC"))


def _sdk_client(url: str, sk: str) -> SdkVasClient:
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.timeout = (3, 10)
    return (
        SdkVasClient.new_builder()
        .with_credentials(BasicCredentials(DEFAULT_AK, sk, DEFAULT_PROJECT_ID))
        .with_endpoints([url])
        .with_http_config(config)
        .build()
    )


@pytest.mark.integration
def test_the_official_sdk_is_accepted_by_the_simulator(simulator_server):
    client = _sdk_client(simulator_server.url, DEFAULT_SK)
    task = client.show_task(ShowTaskRequest(service_name="c-face-edge", task_id=SEED_TASK_ID))
    assert task.id == SEED_TASK_ID and task.state == "RUNNING"
    page = client.list_tasks_details(
        ListTasksDetailsRequest(service_name="c-face-edge", state="RUNNING", limit=2, offset=0)
    )
    assert page.count >= 2 and len(page.tasks) == 2


@pytest.mark.integration
def test_the_simulator_refuses_the_sdk_with_a_wrong_sk(simulator_server):
    client = _sdk_client(simulator_server.url, "WRONG-SECRET-KEY")
    with pytest.raises(ClientRequestException) as info:
        client.show_task(ShowTaskRequest(service_name="c-face-edge", task_id=SEED_TASK_ID))
    assert info.value.status_code == 401
    assert info.value.error_code == "APIGW.0301"
