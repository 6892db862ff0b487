"""The site skeleton: strict settings, health check, security headers, login throttling."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent


def _start_settings(env_overrides: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()}
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd="/",  # away from the checkout's .env
        env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "PORTAL_CREDENTIALS_KEYS"])
def test_it_refuses_to_start_in_production_without_secrets(missing, tmp_path):
    result = _start_settings({"DEBUG": "false", missing: None})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_it_starts_in_production_with_secrets():
    result = _start_settings({"DEBUG": "false"})
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_healthz_answers_ok_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_healthz_names_a_broken_cache(client):
    broken = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    from django.core.cache import caches

    with override_settings(CACHES=broken):
        caches._settings = None  # let the handler read the new settings
        del caches.settings
        try:
            if hasattr(caches._connections, "default"):
                del caches._connections.default
            response = client.get("/healthz")
        finally:
            if hasattr(caches._connections, "default"):
                del caches._connections.default
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "cache": "error"}


@pytest.mark.django_db
def test_anonymous_root_ends_at_the_login_page(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain[0] == ("/dashboard/", 302)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert b"Log in" in response.content


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'self'" in script_src
    assert "unsafe-inline" not in script_src
    assert "style-src 'self'" in csp
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_login_is_locked_after_five_failures(client, alice, password):
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code in (200, 429)
    response = client.post("/accounts/login/", {"username": "alice", "password": password})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_works_with_the_right_password(client, alice, password):
    response = client.post("/accounts/login/", {"username": "alice", "password": password})
    assert response.status_code == 302
    assert client.get("/projects/").status_code == 200


@pytest.mark.django_db
def test_an_unknown_page_is_a_friendly_404(client, alice):
    client.force_login(alice)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content


@pytest.mark.django_db
def test_an_unknown_api_route_is_json(client):
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_a_disallowed_host_under_the_api_is_a_json_400(client):
    response = client.get("/api/v1/projects/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "bad_request"
    assert response.json()["error"]["message"] == "The request is malformed."


@pytest.mark.django_db
def test_a_disallowed_host_on_a_page_is_a_friendly_400(client):
    response = client.get("/projects/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    html = response.content.decode()
    assert "could not understand this request" in html
    assert "Traceback" not in html and "DisallowedHost" not in html
    # CommonMiddleware refuses the host before the CSP middleware runs: no inline code to protect.
    assert "<style" not in html and "<script" not in html


@pytest.mark.django_db
def test_the_400_message_follows_the_language(client):
    response = client.get(
        "/api/v1/projects/", HTTP_HOST="evil.example", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.json()["error"]["code"] == "bad_request"
    assert response.json()["error"]["message"] != "The request is malformed."
    page = client.get("/projects/", HTTP_HOST="evil.example", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "门户无法理解此请求" in page.content.decode()


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="bench.urls")
def test_the_bench_urlconf_keeps_the_json_400(client):
    response = client.get("/api/v1/projects/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
def test_it_has_no_missing_migrations():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_the_api_docs_page_has_no_inline_script_or_style(client):
    import re

    html = client.get("/api/docs/").content.decode()
    assert "<style" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
