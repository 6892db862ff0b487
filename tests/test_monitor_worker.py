"""The worker: real Huey consumers (threads, and a `manage.py runworker` process killed with
SIGKILL) against the live simulator and a real local webhook receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from tasks.models import Notification, PollSchedule, TaskEvent, TrackedTask
from tasks.services.channels import channel_create
from tasks.services.notify import notification_deliver
from tasks.services.task_fetch import task_fetch
from tasks.worker import huey, sweep
from vassim.simulator import SEED_TASK_ID

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SERVICE = "c-face-edge"


@pytest.fixture
def consumers():
    """Starts n Huey consumers (2 threads each) on the worker's queue; stops them after."""
    started = []

    def start(n: int = 1):
        huey.flush()
        for _ in range(n):
            consumer = huey.create_consumer(workers=2, worker_type="thread", periodic=False)
            consumer._set_signal_handlers = lambda: None  # the test runner keeps its signals
            consumer.start()
            started.append(consumer)
        return started

    yield start
    for consumer in started:
        consumer.stop(graceful=True)
    huey.flush()


def _watched_with_hook(project, receiver) -> None:
    task_fetch(project=project, service=SERVICE, task_id=SEED_TASK_ID)
    TrackedTask.objects.update(watched=True)
    channel_create(
        actor=None,
        project=project,
        fields={"name": "hook", "kind": "webhook"},
        target=f"{receiver.url}/hook",
    )


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_flip_reaches_the_webhook_through_the_worker_once(
    sim_project, simulator, receiver, consumers
):
    _watched_with_hook(sim_project, receiver)
    consumers(1)
    simulator.set_state(SEED_TASK_ID, "ABNORMAL")
    simulator.reset_counts()
    sweep()
    assert _wait(lambda: len(receiver.requests) == 1)
    assert _wait(lambda: Notification.objects.filter(status="sent").count() == 1)
    time.sleep(1.5)  # nothing else arrives
    assert len(receiver.requests) == 1
    assert receiver.bodies()[0]["event"]["to"] == "ABNORMAL"
    assert simulator.operations == {"ListTasksDetails": 1}


def test_two_workers_sweeping_at_once_make_one_list_call_and_one_event(
    sim_project, simulator, receiver, consumers
):
    _watched_with_hook(sim_project, receiver)
    consumers(2)
    simulator.set_state(SEED_TASK_ID, "ABNORMAL")
    simulator.reset_counts()
    barrier = threading.Barrier(2)

    def sweep_now() -> None:
        barrier.wait()
        sweep()
        connection.close()

    threads = [threading.Thread(target=sweep_now) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _wait(lambda: len(receiver.requests) >= 1)
    assert _wait(lambda: PollSchedule.objects.filter(claimed_until__isnull=True).exists())
    time.sleep(1.5)
    sweep()  # not due again within its interval
    time.sleep(1.5)
    assert simulator.operations == {"ListTasksDetails": 1}
    assert TaskEvent.objects.count() == 1
    assert len(receiver.requests) == 1


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_a_worker_killed_mid_send_leaves_a_pending_row_that_another_sends_once(
    sim_project, simulator, receiver, tmp_path
):
    _watched_with_hook(sim_project, receiver)
    simulator.set_state(SEED_TASK_ID, "ABNORMAL")
    from tasks.services.polling import poll_service

    poll_service(project=sim_project, service=SERVICE)
    delivery = Notification.objects.get()
    PollSchedule.objects.update(next_poll_at=timezone.now() + timedelta(hours=1))
    receiver.hang = 30.0  # the receiver holds the request: the worker is mid-send
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "PORTAL_WORKER_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        "PORTAL_NOTIFY_ALLOWED_HOSTS": "127.0.0.1",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "runworker", "--threads", "1"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert receiver.arrived.wait(30), "the worker never sent"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.lease_until is not None
    receiver.hang = 0.0
    # Another worker: nothing while the dead one's lease lasts, then it sends, once.
    assert notification_deliver(notification_id=delivery.pk) is None
    Notification.objects.filter(pk=delivery.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert notification_deliver(notification_id=delivery.pk).status == "sent"
    assert notification_deliver(notification_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(receiver.requests) == 2
