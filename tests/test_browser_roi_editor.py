"""The ROI editor, the reference still under the canvas and the task actions in Debian's Chromium.

Pixels are sampled through the published fit, as in tests/test_browser_tasks.py; the geometry
checks run the shared cases (tests/roi_geometry_cases.json) against the editor's own script.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from tasks.models import TaskSnapshot
from tasks.services.frames import frame_put
from tasks.services.task_fetch import task_fetch
from tests import test_browser_tasks as bt
from tests.test_browser_tasks import WIDE, canvas_state, check_layout, close, sample, task_path
from vassim.simulator import TASK_A_ID

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# The browser and the logged-in sessions of the task pages' browser tests.
browser = bt.browser
session_for = bt.session_for

FACE = "c-face-edge"
STATIC = Path(__file__).resolve().parent.parent / "static" / "js"
CASES = json.loads((Path(__file__).parent / "roi_geometry_cases.json").read_text())["cases"]
# The reference still: four solid quadrants, split at (960, 540).
QUADRANTS = {"tl": (220, 40, 40), "tr": (40, 180, 60), "bl": (40, 70, 220), "br": (230, 200, 40)}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def quadrant_png(width=1920, height=1080) -> bytes:
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    for name, box in (
        ("tl", (0, 0, half_w, half_h)),
        ("tr", (half_w, 0, width, half_h)),
        ("bl", (0, half_h, half_w, height)),
        ("br", (half_w, half_h, width, height)),
    ):
        image.paste(QUADRANTS[name], box)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def editor_path(project, task_id=TASK_A_ID) -> str:
    return task_path(project, FACE, task_id, "roi/edit/")


def wait_editor(page, after: int = 0) -> int:
    page.wait_for_function(
        "n => Number(document.getElementById('roi-editor-canvas').dataset.drawn || 0) > n",
        arg=after,
    )
    return int(page.get_attribute("#roi-editor-canvas", "data-drawn"))


def shapes(page) -> list:
    return json.loads(page.get_attribute("#roi-editor-canvas", "data-shapes"))


def problem_codes(page) -> list[str]:
    return page.eval_on_selector_all(
        "#editor-problems li[data-code]", "els => els.map(e => e.dataset.code)"
    )


def click_frame(page, fx: float, fy: float) -> None:
    """Clicks the editor canvas at frame point (fx, fy)."""
    fit = json.loads(page.get_attribute("#roi-editor-canvas", "data-fit"))
    box = page.locator("#roi-editor-canvas").bounding_box()
    page.mouse.click(
        box["x"] + fit["x"] + fx * fit["scale"], box["y"] + fit["y"] + fy * fit["scale"]
    )


def test_the_editors_checks_agree_with_the_servers_on_every_shared_case(browser):
    page = browser.new_page()
    try:
        page.set_content("<html><body></body></html>")
        page.add_script_tag(path=str(STATIC / "roi_geometry.js"))
        for case in CASES:
            found = page.evaluate(
                "c => RoiGeometry.shapeProblems(c.shapes, c.frame,"
                " RoiGeometry.limitsFor(c.service)).map(p => [p.code, p.shape])",
                case,
            )
            assert found == case["expect"], case["name"]
        # And the target_roi string is byte for byte the server's.
        from tasks.roi_geometry import target_roi_string

        for case in CASES:
            if not case["expect"]:  # the valid cases: their string, byte for byte
                text = page.evaluate("s => RoiGeometry.targetRoiString(s)", case["shapes"])
                assert text == target_roi_string(case["shapes"]), case["name"]
    finally:
        page.close()


def test_draw_a_polygon_with_the_mouse_preview_and_apply_then_see_the_history(
    session_for, alice, sim_project, simulator
):
    session = session_for(alice)
    page = session.page
    session.open(editor_path(sim_project))
    wait_editor(page)
    assert len(shapes(page)) == 1  # the task's "door"
    assert page.is_disabled("#roi-preview-button")  # nothing changed yet
    page.click("#add-polygon")
    for point in ([1000, 150], [1700, 150], [1700, 500]):
        click_frame(page, *point)
    assert page.is_disabled("#roi-preview-button")  # still drawing
    click_frame(page, 1000, 500)
    page.click("#finish-shape")
    page.fill("#shape-name", "loading bay")
    page.press("#shape-name", "Enter")
    drawn = shapes(page)
    assert drawn[1]["kind"] == "polygon" and drawn[1]["name"] == "loading bay"
    # Clicks land on whole frame pixels within a pixel of where they were aimed.
    for got, want in zip(
        drawn[1]["points"], [[1000, 150], [1700, 150], [1700, 500], [1000, 500]], strict=True
    ):
        assert abs(got[0] - want[0]) <= 2 and abs(got[1] - want[1]) <= 2
    assert problem_codes(page) == []
    page.click("#roi-preview-button")
    page.wait_for_selector("#roi-preview:not([hidden])")
    diff = page.inner_text("#roi-diff")
    assert "+" in diff and "loading bay" in diff
    assert "loading bay" in page.text_content("#roi-new-text")
    session.screenshot("roi-editor-preview")
    assert simulator.updates == []  # nothing sent before Apply
    page.click("#roi-apply")
    page.wait_for_selector("#apply-result.ok")
    sent = simulator.updates[-1]["body"]["service_config"]["common"]["target_roi"]
    assert json.loads(sent)["polygons"][1]["name"] == "loading bay"
    newest = TaskSnapshot.objects.filter(task__task_id=TASK_A_ID).order_by("-seq").first()
    assert str(newest.pk) in page.inner_text("#apply-result")
    session.screenshot("roi-editor-applied")
    page.click("#history-link")
    page.wait_for_load_state("load")
    assert "/history/" in page.url
    assert "loading bay" in page.content()  # the new version's change is listed
    session.screenshot("roi-history-after-apply")
    session.assert_clean()


def test_draw_a_polygon_with_the_keyboard_and_see_a_problem_block_apply(
    session_for, alice, sim_project, simulator
):
    session = session_for(alice)
    page = session.page
    session.open(editor_path(sim_project))
    wait_editor(page)
    page.focus("#add-polygon")
    page.keyboard.press("Enter")  # the button, by keyboard; the canvas takes the focus
    assert page.evaluate("document.activeElement.id") == "roi-editor-canvas"
    page.keyboard.press("a")
    page.keyboard.press("a")
    assert "too_few_points" in problem_codes(page)
    page.keyboard.press("a")  # three points on one horizontal line
    assert problem_codes(page) == ["zero_area"]
    page.keyboard.press("Enter")  # finish
    assert page.is_disabled("#roi-preview-button")
    session.screenshot("roi-editor-problem")
    for _ in range(10):
        page.keyboard.press("Shift+ArrowDown")  # the last point 100 px down
    page.keyboard.press("ArrowLeft")
    new = shapes(page)[1]["points"]
    assert new[2] == [new[1][0] + 96 - 1, 640]
    assert problem_codes(page) == []
    assert page.is_enabled("#roi-preview-button")
    # Undo and redo by keyboard.
    page.keyboard.press("Control+z")
    assert shapes(page)[1]["points"][2][0] == new[1][0] + 96
    page.keyboard.press("Control+y")
    assert shapes(page)[1]["points"][2] == new[2]
    # Select another point and delete it: a polygon of two points is a problem again.
    page.keyboard.press("[")
    page.keyboard.press("Delete")
    assert "too_few_points" in problem_codes(page) and page.is_disabled("#roi-preview-button")
    page.keyboard.press("Control+z")
    assert problem_codes(page) == []
    page.click("#roi-preview-button")
    page.click("#roi-apply")
    page.wait_for_selector("#apply-result.ok")
    assert (
        len(
            json.loads(simulator.updates[-1]["body"]["service_config"]["common"]["target_roi"])[
                "polygons"
            ]
        )
        == 2
    )
    session.assert_clean()


def test_a_line_gets_a_direction_and_side_names(session_for, alice, sim_project, simulator):
    session = session_for(alice)
    page = session.page
    session.open(editor_path(sim_project))
    wait_editor(page)
    page.click("#add-line")
    click_frame(page, 200, 900)
    click_frame(page, 1600, 900)
    page.fill("#side1-name", "outside")
    page.press("#side1-name", "Enter")
    page.fill("#side2-name", "inside")
    page.press("#side2-name", "Enter")
    page.click("#reverse-line")
    line = shapes(page)[1]
    assert line["kind"] == "line" and line["points"][0][0] > line["points"][1][0]
    assert line["properties"] == {"side1_name": "inside", "side2_name": "outside"}
    page.click("#delete-shape")
    assert len(shapes(page)) == 1
    page.click("#undo")
    assert len(shapes(page)) == 2
    session.screenshot("roi-editor-line", ".editor-grid")
    session.assert_clean()


def test_a_change_upstream_meanwhile_is_shown_as_a_conflict(
    session_for, alice, sim_project, simulator
):
    session = session_for(alice)
    page = session.page
    session.open(editor_path(sim_project))
    wait_editor(page)
    page.click("#add-line")
    click_frame(page, 100, 100)
    click_frame(page, 900, 100)
    page.click("#roi-preview-button")
    simulator.tasks[(FACE, TASK_A_ID)].doc["name"] = "renamed-meanwhile"  # another editor
    page.click("#roi-apply")
    page.wait_for_selector("#apply-result.error")
    assert page.locator("#reload-editor").count() == 1
    assert simulator.updates == []
    session.screenshot("roi-editor-conflict")
    session.assert_clean(allow_status_error=True)  # the 409 itself is logged by Chromium


@pytest.mark.parametrize("dpr", [1, 2])
def test_the_still_is_drawn_under_the_shapes_sharp_at_both_pixel_ratios(
    session_for, alice, sim_project, dpr, tmp_path
):
    task_fetch(project=sim_project, service=FACE, task_id=TASK_A_ID)
    frame_put(
        actor=alice, project=sim_project, service=FACE, task_id=TASK_A_ID, data=quadrant_png()
    )
    session = session_for(alice, dpr=dpr, viewport=WIDE)
    page = session.page
    session.open(task_path(sim_project, FACE, TASK_A_ID))
    page.wait_for_function("document.getElementById('roi-canvas').dataset.still === 'drawn'")
    check_layout(canvas_state(page), dpr=dpr)
    # Outside the door polygon (100..1800 × 100..1000) the still shows as it is; the quadrant
    # edge at x = 960 stays a sharp step a few pixels either side.
    points = {"tl": [50, 50], "tr": [1870, 50], "bl": [50, 1050], "br": [1500, 1030]}
    for name, colour in zip(points, sample(page, list(points.values())), strict=True):
        assert close(colour, QUADRANTS[name], tolerance=8), (name, colour)
    left, right = sample(page, [[955, 50], [965, 50]])
    assert close(left, QUADRANTS["tl"], tolerance=8) and close(right, QUADRANTS["tr"], tolerance=8)
    # Inside the polygon, the still shows through its translucent fill.
    inside = sample(page, [[300, 300]])[0]
    assert not close(inside, QUADRANTS["tl"], tolerance=8) and inside[0] > inside[2]
    session.screenshot(f"task-detail-with-still-dpr{dpr}", ".roi-section")
    # The PNG export is the frame at its native size, still included.
    with page.expect_download() as info:
        page.click("#roi-png")
    path = tmp_path / "roi.png"
    info.value.save_as(path)
    exported = Image.open(path).convert("RGB")
    assert exported.size == (1920, 1080)
    assert close(exported.getpixel((50, 50)), QUADRANTS["tl"], tolerance=8)
    assert close(exported.getpixel((1870, 1050 - 30)), QUADRANTS["br"], tolerance=12)
    # The editor draws the same still.
    session.open(task_path(sim_project, FACE, TASK_A_ID, "roi/edit/"))
    page.wait_for_function("document.getElementById('roi-editor-canvas').dataset.still === 'drawn'")
    fit = json.loads(page.get_attribute("#roi-editor-canvas", "data-fit"))
    assert fit["sx"] == dpr
    colour = page.evaluate(
        """([fx, fy]) => {
             const c = document.getElementById('roi-editor-canvas');
             const f = JSON.parse(c.dataset.fit);
             const x = Math.floor((f.x + fx * f.scale) * f.sx);
             const y = Math.floor((f.y + fy * f.scale) * f.sy);
             return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);
           }""",
        [1870, 50],
    )
    assert close(tuple(colour[:3]), QUADRANTS["tr"], tolerance=8)
    session.screenshot(f"roi-editor-with-still-dpr{dpr}")
    session.assert_clean()


def test_start_and_stop_buttons_ask_for_confirmation(session_for, alice, sim_project, simulator):
    session = session_for(alice)
    page = session.page
    session.open(task_path(sim_project, FACE, TASK_A_ID))
    assert not page.is_visible("#task-stop")  # behind the confirmation
    page.click("#stop-confirm summary")
    session.screenshot("task-stop-confirmation")
    page.click("#task-stop")
    page.wait_for_load_state("load")
    assert "STOPPING" in page.inner_text(".task-head")
    assert simulator.state_of(FACE, TASK_A_ID) == "STOPPING"
    session.assert_clean()


def test_viewers_do_not_get_the_editor_or_the_buttons(session_for, bob, sim_project):
    session = session_for(bob)
    page = session.page
    session.open(task_path(sim_project, FACE, TASK_A_ID))
    assert page.locator("#roi-edit-link, #stop-confirm, #start-confirm").count() == 0
    session.open(editor_path(sim_project), status=403)
    session.assert_clean(allow_status_error=True)


def test_the_editor_speaks_chinese(session_for, alice, sim_project):
    session = session_for(alice)
    page = session.page
    session.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": session.base}]
    )
    session.open(editor_path(sim_project))
    wait_editor(page)
    assert page.inner_text("#add-polygon") == "添加多边形"
    page.click("#add-polygon")
    click_frame(page, 100, 100)
    click_frame(page, 200, 200)
    page.click("#finish-shape")
    assert "多边形 至少需要 3 个" in page.inner_text("#editor-problems")
    session.screenshot("roi-editor-zh")
    session.assert_clean()
