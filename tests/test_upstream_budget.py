"""Upstream budgets: what reaches the upstream (cache misses, refreshes, task lists, polls) is
limited per user, pages and API together, and per project, as token buckets; over budget the
answer is 429 `throttled` with Retry-After (a readable page on the HTML side). The worker's polls
spend the project's budget only."""

import pytest
from django.test import Client

from tasks.caching.ratelimit import upstream_budget_take
from tasks.errors import PortalError
from tests.api_fixtures import token_client, token_for
from vassim.simulator import SEEDED_IDS

pytestmark = pytest.mark.django_db
SERVICE = "c-face-edge"


@pytest.fixture(autouse=True, params=["locmem", "redis"])
def backend(request) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def _api(project, task_id: str) -> str:
    return f"/api/v1/projects/{project.public_id}/services/{SERVICE}/tasks/{task_id}/"


def _page(project, task_id: str) -> str:
    return f"/projects/{project.public_id}/services/{SERVICE}/tasks/{task_id}/"


def test_a_user_over_budget_is_429_on_pages_and_api_together(settings, bob, sim_project, simulator):
    settings.PORTAL_UPSTREAM_USER_RATE = "3/min"
    api = token_client(token_for(bob))
    page = Client()
    page.force_login(bob)
    ids = [f"{0xABC000 + n:032x}" for n in range(4)]  # every distinct id misses the cache
    assert api.get(_api(sim_project, ids[0])).status_code == 404
    assert page.get(_page(sim_project, ids[1])).status_code == 404
    assert api.get(_api(sim_project, ids[2])).status_code == 404
    calls = simulator.count("GET")

    refused = api.get(_api(sim_project, ids[3]))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused["Retry-After"]) >= 1
    html = page.get(_page(sim_project, ids[3]))
    assert html.status_code == 429
    assert html["Content-Type"].startswith("text/html")
    assert int(html["Retry-After"]) >= 1
    assert simulator.count("GET") == calls  # nothing more reached the upstream


def test_cache_hits_spend_no_budget(settings, bob, sim_project):
    settings.PORTAL_UPSTREAM_USER_RATE = "1/min"
    api = token_client(token_for(bob))
    task = SEEDED_IDS["seed"]
    for _ in range(5):
        assert api.get(_api(sim_project, task)).status_code == 200


def test_the_project_budget_is_shared_by_every_user(settings, alice, bob, sim_project, simulator):
    settings.PORTAL_UPSTREAM_PROJECT_RATE = "2/min"
    assert token_client(token_for(alice)).get(_api(sim_project, f"{1:032x}")).status_code == 404
    assert token_client(token_for(bob)).get(_api(sim_project, f"{2:032x}")).status_code == 404
    refused = token_client(token_for(alice)).get(_api(sim_project, f"{3:032x}"))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"


def test_the_workers_polls_count_against_the_project_only(settings, bob, sim_project):
    settings.PORTAL_UPSTREAM_USER_RATE = "1/min"
    settings.PORTAL_UPSTREAM_PROJECT_RATE = "3/min"
    upstream_budget_take(project=sim_project, user=bob)  # bob's one call
    upstream_budget_take(project=sim_project)  # polls: the project's second and third
    upstream_budget_take(project=sim_project)
    with pytest.raises(PortalError) as caught:
        upstream_budget_take(project=sim_project)
    assert caught.value.code == "throttled"
    assert caught.value.http_status == 429
    assert caught.value.retry_after >= 1


def test_a_refused_call_spends_nothing(settings, alice, bob, sim_project):
    settings.PORTAL_UPSTREAM_USER_RATE = "1/min"
    settings.PORTAL_UPSTREAM_PROJECT_RATE = "2/min"
    upstream_budget_take(project=sim_project, user=bob)
    with pytest.raises(PortalError):
        upstream_budget_take(project=sim_project, user=bob)  # bob is out; the project is not
    upstream_budget_take(project=sim_project, user=alice)  # so the project's second is alice's


def test_the_task_list_spends_the_budget_on_a_miss(settings, bob, sim_project):
    settings.PORTAL_UPSTREAM_USER_RATE = "1/min"
    api = token_client(token_for(bob))
    url = f"/api/v1/projects/{sim_project.public_id}/services/{SERVICE}/tasks/"
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200  # cached
    assert api.get(url + "?state=RUNNING").status_code == 429


def test_acting_on_a_task_spends_the_admins_budget(settings, alice, sim_project, simulator):
    from tasks.services.task_actions import task_stop

    task_id = next(
        tid
        for (service, tid), task in simulator.tasks.items()
        if service == SERVICE and task.doc.get("state") == "RUNNING"
    )
    settings.PORTAL_UPSTREAM_USER_RATE = "2/min"
    # The stop fetches the task (a miss: alice's first call), then calls StopTask (her second).
    task_stop(actor=alice, project=sim_project, service=SERVICE, task_id=task_id)
    with pytest.raises(PortalError) as refused:
        upstream_budget_take(project=sim_project, user=alice)
    assert refused.value.code == "throttled"
