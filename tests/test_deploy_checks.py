"""`check --deploy`: a per-process cache in production is refused unless one process serves (the
memo's revocations would not reach the others), and with production settings
`check --deploy --fail-level WARNING` passes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tasks.caching.checks import check_shared_cache
from tests.redis_fixtures import redis_cache_settings

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_a_per_process_cache_in_production_fails_check_deploy(settings, monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    settings.DEBUG, settings.CACHES = False, LOCMEM
    assert [error.id for error in check_shared_cache(None)] == ["tasks.E001"]
    with pytest.raises(SystemCheckError, match="tasks.E001"):
        call_command("check", deploy=True)


def test_one_process_with_threads_may_use_the_local_memory_cache(settings, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    settings.DEBUG, settings.CACHES = False, LOCMEM
    assert check_shared_cache(None) == []


def test_a_shared_cache_or_debug_passes(settings, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    settings.DEBUG, settings.CACHES = False, redis_cache_settings("redis://127.0.0.1:1/0")
    assert check_shared_cache(None) == []
    settings.DEBUG, settings.CACHES = True, LOCMEM
    assert check_shared_cache(None) == []


ROOT = Path(__file__).resolve().parent.parent


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DJANGO_"))}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "k" * 20 + "production-like-secret-key-with-enough-entropy-0123456789",
            "PORTAL_CREDENTIALS_KEYS": "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDAwMDAwMDAwMDA=",
            "ALLOWED_HOSTS": "portal.example.com",
            "CACHE_URL": "redis://127.0.0.1:6379/3",
            "DATABASE_URL": "sqlite:///unused-by-checks.sqlite3",
        }
    )
    env.update(extra)
    return env


def _manage(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_production_env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_deploy_checks_pass_at_warning_level_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_deployer_turns_hsts_preload_on_with_a_setting():
    show = "from django.conf import settings; print(settings.SECURE_HSTS_PRELOAD)"
    shell = ("shell", "--no-imports", "-c", show)
    assert _manage(*shell).stdout.strip() == "False"
    assert _manage(*shell, PORTAL_HSTS_PRELOAD="true").stdout.strip() == "True"
