"""VIAS task pages in Debian's Chromium: RUNNING, SCHEDULING and a state no VIAS version knows yet
(the badge, the schedule, config.common, the ROI canvas drawn from config.common.target_roi)."""

from __future__ import annotations

import pytest

from tests import test_browser_tasks as browser_tasks
from tests.api_fixtures import SECRET_VALUES
from tests.test_browser_tasks import WIDE, wait_drawn

# The Chromium fixtures of the VAS browser tests, shared.
browser = browser_tasks.browser
session_for = browser_tasks.session_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]

FUTURE_ID = "fe" * 16


def vias_path(project, task_id: str, suffix: str = "") -> str:
    return f"/projects/{project.public_id}/vias/tasks/{task_id}/{suffix}"


def _check_secrets(page) -> None:
    html = page.content()
    assert not [value for value in SECRET_VALUES if value in html]


def test_a_running_vias_task_in_chromium(session_for, alice, vias_project, vias_ids):
    session = session_for(alice, viewport=WIDE)
    session.open(vias_path(vias_project, vias_ids["lobby-face-01"]))
    page = session.page
    wait_drawn(page)
    badge = page.locator(".task-head .badge").first
    assert badge.inner_text() == "RUNNING"
    assert badge.get_attribute("data-state-family") == "running"
    assert "Algorithm configuration" in page.locator(".config-table").locator("..").inner_text()
    assert page.locator("#event-center").inner_text() == "linked"
    schedule = page.locator("#vias-schedule").inner_text()
    assert "Monday, Tuesday, Wednesday, Thursday, Friday" in schedule
    assert "07:00:00–20:00:00" in schedule and "UTC+08:00" in schedule
    assert "door" in page.locator(".roi-table").inner_text()
    _check_secrets(page)
    session.assert_clean()
    session.screenshot("vias-task-running")


def test_a_scheduling_vias_task_in_chromium(session_for, alice, vias_project, vias_ids):
    session = session_for(alice, viewport=WIDE)
    session.open(vias_path(vias_project, vias_ids["gate-vehicle-sched"]))
    page = session.page
    wait_drawn(page)
    badge = page.locator(".task-head .badge").first
    assert badge.inner_text() == "SCHEDULING"
    assert badge.get_attribute("data-state-family") == "transitional"
    rows = page.locator("#vias-schedule li").all_inner_texts()
    assert rows == [
        "Monday: 07:00:00–09:30:00, 17:00:00–19:30:00",
        "Wednesday: 08:00:00–18:00:00",
        "Saturday: 10:00:00–16:00:00",
    ]
    assert page.locator("#task-type").inner_text() == "cloud"
    assert page.locator(".roi-table tbody tr").count() == 2
    session.assert_clean()
    session.screenshot("vias-task-scheduling")


def test_a_vias_task_in_an_unknown_future_state_in_chromium(
    session_for, alice, vias_project, simulator
):
    simulator.add_task(
        {
            "id": FUTURE_ID,
            "name": "from-a-later-vias",
            "state": "QUANTUM_PAUSED",
            "future_field": {"nested": [1, 2]},
            "config": {"common": {"new_knob": "x"}},
            "output": {"event_center": True},
        },
        service="vias",
    )
    session = session_for(alice, viewport=WIDE)
    session.open(vias_path(vias_project, FUTURE_ID))
    page = session.page
    wait_drawn(page)
    badge = page.locator(".task-head .badge").first
    assert badge.inner_text() == "QUANTUM_PAUSED"
    assert badge.get_attribute("data-state-family") == "neutral"
    assert "new_knob" in page.locator(".config-table").inner_text()
    assert "future_field" in page.locator(".props").first.inner_text()  # shown as it came
    assert "No region set" in page.content()  # no target_roi: the whole frame
    page.locator("#raw-json summary").click()
    assert "future_field" in page.locator("#raw-json pre").inner_text()
    session.assert_clean()
    session.screenshot("vias-task-unknown-state")


def test_the_vias_list_in_chromium(session_for, alice, vias_project):
    session = session_for(alice, viewport=WIDE)
    session.open(f"/projects/{vias_project.public_id}/vias/tasks/?state=LACK_OF_RESOURCES")
    page = session.page
    assert page.locator("#vias-task-table tbody tr").count() == 2
    assert "dock-vcn-03" in page.locator("#vias-task-table").inner_text()
    session.assert_clean()
    session.screenshot("vias-task-list")
