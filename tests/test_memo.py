"""The memo of hot lookups and the request's one cache read: every change that matters takes
effect on the very next request, nothing secret is cached, and a warm request makes no SQL and
one cache round trip (API) or two (the task page: its session, then its read). Every test runs on
the local-memory cache and on a private Redis."""

import pickle
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from knox.crypto import hash_token

from tasks.access import get_project_for_user
from tasks.caching import memo
from tasks.models import ApiToken, CloudProject, Membership, Role, TrackedTask
from tasks.services.members import member_add, member_remove, member_set_role
from tasks.services.projects import project_update
from tasks.services.tokens import token_create, token_revoke
from tests.api_fixtures import SECRET_VALUES, assert_error, token_client, token_for
from vassim.simulator import DEFAULT_SK, SEED_TASK_ID

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["locmem", "redis"])
def cache_backend(request) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def _url(project, suffix="") -> str:
    return f"/api/v1/projects/{project.public_id}/{suffix}"


def _warm(client, url: str) -> None:
    """Twice: the first request fills the memo, the second is served from it."""
    for _ in range(2):
        assert client.get(url).status_code == 200


def _raw_cache() -> dict[str, bytes]:
    """Every key of this cache and its value as stored: local memory, or Redis (CACHE_URL)."""
    raw: Any = cache._cache  # type: ignore[attr-defined]
    if hasattr(raw, "get_client"):
        client = raw.get_client()
        return {
            # Upstream budgets are hashes (tokens, time): their fields and values, as stored.
            key.decode(): client.get(key)
            if client.type(key) == b"string"
            else repr(client.hgetall(key)).encode()
            for key in client.scan_iter(cache.make_key("*"))
        }
    return dict(raw)


def _cache_values() -> list[bytes]:
    """Every value in the cache as stored (pickled) and as the repr of what it holds."""
    stored = _raw_cache().values()
    assert stored, "the memo should have filled the cache"
    found = []
    for raw in stored:
        try:
            found += [raw, repr(pickle.loads(raw)).encode()]
        except (pickle.UnpicklingError, ValueError):  # Redis keeps integers (rate counters) and
            # hashes (budgets) unpickled
            found.append(raw)
    return found


# ---- tokens --------------------------------------------------------------------------------------


def test_a_revoked_token_is_401_on_the_next_request(alice, project):
    instance, key = token_create(user=alice, expires_days=1)
    client = token_client(key)
    _warm(client, _url(project))
    token_revoke(user=alice, token=instance)
    assert_error(client.get(_url(project)), 401, "authentication_failed")


def test_logout_is_401_on_the_next_request(alice, project):
    client = token_client(token_for(alice))
    _warm(client, _url(project))
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert_error(client.get(_url(project)), 401, "authentication_failed")


def test_a_token_that_expires_while_cached_is_401_and_deleted(alice, project, monkeypatch):
    instance, key = token_create(user=alice, expires_days=1)
    client = token_client(key)
    _warm(client, _url(project))
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert_error(client.get(_url(project)), 401, "authentication_failed")
    assert not ApiToken.objects.filter(pk=instance.pk).exists()


def test_a_deactivated_user_is_401_on_the_next_request(alice, project):
    client = token_client(token_for(alice))
    _warm(client, _url(project))
    alice.is_active = False
    alice.save()
    assert_error(client.get(_url(project)), 401, "authentication_failed")


def test_a_deleted_user_is_401_on_the_next_request(charlie, project):
    client = token_client(token_for(charlie))
    _warm(client, "/api/v1/projects/")
    charlie.delete()
    assert_error(client.get("/api/v1/projects/"), 401, "authentication_failed")


def test_last_used_is_still_written_at_most_once_a_minute(alice, project, monkeypatch):
    instance, key = token_create(user=alice, expires_days=1)
    client = token_client(key)
    _warm(client, _url(project))
    first = ApiToken.objects.get(pk=instance.pk).last_used_at
    assert first is not None
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    _warm(client, _url(project))
    assert ApiToken.objects.get(pk=instance.pk).last_used_at == later


def test_a_junk_token_leaves_nothing_in_the_cache(alice):
    token_for(alice)
    junk = "ab" * 32
    assert_error(token_client(junk).get("/api/v1/projects/"), 401, "authentication_failed")
    assert not [key for key in _raw_cache() if hash_token(junk) in key]


# ---- project access ------------------------------------------------------------------------------


def test_a_removed_member_is_404_on_the_next_request(alice, bob, project):
    client = token_client(token_for(bob))
    _warm(client, _url(project))
    member_remove(actor=alice, membership=Membership.objects.get(user=bob, project=project))
    assert_error(client.get(_url(project)), 404)


def test_a_demoted_admin_is_403_on_the_next_request(alice, charlie, project):
    member_add(actor=alice, project=project, username="charlie", role=Role.ADMIN)
    client = token_client(token_for(charlie))
    _warm(client, _url(project, "members/"))
    assert client.patch(_url(project), {"cache_ttl": 60}, "application/json").status_code == 200
    member_set_role(
        actor=alice, membership=Membership.objects.get(user=charlie, project=project), role="viewer"
    )
    response = client.patch(_url(project), {"cache_ttl": 61}, "application/json")
    assert_error(response, 403)
    assert client.get(_url(project)).json()["role"] == "viewer"


def test_a_demoted_superuser_is_404_on_the_next_request(superuser, project):
    client = token_client(token_for(superuser))
    _warm(client, _url(project))
    assert client.get(_url(project)).json()["role"] == "admin"
    superuser.is_superuser = False
    superuser.save()
    assert_error(client.get(_url(project)), 404)


def test_a_new_member_is_let_in_on_the_next_request(alice, charlie, project):
    client = token_client(token_for(charlie))
    assert_error(client.get(_url(project)), 404)
    member_add(actor=alice, project=project, username="charlie", role=Role.VIEWER)
    assert client.get(_url(project)).status_code == 200


def test_project_edits_are_seen_on_the_next_request(alice, bob, project):
    client = token_client(token_for(bob))
    _warm(client, _url(project))
    version = CloudProject.objects.get(pk=project.pk).credentials_version
    project_update(actor=alice, project=project, fields={"cache_ttl": 77})
    assert client.get(_url(project)).json()["cache_ttl"] == 77
    project_update(
        actor=alice, project=project, fields={}, secrets={"access_key": "AKNEWVALUE5678"}
    )
    assert client.get(_url(project)).json()["access_key_hint"].endswith("5678")
    assert get_project_for_user(bob, project.public_id).credentials_version == version + 1


def test_a_deleted_project_is_404_on_the_next_request(alice, project):
    client = token_client(token_for(alice))
    _warm(client, _url(project))
    assert client.delete(_url(project)).status_code == 204
    assert_error(client.get(_url(project)), 404)


def test_a_connection_check_result_is_seen_on_the_next_request(bob, project):
    client = token_client(token_for(bob))
    _warm(client, _url(project))
    project.last_check_ok = False
    project.last_check_result = {"code": "upstream_auth_failed", "params": {}}
    project.last_check_at = timezone.now()
    # As project_check writes it.
    project.save(update_fields=["last_check_ok", "last_check_result", "last_check_at"])
    assert client.get(_url(project)).json()["last_check"]["message"] == (
        "The VAS upstream refused the project's credentials. Ask a project admin to check or "
        "replace them."
    )


def test_a_memoised_project_loads_all_its_secrets_in_one_query(
    bob, project, secrets, django_assert_num_queries
):
    get_project_for_user(bob, project.public_id)
    from_memo = get_project_for_user(bob, project.public_id)
    assert set(CloudProject.SECRET_COLUMNS) <= from_memo.get_deferred_fields()
    with django_assert_num_queries(1):
        assert from_memo.credentials() == secrets
        assert from_memo.access_key_display.endswith(secrets["access_key"][-4:])


def test_a_fill_that_raced_a_change_is_never_served(alice, bob, project):
    _, epochs = memo.project_get(bob.pk, project.public_id)
    # The change lands between the fill's epoch read and its write: the write is dead on arrival.
    project_update(actor=alice, project=project, fields={"cache_ttl": 5})
    filled = CloudProject.objects.defer(*CloudProject.SECRET_COLUMNS).get(pk=project.pk)
    filled.role = Role.VIEWER
    memo.project_put(epochs, bob.pk, filled)
    assert memo.project_get(bob.pk, project.public_id)[0] is None


# ---- what the cache holds, and what it saves -----------------------------------------------------


def test_no_secret_is_in_any_cache_value(alice, bob, sim_project, superuser):
    keys = [token_for(user) for user in (alice, bob, superuser)]
    for key in keys:
        client = token_client(key)
        _warm(client, _url(sim_project))
        _warm(client, _url(sim_project, f"services/c-face-edge/tasks/{SEED_TASK_ID}/"))
    row = CloudProject.objects.get(pk=sim_project.pk)
    forbidden = [
        *SECRET_VALUES,
        DEFAULT_SK,
        *(
            getattr(row, column)
            for column in CloudProject.SECRET_COLUMNS
            if column.endswith("_enc")
        ),
        *(user.password for user in type(alice).objects.all()),
        *keys,
        *ApiToken.objects.values_list("digest", flat=True),
    ]
    forbidden = [value.encode() for value in forbidden if value]
    assert len(forbidden) > 10
    for value in _cache_values():
        for secret in forbidden:
            assert secret not in value


def test_a_warm_cached_task_request_makes_no_sql(bob, sim_project, django_assert_num_queries):
    client = token_client(token_for(bob))
    url = _url(sim_project, f"services/c-face-edge/tasks/{SEED_TASK_ID}/")
    _warm(client, url)
    with django_assert_num_queries(0):
        response = client.get(url)
    assert response.status_code == 200
    assert response.json()["meta"]["source"] == "cache"


# ---- pages: the session's user, the watched flag, the body ---------------------------------------


def _page(project, task_id=SEED_TASK_ID) -> str:
    return f"/projects/{project.public_id}/services/c-face-edge/tasks/{task_id}/"


def test_a_warm_task_page_makes_no_sql(client, bob, sim_project, django_assert_num_queries):
    client.force_login(bob)
    _warm(client, _page(sim_project))
    with django_assert_num_queries(0):
        response = client.get(_page(sim_project))
    assert response.status_code == 200
    assert 'data-source="cache"' in response.content.decode()


def test_a_password_change_ends_a_memoised_session(client, bob, sim_project):
    client.force_login(bob)
    _warm(client, _page(sim_project))
    bob.set_password("a-brand-new-long-password")
    bob.save()
    response = client.get(_page(sim_project))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_deactivated_user_is_signed_out_on_the_next_page(client, bob, sim_project):
    client.force_login(bob)
    _warm(client, _page(sim_project))
    bob.is_active = False
    bob.save()
    assert client.get(_page(sim_project)).status_code == 302


def test_a_removed_member_gets_the_page_404_on_the_next_request(client, alice, bob, sim_project):
    client.force_login(bob)
    _warm(client, _page(sim_project))
    member_remove(actor=alice, membership=Membership.objects.get(user=bob, project=sim_project))
    assert client.get(_page(sim_project)).status_code == 404


def test_watching_shows_on_the_next_page(client, alice, sim_project):
    client.force_login(alice)
    _warm(client, _page(sim_project))
    assert 'aria-pressed="false"' in client.get(_page(sim_project)).content.decode()
    client.post(_page(sim_project) + "watch/", {"watched": "1"})
    assert 'aria-pressed="true"' in client.get(_page(sim_project)).content.decode()
    client.post(_page(sim_project) + "watch/", {"watched": "0"})
    assert 'aria-pressed="false"' in client.get(_page(sim_project)).content.decode()


def test_a_new_version_of_the_task_shows_its_own_body(client, bob, sim_project, simulator):
    client.force_login(bob)
    _warm(client, _page(sim_project))
    simulator.tasks[("c-face-edge", SEED_TASK_ID)].doc["description"] = "a-brand-new-description"
    html = client.get(_page(sim_project) + "?refresh=1").content.decode()
    assert "a-brand-new-description" in html
    assert "a-brand-new-description" in client.get(_page(sim_project)).content.decode()


def test_the_body_follows_the_language(client, bob, sim_project):
    client.force_login(bob)
    english = client.get(_page(sim_project), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(_page(sim_project)).content.decode()
    assert "Service configuration" in english
    assert "Service configuration" not in chinese
    assert 'lang="zh-hans"' in chinese


def test_an_older_version_is_shown_with_its_own_body(client, bob, sim_project, simulator):
    client.force_login(bob)
    _warm(client, _page(sim_project))
    first = TrackedTask.objects.get(task_id=SEED_TASK_ID).snapshots.get()
    simulator.tasks[("c-face-edge", SEED_TASK_ID)].doc["description"] = "the-second-version"
    client.get(_page(sim_project) + "?refresh=1")
    old = client.get(_page(sim_project) + f"?snapshot={first.pk}").content.decode()
    assert "the-second-version" not in old
    assert "the-second-version" in client.get(_page(sim_project)).content.decode()


# ---- cache round trips (Redis) ------------------------------------------------------------------


def test_a_warm_task_api_request_is_one_cache_round_trip(
    bob, sim_project, cache_backend, redis_round_trips
):
    if cache_backend != "redis":
        pytest.skip("counts Redis round trips")
    client = token_client(token_for(bob))
    url = _url(sim_project, f"services/c-face-edge/tasks/{SEED_TASK_ID}/")
    _warm(client, url)
    with redis_round_trips() as trips:
        assert client.get(url).status_code == 200
    assert trips.count == 1


def test_a_warm_task_page_is_at_most_two_cache_round_trips(
    client, bob, sim_project, cache_backend, redis_round_trips
):
    if cache_backend != "redis":
        pytest.skip("counts Redis round trips")
    client.force_login(bob)
    _warm(client, _page(sim_project))
    with redis_round_trips() as trips:
        assert client.get(_page(sim_project)).status_code == 200
    assert trips.count <= 2
