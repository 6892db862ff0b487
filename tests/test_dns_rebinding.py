"""DNS rebinding: a resolver that answers a public address first and loopback afterwards must not
get the portal to call the loopback simulator, for VAS calls, IAM token requests and
notification URLs (through the public guard API).

The resolver is ``socket.getaddrinfo`` patched; the public address is fenced off (a connection
to it is refused, as a dead host would be), so no packet leaves the machine.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tasks.vas import (
    AddressPolicy,
    AkSkAuth,
    EndpointNotAllowed,
    IamPasswordAuth,
    Transport,
    UpstreamUnavailable,
    VasClient,
    VasError,
    guarded_session,
)
from vassim.simulator import (
    DEFAULT_AK,
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_PASSWORD,
    DEFAULT_IAM_USER,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    TASK_A_ID,
)

pytestmark = pytest.mark.integration

SVC = "c-face-edge"
PUBLIC = "121.36.0.1"  # a public address (Huawei Cloud's range); fenced off below
REBINDING = "rebind.myhuaweicloud.com"  # allowed by the ".myhuaweicloud.com" entry


class RebindingResolver:
    """Answers ``PUBLIC`` to the first ``honest`` lookups of ``REBINDING``, then 127.0.0.1."""

    def __init__(self, honest: int) -> None:
        self.honest = honest
        self.lookups = 0
        self.real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        if str(host).rstrip(".").lower() != REBINDING:
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        address = PUBLIC if self.lookups <= self.honest else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]


def _install(monkeypatch, honest: int) -> RebindingResolver:
    resolver = RebindingResolver(honest)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    real_connect = socket.socket.connect

    def fenced_connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] == PUBLIC:
            raise ConnectionRefusedError(111, "Connection refused (fenced in the test)")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", fenced_connect)
    return resolver


@pytest.fixture(params=[1, 2, 3], ids=lambda n: f"{n}-honest-answers")
def rebinding(request, monkeypatch) -> RebindingResolver:
    """The rebinding resolver, honest for the first 1, 2 or 3 lookups."""
    return _install(monkeypatch, request.param)


def _vas(port: int, **kwargs) -> VasClient:
    options: dict[str, Any] = {
        "endpoint": f"http://{REBINDING}:{port}",
        "project_id": DEFAULT_PROJECT_ID,
        "auth": AkSkAuth(DEFAULT_AK, DEFAULT_SK, project_id=DEFAULT_PROJECT_ID),
        "timeout": (1.0, 1.0),
        "allowed_hosts": [".myhuaweicloud.com"],
    }
    options.update(kwargs)
    return VasClient(**options)


def test_the_setup_would_reach_the_simulator_without_the_guard(simulator_server, monkeypatch):
    # Proves the resolver and the fence work: an unguarded client ends up on loopback (after
    # one honest answer, as the old resolve-then-connect guard would have consumed it).
    _install(monkeypatch, honest=1)
    fetched = _vas(simulator_server.port, allowed_hosts=None).show_task(SVC, TASK_A_ID)
    assert fetched.payload["id"] == TASK_A_ID
    assert simulator_server.simulator.count() >= 1


def test_a_rebinding_vas_endpoint_never_reaches_loopback(simulator_server, rebinding):
    with pytest.raises((EndpointNotAllowed, UpstreamUnavailable)):
        _vas(simulator_server.port).show_task(SVC, TASK_A_ID)
    assert simulator_server.simulator.count() == 0
    assert rebinding.lookups >= 1


def test_a_rebinding_iam_endpoint_never_reaches_loopback(simulator_server, vas_client, rebinding):
    auth = IamPasswordAuth(
        iam_endpoint=f"http://{REBINDING}:{simulator_server.port}",
        domain=DEFAULT_IAM_DOMAIN,
        user=DEFAULT_IAM_USER,
        password=DEFAULT_IAM_PASSWORD,
        project_id=DEFAULT_PROJECT_ID,
        allowed_hosts=[".myhuaweicloud.com"],
        timeout=(1.0, 1.0),
    )
    # The VAS itself is the listed loopback simulator; only its IAM endpoint rebinds.
    with pytest.raises(VasError):
        vas_client(auth=auth).show_task(SVC, TASK_A_ID)
    assert simulator_server.simulator.count("/v3/auth/tokens") == 0
    assert auth.fetch_count == 1


class _Receiver(BaseHTTPRequestHandler):
    hits: list[str]

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        self.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[str]]]:
    """A webhook receiver on 127.0.0.1: (port, paths it was posted to)."""
    hits: list[str] = []
    handler = type("Receiver", (_Receiver,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


NOTIFY = AddressPolicy(any_public_host=True, setting="PORTAL_NOTIFY_ALLOWED_HOSTS")


def test_a_rebinding_notification_url_never_reaches_loopback(receiver, rebinding):
    port, hits = receiver
    transport = Transport(policy=NOTIFY, peer="the notification target", timeout=(1.0, 1.0))
    with pytest.raises((EndpointNotAllowed, UpstreamUnavailable)):
        transport.request("POST", f"http://{REBINDING}:{port}/hook", json={"kind": "test"})
    with pytest.raises(EndpointNotAllowed):
        # The plain session of the same API, retries and all: every connection is judged.
        for _ in range(3):
            try:
                guarded_session(NOTIFY).post(f"http://{REBINDING}:{port}/hook", timeout=1)
            except OSError:
                continue  # the fenced public address, as requests reports it
    assert hits == []


def test_a_name_answering_public_and_loopback_at_once_is_refused(simulator_server, monkeypatch):
    def both(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, int(port))),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port))),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", both)
    with pytest.raises(EndpointNotAllowed):
        _vas(simulator_server.port).show_task(SVC, TASK_A_ID)
    assert simulator_server.simulator.count() == 0


def test_a_rebinding_webhook_channel_never_reaches_loopback(settings, receiver, rebinding):
    # The monitor's own sender: its pre-check resolves (honestly), the connection is judged anew.
    from tasks.services import notify

    settings.PORTAL_NOTIFY_ALLOWED_HOSTS = []  # any public host
    port, hits = receiver
    with pytest.raises(notify.NotifyRefused):
        notify._post_json(f"http://{REBINDING}:{port}/hook", {"event": {}}, {})
    assert hits == []
