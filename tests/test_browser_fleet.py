"""The fleet in a real browser: the dashboard at 50 projects × 200 tasks and the health strip of
a task with a known history (its segments' states, times, positions and colours), hover and
keyboard focus showing state and times, no console or CSP error. Screenshots are saved under
artifacts/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks.models import PollSchedule, TaskEvent, TaskSnapshot, TrackedTask
from tasks.services.health import health_from_versions, max_gap_for
from tests import test_browser_tasks
from tests.fleet_fixtures import make_projects, make_task
from tests.test_browser_tasks import SCREENSHOTS, WIDE, task_path
from vassim.simulator import SEED_TASK_ID

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# The task pages' Chromium and logged-in sessions, shared.
browser = test_browser_tasks.browser
session_for = test_browser_tasks.session_for

FACE = "c-face-edge"
COLOURS = {
    "RUNNING": "rgb(24, 121, 78)",
    "ABNORMAL": "rgb(180, 35, 24)",
    "STOPPED": "rgb(91, 100, 117)",
}


def known_history(now: datetime) -> list[tuple[str, datetime, datetime]]:
    """Ends an hour ago; polled every 5 minutes, with a 2-hour hole after the ABNORMAL spell."""
    ago = lambda hours, minutes=0: now - timedelta(hours=hours, minutes=minutes)  # noqa: E731
    return [
        ("RUNNING", ago(30), ago(20)),
        ("ABNORMAL", ago(19, 55), ago(18)),
        ("RUNNING", ago(16), ago(6)),
        ("STOPPED", ago(5, 55), ago(1)),
    ]


def strip_rects(page, days: int) -> list[dict]:
    return page.evaluate(
        """days => Array.from(document.querySelectorAll('#health-strip-' + days + ' rect.seg'))
          .map(r => ({state: r.dataset.state, from: r.dataset.from, to: r.dataset.to,
                      seconds: Number(r.dataset.seconds), x: Number(r.getAttribute('x')),
                      width: Number(r.getAttribute('width')), fill: getComputedStyle(r).fill,
                      cls: r.getAttribute('class')}))""",
        days,
    )


def parse(iso: str) -> datetime:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_the_health_strip_draws_a_known_history(session_for, alice, sim_project):
    now = datetime.now(UTC)
    tracked = make_task(sim_project, known_history(now), task_id=SEED_TASK_ID, service=FACE)
    session = session_for(alice, viewport=WIDE)
    session.open(task_path(sim_project, FACE, SEED_TASK_ID))
    rects = strip_rects(session.page, 1)
    end = parse(rects[-1]["to"])
    # Opening the page fetched the task: a new (RUNNING) version, seen just now.
    fetched = TaskSnapshot.objects.filter(task=tracked).order_by("-seq").first()
    versions = [*known_history(now), (fetched.state, fetched.first_seen, fetched.last_seen)]
    # The page's clock ran a moment after the fetch (its times are shown to the second).
    end = max(end, fetched.last_seen) + timedelta(milliseconds=500)
    expected = health_from_versions(
        versions, start=end - timedelta(days=1), end=end, max_gap=max_gap_for(300)
    )
    assert [r["state"] or None for r in rects] == [s.state for s in expected.segments]
    states = [r["state"] for r in rects]
    assert states == ["RUNNING", "ABNORMAL", "", "RUNNING", "STOPPED", "", "RUNNING"]
    for rect, segment in zip(rects, expected.segments, strict=True):
        assert abs(rect["seconds"] - segment.seconds) <= 2, (rect, segment)
        # Positions along the 1000-unit strip follow the times.
        assert abs(rect["x"] - (segment.start - expected.start).total_seconds() / 86.4) < 0.1
        assert abs(rect["width"] - segment.seconds / 86.4) < 0.1
        if segment.state:
            assert rect["fill"] == COLOURS[segment.state], rect
        else:
            assert "hatch-1" in rect["fill"] and "unobserved" in rect["cls"]
    # The strip covers the whole width, the numbers under it agree.
    assert abs(sum(r["width"] for r in rects) - 1000) < 0.1
    window = session.page.locator('.health-window[data-days="1"]')
    assert window.get_attribute("data-flips") == str(expected.flips) == "4"
    session.screenshot("health-strip", "#health")
    session.assert_clean()


def test_hovering_or_focusing_a_segment_shows_its_state_and_times(session_for, alice, sim_project):
    now = datetime.now(UTC)
    make_task(sim_project, known_history(now), task_id=SEED_TASK_ID, service=FACE)
    session = session_for(alice, viewport=WIDE)
    page = session.page
    session.open(task_path(sim_project, FACE, SEED_TASK_ID))
    page.evaluate("document.getElementById('health').scrollIntoView()")
    tip = page.locator("#health-tip")
    assert tip.is_hidden()
    page.locator('#health-strip-1 rect[data-state="ABNORMAL"]').hover()
    assert tip.is_visible()
    assert tip.inner_text().startswith("ABNORMAL: ")
    page.screenshot(path=str(SCREENSHOTS / "health-strip-hover.png"))
    page.mouse.move(5, 5)
    assert tip.is_hidden()
    first = page.locator("#health-strip-1 rect.seg").first
    first.focus()
    assert tip.inner_text().startswith("RUNNING: ")
    page.keyboard.press("ArrowRight")
    assert tip.inner_text().startswith("ABNORMAL: ")
    page.keyboard.press("ArrowRight")
    assert tip.inner_text().startswith("not observed: ")
    page.keyboard.press("Escape")
    assert tip.is_hidden()
    session.assert_clean()


def _fleet(admin, projects: int, tasks_per_project: int) -> None:
    """`projects` projects of `tasks_per_project` watched tasks each, two versions a task, a mix
    of states (1 in 10 ABNORMAL, 1 in 25 FAILED), and a plain-http webhook now and then."""
    now = datetime.now(UTC)
    for p, project in enumerate(make_projects(projects, admin=admin, prefix="Site")):
        rows = []
        for i in range(tasks_per_project):
            state = "ABNORMAL" if i % 10 == 3 else "FAILED" if i % 25 == 7 else "RUNNING"
            if p == 0:
                state = "RUNNING"  # one healthy project, for contrast
            rows.append(
                TrackedTask(
                    project=project,
                    service=FACE,
                    task_id=f"{p:04d}{i:028x}",
                    name=f"camera {p:02d}-{i:03d}",
                    state=state,
                    watched=True,
                    first_seen=now - timedelta(days=3),
                    last_fetched=now - timedelta(minutes=2),
                    last_changed=now - timedelta(hours=i % 48 + 1),
                    snapshot_count=1,
                    payload_problems="webhook_not_https" if i % 40 == 5 else "",
                )
            )
        TrackedTask.objects.bulk_create(rows)
        # The worker's view: every project polled a minute ago, Site 001's upstream failing.
        PollSchedule.objects.create(
            project=project,
            service=FACE,
            next_poll_at=now,
            last_poll_at=now - timedelta(minutes=1),
            last_success_at=now - timedelta(minutes=1 if p != 1 else 40),
            failing_since=now - timedelta(minutes=35) if p == 1 else None,
            failing_code="upstream_timeout" if p == 1 else "",
        )
        if p in (2, 3):
            TaskEvent.objects.create(
                project=project,
                service=FACE,
                task_id=rows[3].task_id,
                task_name=rows[3].name,
                kind="state_changed",
                severity="problem",
                from_state="RUNNING",
                to_state=rows[3].state,
                seen_at=now - timedelta(minutes=p),
                dedupe_key=f"browser-{p}",
            )


def test_the_dashboard_stays_readable_at_50_projects_of_200_tasks(session_for, alice):
    _fleet(alice, 50, 200)
    session = session_for(alice, viewport={"width": 1280, "height": 1000})
    page = session.page
    session.open("/dashboard/")
    assert page.locator("tr.project-row").count() == 50
    assert page.locator("tr.problem-row").count() == 25  # the rest on later pages
    assert page.locator("#problems .count-badge").inner_text() == str(49 * (20 + 8))
    # Projects with problems first; 51 projects (with the session's own) make two pages, and
    # the all-RUNNING Site 000 sorts after the problem-free "Simulated" onto the second.
    assert page.locator("tr.project-row.has-problems").count() == 49
    assert page.locator("tr.project-row").last.inner_text().startswith("Simulated")
    assert page.locator('#projects a[rel="next"]').count() == 1
    session.screenshot("dashboard-50x200")
    assert page.locator("tr.event-row").count() == 2
    failing = page.locator('tr.project-row:has-text("Site 001")')
    assert "failing" in failing.inner_text()
    for part in (
        "totals",
        "attention",
        "projects",
        "events",
    ):  # viewport-sized views, easier to read
        page.locator(f"#{part}").scroll_into_view_if_needed()
        page.evaluate(f"document.getElementById('{part}').scrollIntoView()")
        page.screenshot(path=str(SCREENSHOTS / f"dashboard-50x200-{part}.png"))
    page.select_option("#filter-state", "FAILED")
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_load_state("load")
    assert "state=FAILED" in page.url
    assert page.locator("#tasks-in-state tbody tr").count() == 25
    session.screenshot("dashboard-filtered-failed")
    session.assert_clean()


def test_the_dashboard_in_chinese_and_a_project_without_watched_tasks(
    session_for, alice, sim_project
):
    session = session_for(alice, viewport=WIDE)
    session.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": session.base}]
    )
    session.open("/dashboard/")
    text = session.page.locator("main").inner_text()
    assert "仪表盘" in text and "还没有已关注的作业" in text
    session.screenshot("dashboard-empty-zh")
    session.assert_clean()


def test_the_project_page_shows_its_badge_and_findings(session_for, alice, sim_project):
    make_task(
        sim_project,
        [("ABNORMAL", datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))],
        payload_extra={"output": {"webhook": {"url": "http://hooks.example.com/x"}}},
        name="plain hook",
    )
    session = session_for(alice, viewport=WIDE)
    page = session.page
    session.open(f"/projects/{sim_project.public_id}/")
    page.wait_for_function("() => document.getElementById('project-badge').complete")
    assert page.evaluate("document.getElementById('project-badge').naturalWidth") > 40
    assert "plain hook" in page.locator("#attention").inner_text()
    page.locator("#badges").scroll_into_view_if_needed()
    session.screenshot("project-badges", "#badges")
    session.assert_clean()
