"""VIAS task pages over HTTP against the live simulator: list with VIAS filters, detail with
config.common and the schedule, history, watch, lookup, VAS → VIAS pages, readable errors."""

import pytest

from tasks.models import TrackedTask
from tasks.services.task_fetch import task_fetch
from tests.api_fixtures import SECRET_VALUES
from vassim.simulator import SEEDED_IDS

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

VIAS = "vias"


def _login(client, user):
    if user is not None:
        client.force_login(user)
    return client


def _base(project) -> str:
    return f"/projects/{project.public_id}"


def _vias(project, task_id, suffix="") -> str:
    return f"{_base(project)}/vias/tasks/{task_id}/{suffix}"


def _html(response) -> str:
    return response.content.decode()


def _no_secrets(response) -> None:
    text = _html(response)
    for value in SECRET_VALUES:
        assert value not in text, value


PAGES = {
    "detail": lambda p, ids: _vias(p, ids["lobby-face-01"]),
    "history": lambda p, ids: _vias(p, ids["lobby-face-01"], "history/"),
    "browse": lambda p, ids: f"{_base(p)}/vias/tasks/",
    "migration": lambda p, ids: f"{_base(p)}/migration/",
}
EXPECTED = {"superuser": 200, "admin": 200, "viewer": 200, "outsider": 404, "anonymous": 302}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", EXPECTED)
def test_it_serves_vias_pages_by_role(client, cast, vias_project, vias_ids, page, role):
    task_fetch(project=vias_project, service=VIAS, task_id=vias_ids["lobby-face-01"])
    response = _login(client, cast[role]).get(PAGES[page](vias_project, vias_ids))
    assert response.status_code == EXPECTED[role]
    if response.status_code == 200:
        _no_secrets(response)


def test_a_vias_service_name_under_services_is_not_a_route(client, bob, vias_project, vias_ids):
    url = f"{_base(vias_project)}/services/vias/tasks/{vias_ids['lobby-face-01']}/"
    assert _login(client, bob).get(url).status_code == 404


def test_the_detail_page_labels_config_common_and_shows_vias_fields(
    client, bob, vias_project, vias_ids
):
    html = _html(_login(client, bob).get(_vias(vias_project, vias_ids["lobby-face-01"])))
    assert "Algorithm configuration" in html and "config.common" in html
    assert "Smallest detected target" in html  # detection_min_size, labelled like VAS
    assert "边缘人脸提取" in html and "lobby-cam" in html
    assert 'id="task-type">edge<' in html
    assert 'id="event-center">linked<' in html
    assert "Fetched from the VIAS upstream just now." in html
    assert 'id="roi-canvas"' in html and "door" in html  # ROI from config.common.target_roi


def test_the_schedule_is_rendered_with_days_windows_and_time_zone(
    client, bob, vias_project, vias_ids
):
    html = _html(_login(client, bob).get(_vias(vias_project, vias_ids["gate-vehicle-sched"])))
    schedule = html[html.index('id="vias-schedule"') :][:3000]
    assert "UTC+08:00" in schedule
    assert "Monday" in schedule and "Wednesday" in schedule and "Saturday" in schedule
    assert "07:00:00–09:30:00" in schedule and "17:00:00–19:30:00" in schedule
    assert "10:00:00–16:00:00" in schedule
    assert "vendor_specific_knob" in html  # an unknown key, shown as it came


@pytest.mark.parametrize(
    ("name", "state", "family"),
    [
        ("lobby-face-01", "RUNNING", "running"),
        ("gate-vehicle-sched", "SCHEDULING", "transitional"),
        ("dock-vcn-03", "LACK_OF_RESOURCES", "failed"),
    ],
)
def test_vias_states_get_their_badge(client, bob, vias_project, vias_ids, name, state, family):
    html = _html(_login(client, bob).get(_vias(vias_project, vias_ids[name])))
    assert f'data-state-family="{family}">{state}<' in html


def test_an_unknown_future_state_is_shown_as_it_came(client, bob, vias_project, simulator):
    doc = {"id": "f" * 32, "name": "from-the-future", "state": "HIBERNATING", "config": {}}
    simulator.add_task(doc, service=VIAS)
    html = _html(_login(client, bob).get(_vias(vias_project, "f" * 32)))
    assert 'data-state-family="neutral">HIBERNATING<' in html


def test_secrets_are_masked_on_the_page(client, bob, vias_project, vias_ids):
    for name in ("lobby-face-01", "dock-vcn-03", "restful-edge-04"):
        response = _login(client, bob).get(_vias(vias_project, vias_ids[name]))
        assert response.status_code == 200
        _no_secrets(response)
    html = _html(response)
    assert "edgerestful" in html  # "restful" read as the documented edgerestful


def test_the_list_shows_vias_columns_and_filters_by_state(client, bob, vias_project):
    response = _login(client, bob).get(f"{_base(vias_project)}/vias/tasks/?state=SCHEDULING")
    html = _html(response)
    assert response.status_code == 200
    assert "gate-vehicle-sched" in html and "gate-cam" in html and "车辆检测" in html
    assert "lobby-face-01" not in html
    assert ">cloud<" in html  # the list's type 0, shown as cloud


def test_the_list_filters_by_camera_and_algorithm(client, bob, vias_project):
    url = f"{_base(vias_project)}/vias/tasks/?camera=gate-cam&algorithm=车辆"
    html = _html(_login(client, bob).get(url))
    assert "gate-vehicle-sched" in html and "lobby-face-01" not in html


def test_the_list_pages_forward_while_pages_are_full(client, bob, vias_project):
    first = _html(_login(client, bob).get(f"{_base(vias_project)}/vias/tasks/"))
    assert 'rel="next"' in first
    second = _html(client.get(f"{_base(vias_project)}/vias/tasks/?page=2"))
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_a_list_failure_is_a_readable_page(client, bob, vias_project, simulator):
    simulator.set_fault("vias-list", "403")
    response = _login(client, bob).get(f"{_base(vias_project)}/vias/tasks/")
    assert response.status_code == 502
    assert "Not allowed by the cloud account" in _html(response)


def test_a_missing_vias_task_shows_the_upstreams_reason_and_advice(client, bob, vias_project):
    response = _login(client, bob).get(_vias(vias_project, "0" * 32))
    html = _html(response)
    assert response.status_code == 404
    assert "The VIAS upstream has no task with this id in this project." in html
    assert "No task with this id exists in the project." in html
    assert "Check the task id and the project." in html
    assert "/vias/tasks/" in html  # the list link goes to the VIAS list


def test_history_and_watch_work_for_vias(client, alice, vias_project, vias_ids, simulator):
    task_id = vias_ids["lifecycle-vias"]
    _login(client, alice)
    client.get(_vias(vias_project, task_id))
    client.get(_vias(vias_project, task_id) + "?refresh=1")
    response = client.post(_vias(vias_project, task_id, "watch/"), {"watched": "1"})
    assert response.status_code == 302 and response["Location"] == _vias(vias_project, task_id)
    tracked = TrackedTask.objects.get(project=vias_project, service=VIAS, task_id=task_id)
    assert tracked.watched and tracked.snapshot_count == 2
    html = _html(client.get(_vias(vias_project, task_id, "history/")))
    assert "SCHEDULING" in html and "STARTING" in html


def test_the_lookup_form_opens_a_vias_task(client, bob, vias_project, vias_ids):
    task_id = vias_ids["lobby-face-01"]
    response = _login(client, bob).get(
        f"{_base(vias_project)}/tasks/lookup/?task_id={task_id}&service=vias"
    )
    assert response.status_code == 302 and response["Location"] == _vias(vias_project, task_id)
    project_page = _html(client.get(f"{_base(vias_project)}/"))
    assert 'value="vias"' in project_page and 'id="browse-vias"' in project_page


def test_recently_fetched_vias_tasks_link_to_vias_paths(client, bob, vias_project, vias_ids):
    task_id = vias_ids["lobby-face-01"]
    task_fetch(project=vias_project, service=VIAS, task_id=task_id)
    html = _html(_login(client, bob).get(f"{_base(vias_project)}/"))
    assert f'href="{_vias(vias_project, task_id)}"' in html


def test_a_vas_task_shows_the_vias_fields_it_maps_to(client, bob, vias_project):
    url = f"{_base(vias_project)}/services/c-vehicle-detection-edge/tasks/{SEEDED_IDS['B']}/vias/"
    response = _login(client, bob).get(url)
    html = _html(response)
    assert response.status_code == 200
    assert "config.common" in html and "schedule" in html and "event_center" in html
    assert "days_of_week" in html  # the weekly timing, as a VIAS schedule


def test_the_migration_page_pairs_vas_and_vias_tasks_by_name(client, bob, vias_project, simulator):
    face = "c-face-edge"
    vas = task_fetch(project=vias_project, service=face, task_id=SEEDED_IDS["A"]).task
    simulator.add_task(
        {"id": "e" * 32, "name": vas["name"], "state": "SCHEDULING", "config": {}}, service=VIAS
    )
    task_fetch(project=vias_project, service=VIAS, task_id="e" * 32)
    response = _login(client, bob).get(f"{_base(vias_project)}/migration/")
    html = _html(response)
    row = html[html.index(vas["name"]) :][:2000]
    assert SEEDED_IDS["A"] in row and "e" * 32 in row
    assert "1 name has a task in both services" in html


def test_the_vias_page_reads_in_chinese(client, bob, vias_project, vias_ids):
    client.force_login(bob)
    response = client.get(
        _vias(vias_project, vias_ids["gate-vehicle-sched"]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    html = _html(response)
    assert "算法配置" in html and "调度中" in html
    schedule = html[html.index('id="vias-schedule"') :][:3000]
    assert "星期一" in schedule and "星期三" in schedule and "时区 UTC+08:00" in schedule


def test_the_dashboard_and_notifications_link_a_vias_problem_to_its_vias_page(
    client, alice, vias_project, vias_ids
):
    from tasks.models import TaskEvent
    from tasks.services.notify import event_url

    task_id = vias_ids["lobby-face-01"]
    task_fetch(project=vias_project, service=VIAS, task_id=task_id)
    TrackedTask.objects.filter(project=vias_project, task_id=task_id).update(
        watched=True, state="ABNORMAL"
    )
    client.force_login(alice)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    page = f"/projects/{vias_project.public_id}/vias/tasks/{task_id}/"
    assert page in response.content.decode()
    event = TaskEvent(project=vias_project, service=VIAS, task_id=task_id, kind="state_changed")
    assert event_url(event).endswith(page)
