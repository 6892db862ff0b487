"""The one outbound transport: the address policy, the connect-time guard, and IAM held to the
same caps, deadline and retries as the VAS (mocked with ``responses`` and against the live
simulator over a socket)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from tasks.errors import CATALOGUE
from tasks.vas import (
    AddressPolicy,
    AkSkAuth,
    EndpointNotAllowed,
    IamPasswordAuth,
    Transport,
    UpstreamAuthFailed,
    UpstreamInvalidResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    VasClient,
    guarded_session,
)
from tasks.vas.auth import IAM_MAX_BODY_BYTES, IAM_REASONS
from tasks.vas.transport import REASONS
from tests.api_fixtures import assert_error, token_client, token_for
from tests.helpers import record_connects, resolve_to
from vassim.simulator import (
    DEFAULT_AK,
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_PASSWORD,
    DEFAULT_IAM_USER,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    TASK_A_ID,
    gzip_bomb,
)

SVC = "c-face-edge"
TASK_PATH = f"/v2/{DEFAULT_PROJECT_ID}/services/{SVC}/tasks/{TASK_A_ID}"
IAM_PATH = "/v3/auth/tokens"
MIB = 1024 * 1024


# ---------------------------------------------------------------------------- the policy

UPSTREAM = AddressPolicy(allowed_hosts=(".myhuaweicloud.com", "127.0.0.1", "localhost"))


@pytest.mark.parametrize(
    ("host", "address", "allowed"),
    [
        ("iva.cn-north-4.myhuaweicloud.com", "121.36.0.1", True),
        ("iva.cn-north-4.myhuaweicloud.com", "127.0.0.1", False),
        ("iva.cn-north-4.myhuaweicloud.com", "10.0.0.8", False),
        ("iva.cn-north-4.myhuaweicloud.com", "100.64.0.1", False),  # carrier-grade NAT
        ("iva.cn-north-4.myhuaweicloud.com", "::ffff:127.0.0.1", False),  # mapped loopback
        ("iva.cn-north-4.myhuaweicloud.com", "64:ff9b::a9fe:a9fe", False),  # NAT64 metadata
        ("iva.cn-north-4.myhuaweicloud.com", "2002:7f00:1::", False),  # 6to4 loopback
        ("iva.cn-north-4.myhuaweicloud.com", "224.0.0.1", False),
        ("127.0.0.1", "127.0.0.1", True),
        ("localhost", "::1", True),
        ("localhost", "10.0.0.8", False),
    ],
)
def test_the_policy_lets_only_public_addresses_or_listed_literals_through(host, address, allowed):
    assert UPSTREAM.address_allowed(host, ipaddress.ip_address(address)) is allowed


def test_a_public_name_listed_exactly_still_never_reaches_a_private_address():
    policy = AddressPolicy(allowed_hosts=("iva.cn-north-4.myhuaweicloud.com",))
    assert not policy.address_allowed(
        "iva.cn-north-4.myhuaweicloud.com", ipaddress.ip_address("127.0.0.1")
    )


def test_the_metadata_address_is_refused_even_when_listed():
    policy = AddressPolicy(allowed_hosts=("169.254.169.254",))
    with pytest.raises(EndpointNotAllowed):
        policy.check_address("169.254.169.254", "169.254.169.254")


def test_a_listed_private_literal_may_be_called():
    policy = AddressPolicy(allowed_hosts=("10.0.0.8",))
    policy.check_address("10.0.0.8", "10.0.0.8")
    with pytest.raises(EndpointNotAllowed):
        policy.check_address("10.0.0.8", "10.0.0.9")


def test_a_listed_network_opens_its_addresses_to_allowed_hosts_only():
    policy = AddressPolicy(allowed_hosts=("hooks.corp.example", "10.20.0.0/16", "169.254.0.0/16"))
    policy.check_address("hooks.corp.example", "10.20.3.4")
    with pytest.raises(EndpointNotAllowed):
        policy.check_address("hooks.corp.example", "10.21.0.1")  # outside the network
    with pytest.raises(EndpointNotAllowed):
        policy.check_url("https://other.example/hook")  # the host itself is not listed
    with pytest.raises(EndpointNotAllowed):
        policy.check_address("hooks.corp.example", "169.254.169.254")  # metadata, listed or not


def test_a_notification_policy_takes_any_public_host_but_no_private_address():
    policy = AddressPolicy(any_public_host=True, setting="PORTAL_NOTIFY_ALLOWED_HOSTS")
    policy.check_url("https://hooks.example.com/abc")
    policy.check_address("hooks.example.com", "93.184.216.34")
    with pytest.raises(EndpointNotAllowed):
        policy.check_address("hooks.example.com", "192.168.1.10")
    with pytest.raises(EndpointNotAllowed):
        policy.check_url("ftp://hooks.example.com/abc")


def test_a_host_off_the_list_names_the_setting():
    policy = AddressPolicy(allowed_hosts=(".example.org",), setting="PORTAL_NOTIFY_ALLOWED_HOSTS")
    with pytest.raises(EndpointNotAllowed) as info:
        policy.check_url("https://evil.example.com/hook")
    assert info.value.reason == "not_listed"
    assert info.value.params == {
        "host": "evil.example.com",
        "setting": "PORTAL_NOTIFY_ALLOWED_HOSTS",
    }


# ---------------------------------------------------------------- the guard at connect time


@pytest.fixture
def connects(monkeypatch) -> list[object]:
    """Every address a socket connects to (the real connect still runs)."""
    return record_connects(monkeypatch)


def test_a_refused_address_is_never_connected_to(monkeypatch, connects):
    resolve_to(monkeypatch, "10.1.2.3")
    client = VasClient(
        endpoint="https://iva.cn-north-4.myhuaweicloud.com",
        project_id="p1",
        auth=AkSkAuth("AKAKAKAKAKAK", "SKSKSKSKSKSK"),
        allowed_hosts=[".myhuaweicloud.com"],
    )
    with pytest.raises(EndpointNotAllowed):
        client.show_task(SVC, "a" * 32)
    assert connects == []


def test_the_guarded_session_calls_an_allowed_loopback_address(simulator_server, connects):
    session = guarded_session(AddressPolicy(allowed_hosts=("127.0.0.1",)))
    answer = session.get(f"{simulator_server.url}/v2/x/services/{SVC}/tasks", timeout=3)
    assert answer.status_code == 401  # reached the simulator, which wants a signature
    assert connects and all(address[0] == "127.0.0.1" for address in connects)


def test_the_guarded_session_refuses_loopback_for_a_notification_policy(simulator_server):
    session = guarded_session(AddressPolicy(any_public_host=True))
    with pytest.raises(EndpointNotAllowed):
        session.post(f"{simulator_server.url}/hook", json={}, timeout=3)
    assert simulator_server.simulator.count() == 0


def test_the_guarded_session_does_not_follow_redirects(simulator, simulator_server):
    simulator.set_fault(TASK_A_ID, "redirect")
    session = guarded_session(AddressPolicy(allowed_hosts=("127.0.0.1",)))
    answer = session.get(simulator_server.url + TASK_PATH, timeout=3)
    assert answer.status_code == 302 and "169.254.169.254" in answer.headers["Location"]


def test_a_transport_answers_any_status_within_its_caps(simulator_server):
    transport = Transport(
        policy=AddressPolicy(allowed_hosts=("127.0.0.1",)), peer="the notification target"
    )
    answer = transport.request("POST", f"{simulator_server.url}/hook", json={"a": 1})
    assert answer.status == 404 and b"APIGW.0101" in answer.body


# ------------------------------------------------------------------ IAM, mocked (responses)

IAM = "https://iam.cn-north-4.myhuaweicloud.com"


def _iam(endpoint: str, **kwargs) -> IamPasswordAuth:
    options: dict[str, Any] = {
        "iam_endpoint": endpoint,
        "domain": DEFAULT_IAM_DOMAIN,
        "user": DEFAULT_IAM_USER,
        "password": DEFAULT_IAM_PASSWORD,
        "project_id": DEFAULT_PROJECT_ID,
        "allowed_hosts": [".myhuaweicloud.com", "127.0.0.1"],
        "timeout": (2.0, 2.0),
    }
    options.update(kwargs)
    return IamPasswordAuth(**options)


@responses.activate
def test_iam_off_the_allowed_list_is_refused_before_anything_is_sent():
    auth = _iam("https://iam.attacker.example", allowed_hosts=[".myhuaweicloud.com"])
    with pytest.raises(EndpointNotAllowed):
        auth.get_token()
    assert len(responses.calls) == 0


@responses.activate
def test_an_iam_answer_over_the_cap_is_refused():
    responses.post(
        f"{IAM}/v3/auth/tokens",
        status=201,
        headers={"X-Subject-Token": "T"},
        body=b'{"token": {"pad": "' + b"x" * (IAM_MAX_BODY_BYTES + 10) + b'"}}',
    )
    with pytest.raises(UpstreamInvalidResponse) as info:
        _iam(IAM).get_token()
    assert info.value.reason == "iam_unusable"
    assert info.value.params == {"max_mib": "0.25"}


@responses.activate
def test_a_huge_iam_error_body_is_cut_and_never_echoes_the_password():
    body = (f'{{"error": {{"message": "bad {DEFAULT_IAM_PASSWORD}"}}, "pad": "').encode()
    responses.post(f"{IAM}/v3/auth/tokens", status=401, body=body + b"y" * (4 * MIB) + b'"}')
    with pytest.raises(UpstreamAuthFailed) as info:
        _iam(IAM).get_token()
    assert DEFAULT_IAM_PASSWORD not in str(info.value) + str(info.value.error_msg)


# ------------------------------------------------------------ IAM against the live simulator


@pytest.fixture
def bounded() -> Iterator[Callable[[], tuple[float, int]]]:
    """Measures a block's time and peak Python memory: ``elapsed, peak = done()``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.monotonic()

    def done() -> tuple[float, int]:
        return time.monotonic() - started, tracemalloc.get_traced_memory()[1]

    yield done
    tracemalloc.stop()


def _iam_client(vas_client, simulator_server, **iam_kwargs) -> VasClient:
    return vas_client(auth=_iam(simulator_server.url, **iam_kwargs), timeout=(2.0, 2.0))


@pytest.fixture
def built_bomb() -> None:
    """The simulator builds its gzip bomb once, in this process: not inside the measurement."""
    gzip_bomb()


def test_a_gzip_bomb_from_iam_is_refused_in_bounded_memory(
    simulator, simulator_server, vas_client, built_bomb, bounded
):
    simulator.set_fault("iam", "gzip_bomb")
    with pytest.raises(UpstreamInvalidResponse):
        _iam_client(vas_client, simulator_server).show_task(SVC, TASK_A_ID)
    elapsed, peak = bounded()
    assert elapsed < 2.0 and peak < 8 * MIB
    assert simulator.count(IAM_PATH) == 1 and simulator.count(TASK_PATH) == 0


def test_a_huge_iam_error_body_costs_neither_memory_nor_time(
    simulator, simulator_server, vas_client, bounded
):
    simulator.set_fault("iam", "huge_error")  # a 500 with 200 MiB of body, every time
    with pytest.raises(UpstreamUnavailable) as info:
        _iam_client(vas_client, simulator_server).show_task(SVC, TASK_A_ID)
    elapsed, peak = bounded()
    assert info.value.status == 500
    assert elapsed < 3.0 and peak < 8 * MIB
    assert simulator.count(IAM_PATH) == 3  # retried twice, like a VAS GET, never drained


def test_a_trickling_iam_answer_ends_at_the_deadline(simulator, simulator_server, vas_client):
    simulator.set_fault("iam", "trickle", seconds=0.05)
    client = vas_client(auth=_iam(simulator_server.url, deadline=0.8), timeout=(1.0, 0.5))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        client.show_task(SVC, TASK_A_ID)
    assert time.monotonic() - started < 1.5
    assert simulator.count(TASK_PATH) == 0


def test_a_slow_iam_is_bounded_by_the_vas_calls_deadline(simulator, simulator_server, vas_client):
    simulator.set_fault("iam", "delay", seconds=3.0, times=1)
    client = vas_client(auth=_iam(simulator_server.url, timeout=(1.0, 5.0)), deadline=0.7)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        client.show_task(SVC, TASK_A_ID)
    assert time.monotonic() - started < 1.5


def test_a_failing_iam_is_retried_like_a_vas_read(simulator, simulator_server, vas_client):
    simulator.set_fault("iam", "503", times=1)
    auth = _iam(simulator_server.url)
    assert vas_client(auth=auth).show_task(SVC, TASK_A_ID).payload["id"] == TASK_A_ID
    assert simulator.count(IAM_PATH) == 2 and auth.fetch_count == 1


def test_iam_at_an_unlisted_loopback_address_is_refused(simulator, simulator_server, vas_client):
    # A project admin (or the Django admin) saved a loopback IAM endpoint that is not listed.
    auth = _iam(simulator_server.url, allowed_hosts=[".myhuaweicloud.com"])
    with pytest.raises(EndpointNotAllowed):
        vas_client(auth=auth).show_task(SVC, TASK_A_ID)
    assert simulator.count(IAM_PATH) == 0


# ----------------------------------------------------------------- VAS error bodies, live


def test_a_huge_vas_error_body_costs_neither_memory_nor_time(simulator, vas_client, bounded):
    simulator.set_fault(TASK_A_ID, "huge_error")
    with pytest.raises(UpstreamUnavailable) as info:
        vas_client().show_task(SVC, TASK_A_ID)
    elapsed, peak = bounded()
    assert info.value.status == 500
    assert elapsed < 3.0 and peak < 8 * MIB
    assert simulator.count(TASK_PATH) == 3


def test_the_aksk_client_still_signs_through_the_guarded_transport(simulator_server):
    client = VasClient(
        endpoint=simulator_server.url,
        project_id=DEFAULT_PROJECT_ID,
        auth=AkSkAuth(DEFAULT_AK, DEFAULT_SK, project_id=DEFAULT_PROJECT_ID),
        allowed_hosts=["127.0.0.1"],
    )
    assert client.show_task(SVC, TASK_A_ID).payload["id"] == TASK_A_ID


# ------------------------------------------------------------------ worded by the catalogue


@pytest.mark.parametrize("renames", [{}, IAM_REASONS], ids=["vas", "iam"])
def test_every_transport_failure_reason_is_worded_in_the_catalogue(renames):
    for reason, cls in REASONS.items():
        named = renames.get(reason, reason)
        if named != "timeout":  # the code's general message
            assert named in CATALOGUE[cls.code].reasons, (reason, named, cls.code)


# ------------------------------------------------------------- TLS through the guarded socket


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for "localhost" and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_still_checks_the_host_name_and_sends_it_as_sni_and_host(tmp_path):
    cert_path, key_path = _self_signed(tmp_path)
    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
            seen["host"] = self.headers["Host"]
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda sock, name, ctx: seen.__setitem__("sni", name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        port = server.server_address[1]
        session = guarded_session(AddressPolicy(allowed_hosts=("localhost",)))
        answer = session.get(f"https://localhost:{port}/", verify=str(cert_path), timeout=3)
        assert answer.status_code == 204
        assert seen == {"sni": "localhost", "host": f"localhost:{port}"}
        with pytest.raises(requests.exceptions.SSLError):  # the name is checked, not the address
            guarded_session(AddressPolicy(allowed_hosts=("127.0.0.1",))).get(
                f"https://127.0.0.1:{port}/", verify=str(cert_path), timeout=3
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ------------------------------------------------- a hostile IAM, as the API's caller sees it


@pytest.fixture
def iam_project(db, alice, bob, simulator_server):
    """A password project whose VAS and IAM are the live simulator: alice admin, bob viewer."""
    from tasks.models import Membership, Role
    from tasks.services.projects import project_create

    project = project_create(
        actor=alice,
        fields={
            "name": "IAM over the simulator",
            "region": "cn-north-4",
            "upstream_project_id": DEFAULT_PROJECT_ID,
            "endpoint": simulator_server.url,
            "iam_endpoint": simulator_server.url,
            "auth_type": "password",
            "iam_domain": DEFAULT_IAM_DOMAIN,
            "iam_user": DEFAULT_IAM_USER,
        },
        secrets={"iam_password": DEFAULT_IAM_PASSWORD},
    )
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    return project


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("gzip_bomb", 502, "upstream_invalid_response"),
        ("huge_error", 503, "upstream_unavailable"),
        ("trickle", 504, "upstream_timeout"),
    ],
)
def test_a_hostile_iam_is_the_contracts_json_error_in_bounded_time(
    settings, iam_project, bob, simulator, built_bomb, mode, status, code
):
    settings.PORTAL_UPSTREAM_TIMEOUT = (1.0, 0.5)  # a deadline of 3.5 s for the whole call
    simulator.set_fault("iam", mode, seconds=0.05)
    client = token_client(token_for(bob))
    url = f"/api/v1/projects/{iam_project.public_id}/services/{SVC}/tasks/{TASK_A_ID}/"
    started = time.monotonic()
    response = client.get(url)
    assert time.monotonic() - started < 5.0
    error = assert_error(response, status, code)
    assert DEFAULT_IAM_PASSWORD not in response.content.decode()
    assert error["code"] == code and simulator.count(TASK_PATH) == 0


def test_no_retry_methods_means_no_status_retries(simulator_server, simulator):
    simulator.set_fault("*", "500")
    session = guarded_session(AddressPolicy(allowed_hosts=("127.0.0.1",)), retry_methods=())
    answer = session.get(simulator_server.url + TASK_PATH, timeout=3)
    assert answer.status_code == 500 and simulator.count(TASK_PATH) == 1
