"""The monitor: batched polls against the live simulator, events, notifications to real local
receivers, mute, retries, the upstream failing and recovering."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from tasks.models import (
    Channel,
    CloudProject,
    Notification,
    PollSchedule,
    TaskEvent,
    TaskSnapshot,
    TrackedTask,
)
from tasks.services.channels import channel_create, channel_test
from tasks.services.events import state_severity
from tasks.services.notify import deliveries_due, notification_deliver
from tasks.services.polling import poll_service, schedules_claim_due, schedules_ensure
from tasks.services.snapshots import snapshot_record
from tasks.services.task_fetch import task_fetch
from tasks.services.watch import task_mute
from tests.helpers import run_concurrently
from vassim.simulator import SEED_TASK_ID, TASK_A_ID

SERVICE = "c-face-edge"


def watch(project: CloudProject, *task_ids: str, service: str = SERVICE) -> None:
    for task_id in task_ids:
        task_fetch(project=project, service=service, task_id=task_id)
    TrackedTask.objects.filter(project=project, task_id__in=task_ids).update(watched=True)
    simulator_counts_reset()


def simulator_counts_reset() -> None:
    from tests.vas_fixtures import _simulator_session  # noqa: F401 - the session's server

    for server in _SERVERS:
        server.simulator.reset_counts()


_SERVERS: list = []


@pytest.fixture(autouse=True)
def _remember_simulator(_simulator_session):
    _SERVERS[:] = [_simulator_session]


def webhook(project: CloudProject, receiver, name: str = "hook", **fields) -> Channel:
    return channel_create(
        actor=None,
        project=project,
        fields={"name": name, "kind": "webhook", **fields},
        target=f"{receiver.url}/{name}",
    )


def deliver_all() -> int:
    sent = 0
    for pk, _due in deliveries_due():
        result = notification_deliver(notification_id=pk)
        sent += bool(result and result.status == "sent")
    return sent


def poll(project: CloudProject, service: str = SERVICE):
    return poll_service(project=project, service=service)


# ---- severities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "open_problem", "severity"),
    [
        ("RUNNING", "ABNORMAL", False, "problem"),
        ("RUNNING", "STOPPED", False, "problem"),
        ("STOPPING", "STOPPED", False, "info"),
        ("PENDING", "FROZEN", False, "problem"),
        ("ABNORMAL", "RUNNING", True, "recovery"),
        ("FAILED", "SUCCEEDED", True, "recovery"),
        ("PENDING", "RUNNING", False, "info"),
        ("RUNNING", "STOPPING", False, "info"),
    ],
)
def test_a_state_change_has_the_contracts_severity(before, after, open_problem, severity):
    assert state_severity(before, after, open_problem=open_problem) == severity


# ---- events --------------------------------------------------------------------------------------


def test_the_first_fetch_of_a_task_records_no_event(sim_project, simulator):
    task_fetch(project=sim_project, service=SERVICE, task_id=SEED_TASK_ID)
    assert not TaskEvent.objects.exists()


def test_an_abnormal_flip_yields_one_problem_notification_per_channel(
    sim_project, simulator, receiver
):
    watch(sim_project, SEED_TASK_ID)
    webhook(sim_project, receiver, "one")
    channel_create(
        actor=None,
        project=sim_project,
        fields={"name": "apprise", "kind": "apprise", "language": "zh-hans"},
        target=f"json://127.0.0.1:{receiver.port}/apprise",
    )
    simulator.set_state(
        SEED_TASK_ID, "ABNORMAL", status="Stream lost.", error={"code": "ALG.002", "message": "x"}
    )
    outcome = poll(sim_project)
    assert outcome.changed == 1 and simulator.operations == {"ListTasksDetails": 1}
    poll(sim_project)  # seen again: no new event
    event = TaskEvent.objects.get()
    assert (event.kind, event.severity, event.from_state, event.to_state) == (
        "state_changed",
        "problem",
        "RUNNING",
        "ABNORMAL",
    )
    assert Notification.objects.count() == 2
    assert deliver_all() == 2 and deliver_all() == 0
    (hook,) = receiver.bodies("/one")
    assert set(hook) == {"event"}
    assert set(hook["event"]) == {
        "id",
        "kind",
        "severity",
        "task",
        "from",
        "to",
        "changes",
        "seen_at",
        "problem_since",
        "problem_seconds",
        "url",
    }
    assert hook["event"]["task"] == {
        "project": str(sim_project.public_id),
        "service": SERVICE,
        "id": SEED_TASK_ID,
        "name": "人脸提取-T4M-edge-0",
    }
    assert hook["event"]["url"] == (
        f"http://portal.example/projects/{sim_project.public_id}/services/{SERVICE}"
        f"/tasks/{SEED_TASK_ID}/"
    )
    (apprise_body,) = receiver.bodies("/apprise")
    # Apprise's JSON: the message in the channel's language, with the change and the error.
    assert "RUNNING → ABNORMAL" in apprise_body["title"]
    assert "状态" in apprise_body["message"] and "ALG.002" in apprise_body["message"]
    assert "http://portal.example/projects/" in apprise_body["message"]


def test_flipping_back_yields_one_recovery_with_how_long_the_problem_lasted(
    sim_project, simulator, receiver
):
    watch(sim_project, SEED_TASK_ID)
    webhook(sim_project, receiver)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        simulator.set_state(SEED_TASK_ID, "ABNORMAL")
        poll(sim_project)
    with time_machine.travel(start + timedelta(minutes=7, seconds=5), tick=False):
        simulator.set_state(SEED_TASK_ID, "RUNNING")
        poll(sim_project)
        assert deliver_all() == 2
    recovery = TaskEvent.objects.get(severity="recovery")
    assert recovery.problem_seconds == 425
    assert recovery.problem_since == TaskEvent.objects.get(severity="problem").seen_at
    bodies = receiver.bodies("/hook")
    assert [b["event"]["severity"] for b in bodies] == ["problem", "recovery"]
    assert bodies[1]["event"]["problem_seconds"] == 425


def test_a_muted_task_records_its_events_and_sends_nothing(sim_project, simulator, receiver):
    watch(sim_project, SEED_TASK_ID)
    webhook(sim_project, receiver)
    task_mute(
        actor=None,
        project=sim_project,
        service=SERVICE,
        task_id=SEED_TASK_ID,
        until=timezone.now() + timedelta(hours=1),
    )
    simulator.set_state(SEED_TASK_ID, "ABNORMAL")
    poll(sim_project)
    assert TaskEvent.objects.filter(severity="problem").count() == 1
    assert not Notification.objects.exists() and deliver_all() == 0


def test_a_mute_reaches_at_most_thirty_days(sim_project, simulator):
    from tasks.errors import PortalError

    watch(sim_project, SEED_TASK_ID)
    for until in (timezone.now() + timedelta(days=31), timezone.now() - timedelta(minutes=1)):
        with pytest.raises(PortalError):
            task_mute(
                actor=None, project=sim_project, service=SERVICE, task_id=SEED_TASK_ID, until=until
            )


def test_an_unwatched_task_records_events_without_notifications(sim_project, simulator, receiver):
    task_fetch(project=sim_project, service=SERVICE, task_id=SEED_TASK_ID)
    webhook(sim_project, receiver)
    simulator.set_state(SEED_TASK_ID, "FAILED")
    task_fetch(project=sim_project, service=SERVICE, task_id=SEED_TASK_ID, refresh=True)
    assert TaskEvent.objects.get().severity == "problem"
    assert not Notification.objects.exists()


def test_a_config_change_names_its_changed_paths(sim_project, simulator):
    watch(sim_project, SEED_TASK_ID)
    doc = simulator.tasks[(SERVICE, SEED_TASK_ID)].doc
    doc["service_config"]["common"]["detection_min_size"] = 90
    doc["output"]["webhook"]["url"] = "https://apigw.xx.com/api/mqs/new"
    poll(sim_project)
    event = TaskEvent.objects.get()
    assert (event.kind, event.severity) == ("config_changed", "info")
    assert event.changes == ["output.webhook.url", "service_config.common.detection_min_size"]


def test_a_watched_task_missing_from_the_list_is_fetched_alone_and_a_404_is_task_gone(
    sim_project, simulator, receiver
):
    watch(sim_project, SEED_TASK_ID, TASK_A_ID)
    webhook(sim_project, receiver)
    simulator.list_hidden = {TASK_A_ID}
    simulator.reset_counts()
    outcome = poll(sim_project)
    assert simulator.operations == {"ListTasksDetails": 1, "ShowTask": 1}
    assert outcome.unchanged == 2 and outcome.calls == 2
    document = simulator.tasks[(SERVICE, TASK_A_ID)].doc
    simulator.remove_task(TASK_A_ID)
    outcome = poll(sim_project)
    assert outcome.failed == 1
    gone = TaskEvent.objects.get()
    assert (gone.kind, gone.severity, gone.task_id) == ("task_gone", "problem", TASK_A_ID)
    poll(sim_project)  # still gone: no second event
    assert TaskEvent.objects.count() == 1
    simulator.add_task(document)
    simulator.list_hidden = set()
    poll(sim_project)
    back = TaskEvent.objects.get(kind="task_back")
    assert back.severity == "recovery" and back.problem_seconds is not None
    assert deliver_all() == 2


def test_a_version_from_the_list_and_one_from_showtask_are_the_same_snapshot(
    sim_project, simulator
):
    watch(sim_project, SEED_TASK_ID)
    simulator.tasks[(SERVICE, SEED_TASK_ID)].doc["hosting_result"] = {"status": "AVAILABLE"}
    for _ in range(2):
        poll(sim_project)  # the list never carries hosting_result
        task_fetch(project=sim_project, service=SERVICE, task_id=SEED_TASK_ID, refresh=True)
    assert TaskSnapshot.objects.count() == 1
    assert not TaskEvent.objects.exists()


def test_a_cycle_pages_through_the_list_by_one_thousand(sim_project, simulator):
    base = simulator.tasks[(SERVICE, SEED_TASK_ID)].doc
    ids = [f"{n:032x}" for n in range(1, 1201)]
    for n, task_id in enumerate(ids):
        simulator.add_task(
            {
                **base,
                "id": task_id,
                "name": f"t{n}",
                "created_at": f"2025-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
            }
        )
    now = timezone.now()
    tracked = TrackedTask.objects.bulk_create(
        TrackedTask(
            project=sim_project,
            service=SERVICE,
            task_id=task_id,
            watched=True,
            first_seen=now,
            last_fetched=now,
            last_changed=now,
        )
        for task_id in ids
    )
    assert len(tracked) == 1200
    simulator.reset_counts()
    outcome = poll(sim_project)
    assert simulator.operations == {"ListTasksDetails": 2}
    assert outcome.changed == 1200 and outcome.calls == 2
    simulator.reset_counts()
    outcome = poll(sim_project)
    assert outcome.unchanged == 1200 and simulator.operations == {"ListTasksDetails": 2}
    assert TaskSnapshot.objects.count() == 1200
    # An upstream that refuses 1,000 a page: one refused call, then pages of 100.
    simulator.max_list_limit = 100
    simulator.reset_counts()
    outcome = poll(sim_project)
    assert outcome.unchanged == 1200
    assert simulator.operations == {"ListTasksDetails": 1 + 13}


def test_the_upstream_failing_long_enough_is_one_event_and_its_recovery_another(
    sim_project, simulator, receiver
):
    watch(sim_project, SEED_TASK_ID)
    webhook(sim_project, receiver)
    start = timezone.now()
    simulator.set_fault("*", "500")
    with time_machine.travel(start, tick=False):
        poll(sim_project)
    schedule = PollSchedule.objects.get()
    assert schedule.failing_code == "upstream_unavailable" and schedule.failing_since is not None
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        poll(sim_project)  # 10 minutes: not yet (max(3 × 300 s, 15 min))
    assert not TaskEvent.objects.exists()
    for minutes in (15, 20):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            poll(sim_project)
    failing = TaskEvent.objects.get()
    assert (failing.kind, failing.severity, failing.error_code) == (
        "upstream_failing",
        "problem",
        "upstream_unavailable",
    )
    simulator.clear_faults()
    with time_machine.travel(start + timedelta(minutes=21), tick=False):
        poll(sim_project)
        assert deliver_all() == 2
    recovered = TaskEvent.objects.get(kind="upstream_recovered")
    assert recovered.severity == "recovery" and recovered.problem_seconds == 21 * 60
    assert PollSchedule.objects.get().failing_since is None


def test_two_processes_seeing_the_same_change_record_one_event(
    transactional_db, sim_project, simulator
):
    task_fetch(project=sim_project, service=SERVICE, task_id=SEED_TASK_ID)
    payload = {**TaskSnapshot.objects.get().payload, "state": "ABNORMAL"}

    def record() -> object:
        return snapshot_record(
            project=sim_project,
            service=SERVICE,
            task_id=SEED_TASK_ID,
            payload=payload,
            request_id=None,
            now=timezone.now(),
        )

    results = run_concurrently(*[record for _ in range(4)])
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert TaskSnapshot.objects.count() == 2
    assert TaskEvent.objects.count() == 1


# ---- deliveries ----------------------------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_back_off_for_over_ten_minutes_then_failed(
    sim_project, simulator, receiver
):
    watch(sim_project, SEED_TASK_ID)
    webhook(sim_project, receiver)
    receiver.status = 500
    simulator.set_state(SEED_TASK_ID, "ABNORMAL")
    poll(sim_project)
    delivery = Notification.objects.get()
    start = timezone.now()
    attempts_at = []
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(20):
            delivery.refresh_from_db()
            if delivery.status != "pending":
                break
            clock.move_to(max(timezone.now(), delivery.next_attempt_at))
            attempts_at.append(timezone.now())
            notification_deliver(notification_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 6
    assert "HTTP 500" in delivery.last_error
    assert attempts_at[-1] - attempts_at[0] >= timedelta(minutes=10)
    assert len(receiver.requests) == 6
    assert notification_deliver(notification_id=delivery.pk) is None


def test_a_sent_delivery_is_never_sent_again(sim_project, simulator, receiver):
    watch(sim_project, SEED_TASK_ID)
    webhook(sim_project, receiver)
    simulator.set_state(SEED_TASK_ID, "ABNORMAL")
    poll(sim_project)
    delivery = Notification.objects.get()
    assert notification_deliver(notification_id=delivery.pk).status == "sent"
    Notification.objects.filter(pk=delivery.pk).update(lease_until=None)
    assert notification_deliver(notification_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def test_email_channels_send_through_djangos_email_backend(sim_project, simulator, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    watch(sim_project, SEED_TASK_ID)
    channel_create(
        actor=None,
        project=sim_project,
        fields={"name": "ops", "kind": "email"},
        target="ops@example.com, oncall@example.com",
    )
    simulator.set_state(SEED_TASK_ID, "ABNORMAL")
    poll(sim_project)
    assert deliver_all() == 1
    (message,) = mail.outbox
    assert message.to == ["ops@example.com", "oncall@example.com"]
    assert "RUNNING → ABNORMAL" in message.subject
    assert SEED_TASK_ID in message.body and "http://portal.example/projects/" in message.body


@pytest.mark.integration
def test_an_email_channel_reaches_a_real_smtp_server(sim_project, simulator, settings):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = (
            "127.0.0.1",
            controller.server.sockets[0].getsockname()[1],
        )
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        channel = channel_create(
            actor=None,
            project=sim_project,
            fields={"name": "smtp", "kind": "email", "language": "zh-hans"},
            target="ops@example.com",
        )
        ok, message = channel_test(actor=None, channel=channel)
        assert ok, message
    finally:
        controller.stop()
    (mail_message,) = received
    assert mail_message["To"] == "ops@example.com"
    assert "项目" in mail_message.get_payload(decode=True).decode()


def test_a_test_send_that_fails_is_ok_false_with_the_reason(sim_project, receiver):
    channel = webhook(sim_project, receiver)
    receiver.status = 503
    ok, message = channel_test(actor=None, channel=channel)
    assert not ok and "HTTP 503" in message
    receiver.status = 200
    assert channel_test(actor=None, channel=channel)[0]


def test_rotate_credentials_key_re_encrypts_channel_targets(sim_project, receiver, settings):
    from cryptography.fernet import Fernet

    from tasks import crypto

    channel = webhook(sim_project, receiver)
    old = settings.PORTAL_CREDENTIALS_KEYS[0]
    settings.PORTAL_CREDENTIALS_KEYS = [Fernet.generate_key().decode(), old]
    call_command("rotate_credentials_key")
    channel.refresh_from_db()
    assert crypto.key_index(channel.target_enc) == 0
    assert channel.target() == f"{receiver.url}/hook"


# ---- the schedule --------------------------------------------------------------------------------


def test_a_due_schedule_is_claimed_by_one_claimer_only(sim_project, simulator):
    watch(sim_project, SEED_TASK_ID)
    assert schedules_ensure() == 1
    first, second = schedules_claim_due(), schedules_claim_due()
    assert len(first) == 1 and second == []
    poll(sim_project)  # moves it on by the interval and releases the claim
    assert schedules_claim_due() == []
    schedule = PollSchedule.objects.get()
    assert schedule.next_poll_at - schedule.last_poll_at == timedelta(seconds=300)
    with time_machine.travel(schedule.next_poll_at + timedelta(seconds=1), tick=False):
        assert len(schedules_claim_due()) == 1


def test_a_claim_whose_worker_died_is_claimed_again_after_its_lease(sim_project, simulator):
    watch(sim_project, SEED_TASK_ID)
    schedules_ensure()
    assert len(schedules_claim_due()) == 1
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert len(schedules_claim_due()) == 1
