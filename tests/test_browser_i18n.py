"""The Chinese interface in a real browser: a Chinese Chromium (Accept-Language zh-CN) gets the task
page, its canvas label and legend in Chinese; the top bar's switch to English sticks across pages.
Screenshots of the main pages in Chinese are saved to artifacts/screenshots/zh-*.png."""

from __future__ import annotations

import pytest

from tasks.services.task_fetch import task_fetch
from tests.test_browser_tasks import (  # noqa: F401 - `browser` is a fixture
    CHROMIUM_ARGS,
    CSP_RECORDER,
    SCREENSHOTS,
    WIDE,
    browser,
    task_path,
    wait_drawn,
)
from vassim.simulator import SEEDED_IDS

pytestmark = [pytest.mark.browser, pytest.mark.integration]

FACE = "c-face-edge"
VEHICLE = "c-vehicle-detection-edge"


@pytest.fixture
def chinese_page(browser, live_server, client, alice, sim_project, transactional_db):  # noqa: F811
    """alice, signed in, in a browser whose language is Chinese (zh-CN)."""
    client.force_login(alice)
    context = browser.new_context(
        viewport=WIDE, locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True
    )
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


def _open(page, url: str, status: int = 200):
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response.status)
    page.wait_for_load_state("load")


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"zh-{name}.png"), full_page=True)


def test_a_chinese_browser_gets_the_task_page_in_chinese(chinese_page, live_server, sim_project):
    page = chinese_page
    _open(page, live_server.url + task_path(sim_project, VEHICLE, SEEDED_IDS["B"]))
    wait_drawn(page)
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.locator("h2", has_text="服务配置").count() == 1
    assert page.locator("h2", has_text="感兴趣区域 (ROI)").count() == 1
    label = page.get_attribute("#roi-canvas", "aria-label")
    assert label.startswith("感兴趣区域 (ROI)，假定画面为"), label
    assert page.locator("#roi-canvas").text_content().startswith("感兴趣区域")
    # The legend: the coordinates table, its caption and its kinds.
    legend = page.locator(".roi-table")
    assert "坐标以画面像素为单位" in legend.locator("caption").text_content()
    assert legend.locator("th", has_text="类型").count() == 1
    assert "靠近线" in legend.text_content() or "离开线" in legend.text_content()
    # The script's words come from the page: the frame caption says "assumed" in Chinese.
    assert (
        page.evaluate("JSON.parse(document.getElementById('roi-strings').textContent).assumed")
        == "（假定）"
    )
    # Local times and ages in Chinese (Intl with the page's language).
    assert "前" in page.locator("[data-age-for]").first.text_content()
    assert page.locator("time.localtime").first.text_content()[:4].isdigit()
    assert "年" in page.locator("time.localtime").first.text_content()
    _shot(page, "task-detail")
    assert page.errors == []
    assert page.evaluate("window.__cspViolations") == []


def test_switching_to_english_sticks_across_pages(chinese_page, live_server, sim_project, alice):
    from tasks.models import UserPreference

    page = chinese_page
    task_fetch(project=sim_project, service=FACE, task_id=SEEDED_IDS["seed"])
    _open(page, live_server.url + "/projects/")
    assert page.locator("h1").text_content() == "项目"
    page.click("#language-switch")  # "English"
    page.wait_for_load_state("load")
    assert page.url == live_server.url + "/projects/"
    assert page.locator("h1").text_content() == "Projects"
    assert page.get_attribute("html", "lang") == "en"
    for path in (
        f"/projects/{sim_project.public_id}/",
        task_path(sim_project, FACE, SEEDED_IDS["seed"], "history/"),
        "/account/tokens/",
    ):
        _open(page, live_server.url + path)
        assert page.get_attribute("html", "lang") == "en", path
        assert page.locator("#language-switch").text_content() == "简体中文", path
    assert UserPreference.objects.get(user=alice).language == "en"
    # Back to Chinese from any page, and the page it was asked on comes back.
    page.click("#language-switch")
    page.wait_for_load_state("load")
    assert page.url.endswith("/account/tokens/")
    assert page.locator("h1").text_content() == "API 令牌"
    assert page.errors == []


def test_screenshots_of_the_main_pages_in_chinese(chinese_page, live_server, sim_project):
    page = chinese_page
    base = f"{live_server.url}/projects/{sim_project.public_id}"
    task_fetch(project=sim_project, service=FACE, task_id=SEEDED_IDS["A"])
    task_fetch(project=sim_project, service=FACE, task_id=SEEDED_IDS["seed"])
    pages = {
        "projects": (live_server.url + "/projects/", 200),
        "project": (base + "/", 200),
        "edit": (base + "/edit/", 200),
        "members": (base + "/members/", 200),
        "browse": (f"{base}/services/{FACE}/tasks/", 200),
        "history": (
            live_server.url + task_path(sim_project, FACE, SEEDED_IDS["seed"], "history/"),
            200,
        ),
        "task-face": (live_server.url + task_path(sim_project, FACE, SEEDED_IDS["A"]), 200),
        "roi-problems": (
            live_server.url + task_path(sim_project, FACE, SEEDED_IDS["roi-malformed"]),
            200,
        ),
        "task-error": (live_server.url + task_path(sim_project, FACE, "f" * 32), 404),
        "tokens": (live_server.url + "/account/tokens/", 200),
    }
    for name, (url, status) in pages.items():
        _open(page, url, status)
        assert page.get_attribute("html", "lang") == "zh-hans", name
        _shot(page, name)
    # The login page, signed out.
    page.context.clear_cookies()
    _open(page, live_server.url + "/accounts/login/")
    assert page.locator("h1").text_content() == "登录"
    _shot(page, "login")
