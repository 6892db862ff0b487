"""With the cache gone (a private Redis killed mid-test, or a closed port) the portal answers
slower, never with a 5xx: sessions come from the database, the memo is skipped, rate limits and
budgets allow, single-flight locks in-process, and `/healthz` says the cache is failing."""

import time

import pytest
from django.test import Client

from portal.cache import PAUSE
from tasks.caching.locks import NamedLock
from tests.api_fixtures import basic, token_client, token_for
from tests.redis_fixtures import redis_cache_settings
from vassim.simulator import SEED_TASK_ID

pytestmark = pytest.mark.django_db


def _api(project, suffix="") -> str:
    return f"/api/v1/projects/{project.public_id}/{suffix}"


def _page(project) -> str:
    return f"/projects/{project.public_id}/services/c-face-edge/tasks/{SEED_TASK_ID}/"


def _assert_healthz_names_the_cache():
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "cache": "error"}


def test_pages_and_the_api_keep_answering_when_redis_stops(
    redis_cache, alice, bob, password, sim_project
):
    api = token_client(token_for(bob))
    page = Client()
    page.force_login(bob)
    assert (
        api.get(_api(sim_project, f"services/c-face-edge/tasks/{SEED_TASK_ID}/")).status_code == 200
    )
    assert page.get(_page(sim_project)).status_code == 200

    redis_cache.stop()

    # Signed in before the outage: the session is read from the database.
    response = page.get(_page(sim_project))
    assert response.status_code == 200
    assert 'data-source="' in response.content.decode()
    assert page.get(f"/projects/{sim_project.public_id}/").status_code == 200
    # The API: Redis' entries are out of reach; the page's fetch above is kept by this process.
    task = api.get(_api(sim_project, f"services/c-face-edge/tasks/{SEED_TASK_ID}/"))
    assert task.status_code == 200
    assert task.json()["meta"]["source"] == "cache"
    assert api.get(_api(sim_project)).status_code == 200
    # A new sign-in, a new token, a sign-out: all written to the database.
    fresh = Client()
    login = fresh.post("/accounts/login/", {"username": "alice", "password": password})
    assert login.status_code == 302
    assert fresh.get("/projects/").status_code == 200
    created = Client().post(
        "/api/v1/auth/token/", {}, "application/json", HTTP_AUTHORIZATION=basic("alice", password)
    )
    assert created.status_code == 200
    assert token_client(created.json()["token"]).post("/api/v1/auth/logout/").status_code == 204
    assert fresh.post("/accounts/logout/").status_code in (200, 302)
    assert fresh.get("/projects/").status_code == 302  # signed out
    _assert_healthz_names_the_cache()

    redis_cache.start()
    time.sleep(PAUSE + 0.1)  # Redis is asked again at most PAUSE after it last failed
    assert Client().get("/healthz").status_code == 200


def test_revocation_still_applies_while_redis_is_down(redis_cache, alice, project):
    from tasks.services.tokens import token_create, token_revoke

    instance, key = token_create(user=alice, expires_days=1)
    client = token_client(key)
    for _ in range(2):  # memoised
        assert client.get(_api(project)).status_code == 200
    redis_cache.stop()
    token_revoke(user=alice, token=instance)
    assert client.get(_api(project)).status_code == 401


def test_a_lock_falls_back_to_this_process_while_redis_is_down(redis_cache):
    redis_cache.stop()
    first = NamedLock("k", timeout=5)
    assert first.acquire()
    assert not NamedLock("k", timeout=5).acquire()
    first.release()
    assert NamedLock("k", timeout=5).acquire()


def test_nothing_listening_at_the_cache_address_is_no_5xx(settings, client, bob, project):
    settings.CACHES = redis_cache_settings("redis://127.0.0.1:1/0")  # nothing listens on port 1
    client.force_login(bob)
    assert client.get(f"/projects/{project.public_id}/").status_code == 200
    assert token_client(token_for(bob)).get(_api(project)).status_code == 200
    _assert_healthz_names_the_cache()


def test_during_the_outage_each_process_keeps_task_documents_itself(
    redis_cache, bob, sim_project, simulator
):
    api = token_client(token_for(bob))
    url = _api(sim_project, f"services/c-face-edge/tasks/{SEED_TASK_ID}/")
    redis_cache.stop()
    assert api.get(url).json()["meta"]["source"] == "upstream"
    calls = simulator.count("GET")
    assert api.get(url).json()["meta"]["source"] == "cache"  # not the upstream again
    assert simulator.count("GET") == calls
