"""`check --deploy` refuses a per-process cache in production unless one process serves (the
memo's revocations would not reach the others)."""

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
