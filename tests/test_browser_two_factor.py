"""Two-factor login in a real browser (Debian's Chromium, Playwright): enrol from the QR page's
key with a real TOTP code, sign out, sign in through the code page; no CSP violation on the way."""

from __future__ import annotations

import pytest

from tests.test_browser_tasks import CSP_RECORDER, browser  # noqa: F401 - the module fixture
from tests.test_two_factor import code_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def test_enrol_then_sign_in_with_a_real_code(browser, live_server, alice, password):  # noqa: F811
    context = browser.new_context()
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    base = live_server.url

    def sign_in() -> None:
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", password)
        page.click("button[type=submit].primary")

    sign_in()
    page.click("text=Two-factor login")
    assert page.locator("img[src^='data:image/svg+xml']").is_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#id_code", code_for(secret))
    page.click("text=Turn on")
    assert page.locator("#recovery-codes li").count() == 10
    page.click("text=Log out")

    sign_in()
    assert "/account/two-factor/verify/" in page.url
    page.goto(f"{base}/projects/")
    assert "/account/two-factor/verify/" in page.url  # nothing else before the code
    page.fill("#id_code", code_for(secret, 30))
    page.click("text=Continue")
    assert page.url.endswith("/projects/")
    assert page.evaluate("window.__cspViolations") == []
    # Chromium's own favicon probe may log a 404 that no page response shows.
    assert [e for e in errors if "the server responded with a status" not in e] == []
    assert missing == []
    context.close()
