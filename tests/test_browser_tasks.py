"""Task pages in a real browser: Debian's Chromium driven by Playwright against the live server.

The canvas is checked by sampling its pixels: a frame point (fx, fy) maps to the canvas' device
pixel ((fit.x + fx * fit.scale) * fit.sx, (fit.y + fy * fit.scale) * fit.sy), where `fit` is the
mapping the script publishes (data-fit) and the tests first check against the page's own layout
(aspect ratio kept, fitted inside the element, backing store = CSS size × devicePixelRatio).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from tasks.services.task_fetch import task_fetch
from vassim.simulator import SEEDED_IDS

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
FACE = "c-face-edge"
VEHICLE = "c-vehicle-detection-edge"
NON_MOTOR = "c-non-motor-detection-edge"
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 640, "height": 900}
# A five-pointed star drawn in one stroke: its centre pentagon is wound twice, so even-odd leaves
# it empty (non-zero would fill it).
STAR_ID = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
STAR = [[960, 90], [1224, 904], [532, 401], [1388, 401], [696, 904]]

# Records CSP violations (they are also console errors; this catches them even if not logged).
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed: run `make browser`")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between page actions are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_api.sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Session:
    """One logged-in browser context with its console errors and dialogs recorded."""

    def __init__(self, browser, live_server, cookie: str, *, dpr: int, viewport: dict):
        self.base = live_server.url
        # A viewer far from UTC, so local times differ visibly from the UTC ones.
        self.context = browser.new_context(
            viewport=viewport,
            device_scale_factor=dpr,
            accept_downloads=True,
            timezone_id="Asia/Shanghai",
            locale="en-GB",
        )
        self.context.add_cookies([{"name": "sessionid", "value": cookie, "url": self.base}])
        self.context.add_init_script(CSP_RECORDER)
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        self.page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", on_dialog)

    def open(self, path: str, *, status: int = 200):
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == status, (path, response.status)
        self.page.wait_for_load_state("load")
        return response

    def assert_clean(self, *, allow_status_error: bool = False):
        errors = self.console_errors
        if allow_status_error:  # the document's own 4xx/5xx status is logged by Chromium
            errors = [e for e in errors if "the server responded with a status" not in e]
        assert errors == [], errors
        assert self.page.evaluate("window.__cspViolations") == []

    def screenshot(self, name: str, selector: str | None = None):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = str(SCREENSHOTS / f"{name}.png")
        if selector:
            self.page.locator(selector).screenshot(path=path)
        else:
            self.page.screenshot(path=path, full_page=True)


@pytest.fixture
def session_for(browser, live_server, client, sim_project, transactional_db):
    """Factory: a browser session logged in as `user` (alice, the project's admin, by default)."""
    opened: list[Session] = []

    def make(user, *, dpr: int = 1, viewport: dict = WIDE) -> Session:
        client.force_login(user)
        session = Session(
            browser, live_server, client.cookies["sessionid"].value, dpr=dpr, viewport=viewport
        )
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.context.close()


def task_path(project, service: str, task_id: str, suffix: str = "") -> str:
    return f"/projects/{project.public_id}/services/{service}/tasks/{task_id}/{suffix}"


def wait_drawn(page, after: int = 0) -> int:
    """Waits until the canvas has been drawn more than `after` times; returns the count."""
    page.wait_for_function(
        "n => { const c = document.getElementById('roi-canvas');"
        " return c && Number(c.dataset.drawn || 0) > n; }",
        arg=after,
    )
    return int(page.get_attribute("#roi-canvas", "data-drawn"))


def canvas_state(page) -> dict:
    return page.evaluate(
        """() => {
          const c = document.getElementById('roi-canvas');
          const r = c.getBoundingClientRect();
          const roi = JSON.parse(document.getElementById('roi-data').textContent);
          return {fit: JSON.parse(c.dataset.fit), colors: JSON.parse(c.dataset.colors),
                  alpha: Number(c.dataset.fillAlpha), background: c.dataset.frameBackground,
                  width: c.width, height: c.height, rectWidth: r.width, rectHeight: r.height,
                  dpr: window.devicePixelRatio, frame: roi.frame,
                  wrapWidth: c.parentElement.clientWidth};
        }"""
    )


def sample(page, points: list[list[float]]) -> list[tuple[int, int, int]]:
    """The canvas' colour at each frame point, mapped through the published fit and the DPR."""
    return [
        tuple(rgba[:3])
        for rgba in page.evaluate(
            """points => {
              const c = document.getElementById('roi-canvas');
              const fit = JSON.parse(c.dataset.fit);
              const ctx = c.getContext('2d');
              return points.map(([fx, fy]) => {
                const x = Math.floor((fit.x + fx * fit.scale) * fit.sx);
                const y = Math.floor((fit.y + fy * fit.scale) * fit.sy);
                return Array.from(ctx.getImageData(x, y, 1, 1).data);
              });
            }""",
            points,
        )
    ]


def hex_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return red, green, blue


def blend(colour: str, background: str, alpha: float) -> tuple[int, int, int]:
    fg, bg = hex_rgb(colour), hex_rgb(background)
    red, green, blue = (round(alpha * f + (1 - alpha) * b) for f, b in zip(fg, bg, strict=True))
    return red, green, blue


def close(actual, expected, tolerance: int = 6) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def check_layout(state: dict, *, dpr: int) -> None:
    """The fit keeps the frame's aspect ratio, sits inside the canvas and fills one side of it;
    the backing store is the CSS size times the devicePixelRatio (sharp on high-DPI screens)."""
    fit, frame = state["fit"], state["frame"]
    assert state["dpr"] == dpr
    assert state["width"] == round(state["rectWidth"] * dpr)
    assert state["height"] == round(state["rectHeight"] * dpr)
    assert abs(state["rectWidth"] - state["wrapWidth"]) <= 1  # fills the container's width
    drawn_w, drawn_h = frame["width"] * fit["scale"], frame["height"] * fit["scale"]
    assert fit["x"] >= -0.5 and fit["y"] >= -0.5
    assert fit["x"] + drawn_w <= state["rectWidth"] + 0.5
    assert fit["y"] + drawn_h <= state["rectHeight"] + 0.5
    fills_width = abs(drawn_w - state["rectWidth"]) <= 1
    fills_height = abs(drawn_h - state["rectHeight"]) <= 1
    assert fills_width or fills_height


def check_polygons(page, cases: list[tuple[int, list, list]], *, dpr: int) -> None:
    """cases: (shape index, frame points inside it only, frame points inside no shape)."""
    state = canvas_state(page)
    check_layout(state, dpr=dpr)
    for index, inside, outside in cases:
        expected = blend(state["colors"][index], state["background"], state["alpha"])
        for point, colour in zip(inside, sample(page, inside), strict=True):
            assert close(colour, expected), (index, point, colour, expected, state["fit"])
        for point, colour in zip(outside, sample(page, outside), strict=True):
            assert close(colour, hex_rgb(state["background"])), (index, point, colour)
            assert not close(colour, expected, tolerance=20), (index, point, colour)


# The seeded rectangle 100..1800 × 100..1000 on a 1920×1080 frame (labels and the dashed
# reference squares in the bottom-right corner are kept clear of).
RECT_CASES = [(0, [[300, 300], [600, 800], [1000, 200]], [[50, 540], [960, 1050], [1860, 300]])]


@pytest.mark.parametrize("dpr", [1, 2])
def test_it_draws_polygons_at_two_sizes_and_after_a_resize(session_for, alice, sim_project, dpr):
    session = session_for(alice, dpr=dpr, viewport=WIDE)
    page = session.page
    session.open(task_path(sim_project, FACE, SEEDED_IDS["seed"]))
    drawn = wait_drawn(page)
    check_polygons(page, RECT_CASES, dpr=dpr)
    wide_scale = canvas_state(page)["fit"]["scale"]

    page.set_viewport_size(NARROW)
    drawn = wait_drawn(page, drawn)
    check_polygons(page, RECT_CASES, dpr=dpr)
    assert canvas_state(page)["fit"]["scale"] < wide_scale  # redrawn for the smaller container

    page.set_viewport_size(WIDE)
    wait_drawn(page, drawn)
    check_polygons(page, RECT_CASES, dpr=dpr)
    session.assert_clean()


def test_two_polygons_have_different_colours(session_for, alice, sim_project):
    session = session_for(alice, dpr=2, viewport=NARROW)
    page = session.page
    session.open(task_path(sim_project, NON_MOTOR, SEEDED_IDS["C"]))
    wait_drawn(page)
    state = canvas_state(page)
    assert state["colors"][0] != state["colors"][1]
    check_polygons(page, [(0, [[150, 450]], [[1500, 900]]), (1, [[700, 600]], [])], dpr=2)
    first, second = sample(page, [[150, 450], [700, 600]])
    assert not close(first, second, tolerance=20)
    session.screenshot("task-detail-two-polygons")
    session.assert_clean()


def test_a_self_intersecting_polygon_leaves_its_even_odd_hole_empty(
    session_for, alice, sim_project, simulator
):
    simulator.add_task(
        {
            "id": STAR_ID,
            "name": "star-roi",
            "creator": "sim_user",
            "project_id": "p",
            "service_version": "3.0",
            "state": "RUNNING",
            "input": {"type": "edgecamera", "data": [{"id": "cam"}]},
            "output": {"dis": {"stream_name": "s"}},
            "service_config": {
                "common": {"target_roi": json.dumps({"polygons": [{"data": STAR}]})}
            },
        },
        service=FACE,
    )
    session = session_for(alice, dpr=1, viewport=WIDE)
    page = session.page
    session.open(task_path(sim_project, FACE, STAR_ID))
    wait_drawn(page)
    # Arms of the star are filled; the doubly wound centre (off the numbered label) is empty.
    check_polygons(
        page, [(0, [[960, 250], [729, 465], [1103, 736]], [[960, 650], [880, 520]])], dpr=1
    )
    assert page.is_visible("#roi-problems")  # crossing edges are reported too
    session.screenshot("task-roi-even-odd-star", ".roi-section")

    session.open(task_path(sim_project, FACE, SEEDED_IDS["roi-self-intersecting"]))
    wait_drawn(page)
    # The bow tie: two filled triangles, nothing above or below the crossing.
    check_polygons(page, [(0, [[200, 500], [800, 500]], [[500, 200], [500, 800]])], dpr=1)
    session.assert_clean()


def test_script_in_a_name_or_description_is_shown_as_text(session_for, alice, sim_project):
    session = session_for(alice)
    page = session.page
    session.open(task_path(sim_project, FACE, SEEDED_IDS["xss"]))
    wait_drawn(page)
    assert page.text_content(".task-name") == "<script>alert(1)</script>"
    assert "<img src=x onerror=alert(2)>" in page.text_content(".task-description")
    session.open(f"/projects/{sim_project.public_id}/services/{FACE}/tasks/?name=script")
    assert page.get_by_text("<script>alert(1)</script>").count() >= 1
    page.wait_for_timeout(200)
    assert session.dialogs == []
    session.assert_clean()


def test_a_malformed_roi_shows_the_alert_and_the_rest_of_the_page(session_for, alice, sim_project):
    session = session_for(alice)
    page = session.page
    session.open(task_path(sim_project, FACE, SEEDED_IDS["roi-malformed"]))
    wait_drawn(page)
    assert page.is_visible("#roi-problems")
    assert "not valid JSON" in page.text_content("#roi-problems")
    assert page.is_visible("text=Service configuration")
    assert page.is_visible("#roi-canvas")
    assert page.get_attribute("#roi-canvas", "role") == "img"
    session.screenshot("task-detail-malformed-roi")
    session.assert_clean()


def test_the_png_download_has_the_frames_native_size(session_for, alice, sim_project, tmp_path):
    session = session_for(alice, dpr=2)
    page = session.page
    session.open(task_path(sim_project, FACE, SEEDED_IDS["roi-beyond-1080p"]))
    wait_drawn(page)
    with page.expect_download() as info:
        page.click("#roi-png")
    target = tmp_path / "roi.png"
    info.value.save_as(target)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (2560, 1440)
    assert info.value.suggested_filename == f"roi-{SEEDED_IDS['roi-beyond-1080p']}.png"
    session.assert_clean()


def test_hovering_a_row_highlights_its_shape(session_for, alice, sim_project):
    session = session_for(alice)
    page = session.page
    session.open(task_path(sim_project, NON_MOTOR, SEEDED_IDS["C"]))
    drawn = wait_drawn(page)
    before = sample(page, [[700, 600]])[0]
    page.hover("tr[data-shape-index='1']")
    wait_drawn(page, drawn)
    assert "highlight" in page.get_attribute("tr[data-shape-index='1']", "class")
    assert sample(page, [[700, 600]])[0] != before  # the hovered shape is drawn stronger
    session.screenshot("task-roi-highlighted", ".roi-section")
    label = page.get_attribute("#roi-canvas", "aria-label")
    assert "2 polygon(s)" in label
    session.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#roi-copy")
    page.wait_for_function("() => document.getElementById('roi-status').textContent.length > 0")
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied["polygons"][1] == {
        "data": [[311, 182], [282, 670], [941, 661], [835, 170]],
        "name": "prohibit_entering_area",
    }
    session.assert_clean()


def test_the_main_pages_render_without_console_errors(session_for, alice, sim_project, simulator):
    session = session_for(alice)
    page = session.page
    seed = SEEDED_IDS["seed"]
    # Two versions of the seed task, so the history has a change to show.
    task_fetch(project=sim_project, service=FACE, task_id=seed)
    doc = simulator.tasks[(FACE, seed)].doc
    doc["state"] = "STOPPED"
    doc["service_config"]["common"]["detection_min_size"] = 90
    task_fetch(project=sim_project, service=FACE, task_id=seed, refresh=True)
    task_fetch(project=sim_project, service=VEHICLE, task_id=SEEDED_IDS["B"])

    session.open(f"/projects/{sim_project.public_id}/")
    assert page.is_visible("#id_task_id")
    session.screenshot("project")

    page.fill("#id_task_id", SEEDED_IDS["A"])
    page.click("button:has-text('Open task')")
    page.wait_for_url(f"**{task_path(sim_project, FACE, SEEDED_IDS['A'])}")
    wait_drawn(page)
    created = page.locator('time[datetime="2024-03-01T02:15:07Z"]')
    assert "10:15:07" in created.text_content()  # the viewer's local time (UTC+8)...
    assert created.get_attribute("title") == "2024-03-01 02:15:07 UTC"  # ...UTC on hover
    assert "ago" in page.locator('[data-age-for="2024-03-01T02:15:07Z"]').text_content()
    session.screenshot("task-detail")

    session.open(f"/projects/{sim_project.public_id}/services/{FACE}/tasks/")
    assert page.locator("table.task-table tbody tr").count() >= 10
    session.screenshot("task-list")

    session.open(task_path(sim_project, VEHICLE, SEEDED_IDS["B"]))
    wait_drawn(page)
    assert "approach line" in page.text_content(".roi-table")
    session.screenshot("task-detail-vehicle-lines")

    session.open(task_path(sim_project, FACE, SEEDED_IDS["roi-negative"]))
    wait_drawn(page)
    session.screenshot("task-detail-outside-frame")

    session.open(task_path(sim_project, FACE, seed, "history/"))
    assert page.locator(".timeline-entry").count() == 2
    assert page.is_visible("text=detection_min_size")
    session.screenshot("task-history")

    older = page.locator(".timeline-entry").nth(1).locator("a:has-text('View this version')")
    older.click()
    page.wait_for_load_state("load")
    assert page.is_visible("text=This is not the latest version.")
    wait_drawn(page)
    session.screenshot("task-detail-old-version")

    session.open(task_path(sim_project, FACE, "ffffffffffffffffffffffffffffffff"), status=404)
    assert page.is_visible("text=Task not found")
    session.screenshot("task-error-not-found")
    session.assert_clean(allow_status_error=True)
