"""The monitor's endpoints and pages × the cast; channel targets never leave the portal (not in a
response, not in the database in clear); the outbound address policy; the metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tasks.models import AuditEvent, Channel, TrackedTask
from tasks.services.channels import InvalidChannel, channel_create
from tasks.services.notify import NotifyRefused, url_check
from tasks.services.polling import poll_service
from tasks.services.task_fetch import task_fetch
from tests.api_fixtures import ROLES, assert_error, assert_no_secrets
from vassim.simulator import DEFAULT_AK, DEFAULT_SK, SEED_TASK_ID

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

OK, DENIED, HIDDEN = "ok", 403, 404
SVC = "c-face-edge"
TASK = f"/api/v1/projects/{{project}}/services/{SVC}/tasks/{SEED_TASK_ID}/"
HOOK_SECRET = "hook-path-secret-0123456789"
HEADER_SECRET = "Bearer header-secret-value-42"
DINGTALK_SECRET = "dingtalktokensecret9876543210abcdef3f9a"
MONITOR_SECRETS = (HOOK_SECRET, HEADER_SECRET, DINGTALK_SECRET)

ENDPOINTS = [
    ("channels", "get", "/api/v1/projects/{project}/channels/", None, 200, "member"),
    (
        "channels-create",
        "post",
        "/api/v1/projects/{project}/channels/",
        {"name": "new", "kind": "apprise", "target": "feishu://" + "f" * 24 + "/"},
        201,
        "admin",
    ),
    ("channel", "get", "/api/v1/projects/{project}/channels/{channel}/", None, 200, "member"),
    (
        "channel-patch",
        "patch",
        "/api/v1/projects/{project}/channels/{channel}/",
        {"enabled": False},
        200,
        "admin",
    ),
    (
        "channel-delete",
        "delete",
        "/api/v1/projects/{project}/channels/{channel}/",
        None,
        204,
        "admin",
    ),
    (
        "channel-test",
        "post",
        "/api/v1/projects/{project}/channels/{channel}/test/",
        None,
        200,
        "admin",
    ),
    ("events", "get", "/api/v1/projects/{project}/events/", None, 200, "member"),
    ("mute", "put", TASK + "mute/", "mute", 200, "admin"),
    ("unmute", "delete", TASK + "mute/", None, 204, "admin"),
]

EXPECTED = {
    "superuser": {"member": OK, "admin": OK},
    "admin": {"member": OK, "admin": OK},
    "viewer": {"member": OK, "admin": DENIED},
    "outsider": {"member": HIDDEN, "admin": HIDDEN},
}


@pytest.fixture
def monitored(sim_project, simulator, receiver, settings):
    """The seed task watched and flipped (an event with a delivery), a webhook channel with a
    secret path and header, and a DingTalk channel."""
    settings.PORTAL_NOTIFY_ALLOWED_HOSTS = ["127.0.0.1", "oapi.dingtalk.com", "open.feishu.cn"]
    task_fetch(project=sim_project, service=SVC, task_id=SEED_TASK_ID)
    TrackedTask.objects.update(watched=True)
    hook = channel_create(
        actor=None,
        project=sim_project,
        fields={"name": "hook", "kind": "webhook"},
        target=f"{receiver.url}/{HOOK_SECRET}",
        headers={"Authorization": HEADER_SECRET},
    )
    channel_create(
        actor=None,
        project=sim_project,
        fields={"name": "dingtalk", "kind": "apprise", "severities": ["info"]},
        target=f"dingtalk://{DINGTALK_SECRET}/",
    )
    simulator.set_state(SEED_TASK_ID, "ABNORMAL")
    poll_service(project=sim_project, service=SVC)
    return hook


def _assert_no_monitor_secrets(response) -> None:
    assert_no_secrets(response, extra=(DEFAULT_AK, DEFAULT_SK, *MONITOR_SECRETS))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "path", "body", "success", "who"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_it_answers_each_monitor_endpoint_by_role(
    api, sim_project, monitored, role, name, method, path, body, success, who
):
    url = path.format(project=sim_project.public_id, channel=monitored.pk)
    if body == "mute":
        body = {"until": (timezone.now() + timedelta(hours=2)).isoformat()}
    kwargs = {"content_type": "application/json"} if method in ("post", "put", "patch") else {}
    if body is not None:
        kwargs["data"] = body
    response = getattr(api(role), method)(url, **kwargs)
    if role in ("anonymous", "expired", "revoked"):
        assert_error(response, 401)
    else:
        expected = EXPECTED[role][who]
        if expected == OK:
            assert response.status_code == success, response.content[:500]
        else:
            assert_error(
                response, expected, "permission_denied" if expected == 403 else "not_found"
            )
    _assert_no_monitor_secrets(response)


@pytest.mark.parametrize("role", ["superuser", "admin", "viewer", "outsider"])
def test_the_monitor_pages_answer_by_role_and_show_no_secret(
    client, cast, password, sim_project, monitored, role
):
    client.force_login(cast[role])
    base = f"/projects/{sim_project.public_id}"
    task_page = f"{base}/services/{SVC}/tasks/{SEED_TASK_ID}/"
    pages = {
        f"{base}/channels/": 200,
        f"{base}/events/": 200,
        f"{base}/events/?severity=problem&kind=state_changed": 200,
        task_page: 200,
        f"{base}/channels/{monitored.pk}/edit/": 200 if role in ("superuser", "admin") else 403,
    }
    for url, status in pages.items():
        response = client.get(url)
        expected = 404 if role == "outsider" else status
        assert response.status_code == expected, (url, response.status_code)
        _assert_no_monitor_secrets(response)
    writes = [
        (f"{base}/channels/", {"name": "x", "kind": "email", "target": "a@example.com"}),
        (f"{base}/channels/{monitored.pk}/test/", {}),
        (f"{base}/channels/{monitored.pk}/delete/", {}),
        (task_page + "mute/", {"seconds": "3600"}),
    ]
    for url, data in writes:
        response = client.post(url, data)
        if role == "outsider":
            assert response.status_code == 404, url
        elif role == "viewer":
            assert response.status_code == 403, url
        else:
            assert response.status_code == 302, (url, response.status_code)
        _assert_no_monitor_secrets(response)


def test_a_viewer_sees_channel_names_and_kinds_only(client, cast, sim_project, monitored):
    client.force_login(cast["viewer"])
    page = client.get(f"/projects/{sim_project.public_id}/channels/").content.decode()
    assert "hook" in page and "dingtalk" in page
    assert "://…" not in page and 'id="channel-form"' not in page
    client.force_login(cast["admin"])
    page = client.get(f"/projects/{sim_project.public_id}/channels/").content.decode()
    assert "dingtalk://…3f9a" in page and 'id="channel-form"' in page


def test_the_api_shows_hints_and_events_with_their_deliveries(api, sim_project, monitored):
    channels = api("viewer").get(f"/api/v1/projects/{sim_project.public_id}/channels/").json()
    by_name = {c["name"]: c for c in channels["results"]}
    assert by_name["dingtalk"]["target_hint"] == "dingtalk://…3f9a"
    assert by_name["hook"]["has_headers"] is True and "target" not in by_name["hook"]
    events = api("viewer").get(
        f"/api/v1/projects/{sim_project.public_id}/events/?severity=problem&task_id={SEED_TASK_ID}"
    )
    (event,) = events.json()["results"]
    assert (event["kind"], event["from"], event["to"]) == ("state_changed", "RUNNING", "ABNORMAL")
    assert event["notifications"] == [
        {"channel": "hook", "status": "pending", "attempts": 0, "sent_at": None, "last_error": ""}
    ]
    bad = api("viewer").get(f"/api/v1/projects/{sim_project.public_id}/events/?kind=nope")
    assert_error(bad, 400, "invalid")


def test_a_mute_beyond_thirty_days_is_400(api, sim_project, monitored):
    url = TASK.format(project=sim_project.public_id) + "mute/"
    until = (timezone.now() + timedelta(days=31)).isoformat()
    response = api("admin").put(url, data={"until": until}, content_type="application/json")
    assert_error(response, 400)


def test_channel_targets_are_encrypted_in_the_database_and_kept_out_of_the_audit(
    sim_project, monitored, transactional_db
):
    audit = repr(list(AuditEvent.objects.values_list("details", flat=True)))
    assert not any(secret in audit for secret in MONITOR_SECRETS)
    for channel in Channel.objects.all():
        assert HOOK_SECRET not in channel.target_enc and DINGTALK_SECRET not in channel.target_enc
    if connection.vendor == "sqlite":
        data = open(connection.settings_dict["NAME"], "rb").read()  # noqa: SIM115
        for secret in MONITOR_SECRETS:
            assert secret.encode() not in data
    with connection.cursor() as cursor:
        for table in ("tasks_channel", "tasks_notification", "tasks_taskevent", "tasks_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own table names
            text = repr(cursor.fetchall())
            for secret in MONITOR_SECRETS:
                assert secret not in text, table


# ---- the address policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",  # a name that resolves to a loopback address
        "json://10.0.0.1/hook",
        "ftp://example.com/hook",
    ],
)
def test_a_channel_target_at_a_private_address_is_refused(api, project, settings, target):
    settings.PORTAL_NOTIFY_ALLOWED_HOSTS = []
    kind = "apprise" if target.startswith("json") else "webhook"
    response = api("admin").post(
        f"/api/v1/projects/{project.public_id}/channels/",
        data={"name": "bad", "kind": kind, "target": target},
        content_type="application/json",
    )
    error = assert_error(response, 400, "invalid_channel")
    assert "/hook" not in error["message"] and not Channel.objects.exists()


def test_an_unlisted_host_is_refused_when_the_list_is_set(settings):
    settings.PORTAL_NOTIFY_ALLOWED_HOSTS = [".example.org"]
    with pytest.raises(NotifyRefused):
        url_check("https://hooks.example.com/x")


def test_a_redirect_from_an_allowed_host_to_a_private_one_is_not_followed(sim_project, receiver):
    channel = channel_create(
        actor=None,
        project=sim_project,
        fields={"name": "hook", "kind": "webhook"},
        target=f"{receiver.url}/hook",
    )
    receiver.redirect = "http://10.0.0.1/internal"
    from tasks.services.channels import channel_test

    ok, message = channel_test(actor=None, channel=channel)
    assert not ok and "10.0.0.1" in message
    assert len(receiver.requests) == 1  # the allowed host only; 10.0.0.1 was never contacted


def test_a_bad_channel_field_is_invalid_channel(project):
    with pytest.raises(InvalidChannel):
        channel_create(
            actor=None,
            project=project,
            fields={"name": "x", "kind": "email", "severities": ["loud"]},
            target="a@example.com",
        )


# ---- metrics -------------------------------------------------------------------------------------


def test_metrics_name_the_visible_projects_tasks_only(api, sim_project, project, monitored):
    response = api("viewer").get("/api/v1/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert (
        f'vasportal_task_up{{project="Simulated",service="{SVC}",state="ABNORMAL",'
        f'task_id="{SEED_TASK_ID}",task_name="人脸提取-T4M-edge-0"}} 0.0'
    ) in text
    assert "vasportal_task_last_fetched_timestamp_seconds{" in text
    assert 'vasportal_project_upstream_failing{project="Simulated"} 0.0' in text
    assert 'vasportal_notifications_total{project="Simulated",status="pending"} 1.0' in text
    assert "vasportal_poll_lag_seconds" in text
    outsider = api("outsider").get("/api/v1/metrics").content.decode()
    assert "Simulated" not in outsider
    assert_error(api("anonymous").get("/api/v1/metrics"), 401)
    _assert_no_monitor_secrets(response)


def test_a_refused_apprise_host_is_never_named_nor_logged():
    # In many Apprise URLs the "host" is a token: a refusal must not echo it.
    import logging

    from tasks.errors import error_text
    from tasks.services.notify import apprise_check

    class Lines(logging.Handler):
        text = ""

        def emit(self, record):
            Lines.text += self.format(record) + "\n"

    console = Lines()  # what the portal's log (the root logger's handlers) would get
    logging.getLogger().addHandler(console)

    with pytest.raises(NotifyRefused) as refused:
        apprise_check("json://t1secretaaa.invalid/")
    assert refused.value.reason == "apprise_host"
    assert "t1secretaaa" not in error_text(refused.value) + repr(refused.value.params)
    with pytest.raises(NotifyRefused):
        apprise_check("msteams://ABCSECRET@DEFSECRET/")  # unparseable: Apprise logs the URL
    logging.getLogger().removeHandler(console)
    assert "ABCSECRET" not in Lines.text


def test_a_bad_mute_choice_changes_nothing_and_unmute_needs_its_button(client, alice, sim_project):
    task_fetch(project=sim_project, service=SVC, task_id=SEED_TASK_ID)
    url = f"/projects/{sim_project.public_id}/services/{SVC}/tasks/{SEED_TASK_ID}/mute/"
    client.force_login(alice)
    assert client.post(url, {"seconds": "3600"}).status_code == 302
    task = TrackedTask.objects.get(project=sim_project, task_id=SEED_TASK_ID)
    muted_until = task.muted_until
    assert muted_until is not None
    assert client.post(url, {"seconds": "999"}).status_code == 302  # not a choice
    task.refresh_from_db()
    assert task.muted_until == muted_until
    assert client.post(url, {"unmute": "1"}).status_code == 302
    task.refresh_from_db()
    assert task.muted_until is None
