"""Polling VIAS watched tasks through the VIAS list (the monitor's poller, service "vias"):
pages of up to 1,000, a task whose state moved fetched alone with its event, a missing one fetched
alone (404: task_gone), the unchanged ones counted as seen. Against the live simulator."""

from __future__ import annotations

import pytest

from tasks.models import TaskEvent, TaskSnapshot, TrackedTask
from tasks.services.polling import poll_lister, poll_service
from tasks.services.task_fetch import task_fetch
from tasks.services.vias_polling import vias_list_watched

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

VIAS = "vias"
LIST = "/v2/6204a5bd270343b5885144cf9c8c158d/tasks"


def watch(project, simulator, *task_ids: str) -> None:
    for task_id in task_ids:
        task_fetch(project=project, service=VIAS, task_id=task_id)
    TrackedTask.objects.filter(project=project, service=VIAS, task_id__in=task_ids).update(
        watched=True
    )
    simulator.reset_counts()


def list_calls(simulator) -> int:
    return sum(n for key, n in simulator.counts.items() if key == f"GET {LIST}")


def test_the_vias_service_has_its_own_lister():
    assert poll_lister(VIAS) is vias_list_watched


def test_unchanged_vias_tasks_are_seen_through_one_list_page(vias_project, vias_ids, simulator):
    names = ("lobby-face-01", "gate-vehicle-sched", "dock-vcn-03")
    watch(vias_project, simulator, *(vias_ids[n] for n in names))
    outcome = poll_service(project=vias_project, service=VIAS)
    assert (outcome.changed, outcome.unchanged, outcome.failed) == (0, 3, 0)
    assert outcome.calls == 1 and list_calls(simulator) == 1
    assert simulator.count("GET /v2/6204a5bd270343b5885144cf9c8c158d/tasks/") == 0
    snapshots = TaskSnapshot.objects.filter(task__service=VIAS, task__watched=True)
    assert {s.times_seen for s in snapshots} == {2}  # fetched once, seen once more
    assert not TaskEvent.objects.filter(service=VIAS).exists()


def test_a_vias_task_whose_state_moved_is_fetched_alone_with_its_event(
    vias_project, vias_ids, simulator
):
    task_id = vias_ids["lobby-face-01"]
    watch(vias_project, simulator, task_id, vias_ids["gate-vehicle-sched"])
    simulator.tasks[(VIAS, task_id)].doc["state"] = "ABNORMAL"
    outcome = poll_service(project=vias_project, service=VIAS)
    assert (outcome.changed, outcome.unchanged) == (1, 1)
    assert list_calls(simulator) == 1
    assert simulator.count(f"GET {LIST}/{task_id}") == 1  # the changed one alone
    event = TaskEvent.objects.get(service=VIAS, task_id=task_id)
    assert (event.kind, event.from_state, event.to_state, event.severity) == (
        "state_changed",
        "RUNNING",
        "ABNORMAL",
        "problem",
    )
    newest = TaskSnapshot.objects.filter(task__task_id=task_id).order_by("-seq").first()
    assert newest.payload["config"]["common"]["detection_min_size"] == 120  # a whole document


def test_a_watched_vias_task_gone_from_the_list_is_fetched_alone_and_is_task_gone(
    vias_project, vias_ids, simulator
):
    task_id = vias_ids["dock-vcn-03"]
    watch(vias_project, simulator, task_id)
    del simulator.tasks[(VIAS, task_id)]
    outcome = poll_service(project=vias_project, service=VIAS)
    assert outcome.calls == 2  # the list, then the task alone (404)
    assert TaskEvent.objects.get(service=VIAS, task_id=task_id).kind == "task_gone"
    assert TrackedTask.objects.get(service=VIAS, task_id=task_id).gone_at is not None


def test_the_list_is_paged_by_one_thousand_until_a_short_page(vias_project, simulator):
    for number in range(1100):
        simulator.add_task(
            {"id": f"{number:032x}", "name": f"bulk-{number}", "state": "RUNNING", "config": {}},
            service=VIAS,
        )
    last = f"{1099:032x}"
    watch(vias_project, simulator, last)
    listed = vias_list_watched(project=vias_project, service=VIAS, wanted={last, "f" * 32})
    assert listed.calls == 2  # 1,000 then a short page: the end (count is no total)
    assert last in listed.documents


def test_a_whole_document_in_the_list_is_recorded_as_it_is(vias_project, vias_ids, simulator):
    task_id = vias_ids["lobby-face-01"]
    watch(vias_project, simulator, task_id)
    from vassim import vias as sim_vias

    original = sim_vias.list_item
    sim_vias.list_item = lambda doc: dict(doc)  # an upstream whose list gives documents
    try:
        simulator.tasks[(VIAS, task_id)].doc["config"]["common"]["detection_min_size"] = 90
        outcome = poll_service(project=vias_project, service=VIAS)
    finally:
        sim_vias.list_item = original
    assert outcome.changed == 1 and outcome.calls == 1  # no ShowTaskInfo needed
    event = TaskEvent.objects.get(service=VIAS, task_id=task_id)
    assert event.kind == "config_changed"
    assert "config.common.detection_min_size" in str(event.changes)
