"""Task endpoints against the live simulator: the contract's {task, roi, meta}, stale answers,
upstream errors as the contract's codes, watching, snapshots, tracked tasks, the upstream list,
and the same data and source as the task page."""

import json

import pytest

from tasks.models import TrackedTask
from tasks.services.task_fetch import task_fetch
from tests.api_fixtures import assert_error, assert_no_secrets
from vassim.simulator import SEED_TASK_ID, SEEDED_IDS, TASK_B_ID

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SVC = "c-face-edge"


def _task_url(project, task_id=SEED_TASK_ID, service=SVC, suffix=""):
    return f"/api/v1/projects/{project.public_id}/services/{service}/tasks/{task_id}/{suffix}"


def test_it_answers_task_roi_and_meta(api, sim_project, simulator):
    response = api("viewer").get(_task_url(sim_project))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"task", "roi", "meta"}
    assert body["task"]["id"] == SEED_TASK_ID
    assert set(body["meta"]) >= {
        "source",
        "fetched_at",
        "age_seconds",
        "snapshot_id",
        "upstream_request_id",
        "error",
    }
    assert body["meta"]["source"] == "upstream" and body["meta"]["error"] is None
    assert body["roi"]["shapes"] and body["roi"]["frame"]["width"] == 1920
    again = api("viewer").get(_task_url(sim_project)).json()
    assert again["meta"]["source"] == "cache"
    assert again["task"] == body["task"]
    assert simulator.count(SEED_TASK_ID) == 1


def test_roi_is_the_tasks_normalised_roi(api, sim_project):
    task = api("viewer").get(_task_url(sim_project, TASK_B_ID, "c-vehicle-detection-edge")).json()
    roi = (
        api("viewer")
        .get(_task_url(sim_project, TASK_B_ID, "c-vehicle-detection-edge", "roi/"))
        .json()
    )
    assert roi == task["roi"]
    assert {shape["kind"] for shape in roi["shapes"]} == {"line", "polygon"}


def test_refresh_true_goes_upstream(api, sim_project, simulator):
    client = api("viewer")
    client.get(_task_url(sim_project))
    assert client.get(_task_url(sim_project) + "?refresh=true").json()["meta"]["source"] == (
        "upstream"
    )
    assert simulator.count(SEED_TASK_ID) == 2


def test_refresh_must_be_a_boolean(api, sim_project):
    error = assert_error(api("viewer").get(_task_url(sim_project) + "?refresh=perhaps"), 400)
    assert error["code"] == "invalid" and "refresh" in error["details"]


def test_refresh_is_rate_limited_per_user(api, sim_project, settings):
    settings.PORTAL_REFRESH_RATE = "2/min"
    client = api("viewer")
    for _ in range(2):
        assert client.get(_task_url(sim_project) + "?refresh=true").status_code == 200
    assert_error(client.get(_task_url(sim_project) + "?refresh=true"), 429, "throttled")
    # Reads through the cache are not refreshes.
    assert client.get(_task_url(sim_project)).status_code == 200


@pytest.mark.parametrize(
    ("service", "task_id", "code"),
    [
        (SVC, "bad.id", "invalid_task_id"),
        (SVC, "x" * 65, "invalid_task_id"),
        (SVC, "%C3%A9t%C3%A9", "invalid_task_id"),
        ("bad.service", SEED_TASK_ID, "invalid_service"),
        ("%20", SEED_TASK_ID, "invalid_service"),
    ],
)
@pytest.mark.parametrize("suffix", ["", "roi/", "snapshots/", "watch/"])
def test_malformed_identifiers_are_400_before_any_call(
    api, sim_project, simulator, service, task_id, code, suffix
):
    client = api("admin")
    url = _task_url(sim_project, task_id, service, suffix)
    response = client.put(url) if suffix == "watch/" else client.get(url)
    assert_error(response, 400, code)
    assert simulator.count() == 0


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("401", 502, "upstream_auth_failed"),
        ("403", 502, "upstream_forbidden"),
        ("html", 502, "upstream_invalid_response"),
        ("malformed_json", 502, "upstream_invalid_response"),
        ("503", 503, "upstream_unavailable"),
    ],
)
def test_upstream_errors_are_the_contracts_codes(api, sim_project, simulator, fault, status, code):
    simulator.set_fault(SEED_TASK_ID, fault)
    error = assert_error(api("viewer").get(_task_url(sim_project)), status, code)
    if fault in ("401", "403", "503"):
        assert error["upstream"]["status"] == int(fault)
        assert set(error["upstream"]) == {"status", "error_code", "error_msg", "request_id"}


def test_an_unknown_task_is_404_task_not_found_with_upstream_details(api, sim_project):
    error = assert_error(api("viewer").get(_task_url(sim_project, "0" * 32)), 404, "task_not_found")
    assert error["upstream"]["status"] == 404


def test_a_rate_limited_upstream_is_503_with_retry_after(api, sim_project, simulator):
    simulator.set_fault(SEED_TASK_ID, "429", retry_after=7)
    response = api("viewer").get(_task_url(sim_project))
    assert_error(response, 503, "upstream_unavailable")
    assert response["Retry-After"] == "7"


def test_a_timeout_is_504(api, sim_project, simulator, settings):
    settings.PORTAL_UPSTREAM_TIMEOUT = (1.0, 0.3)
    simulator.set_fault(SEED_TASK_ID, "delay", seconds=1.0)
    assert_error(api("viewer").get(_task_url(sim_project)), 504, "upstream_timeout")


def test_a_failing_upstream_with_a_copy_is_200_stale(api, sim_project, simulator):
    client = api("viewer")
    first = client.get(_task_url(sim_project)).json()
    simulator.set_fault(SEED_TASK_ID, "503")
    response = client.get(_task_url(sim_project) + "?refresh=true")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["source"] == "stale"
    assert body["meta"]["error"]["code"] == "upstream_unavailable"
    assert body["task"] == first["task"]


def test_credentials_that_cannot_be_decrypted_are_409(api, sim_project):
    sim_project.secret_key_enc = "not-a-fernet-token"
    sim_project.credentials_version += 1  # no signer built from the old secrets applies
    sim_project.save()
    assert_error(api("viewer").get(_task_url(sim_project)), 409, "credentials_unavailable")


def test_webhook_secrets_never_leave_the_portal(api, sim_project):
    task_id = SEEDED_IDS["webhook-secret"]
    client = api("admin")
    for suffix in ("", "roi/", "snapshots/"):
        response = client.get(_task_url(sim_project, task_id, suffix=suffix))
        assert response.status_code == 200
        assert_no_secrets(response)
    snapshot = client.get(_task_url(sim_project, task_id)).json()["meta"]["snapshot_id"]
    response = client.get(_task_url(sim_project, task_id, suffix=f"snapshots/{snapshot}/"))
    assert response.status_code == 200
    assert_no_secrets(response)
    headers = response.json()["payload"]["output"]["webhook"]["headers"]
    assert headers["Authorization"] == "******"


# ---- watch, tracked tasks, snapshots -------------------------------------------------------------


def test_an_admin_watches_and_unwatches_a_task(api, sim_project):
    client = api("admin")
    response = client.put(_task_url(sim_project, suffix="watch/"))
    assert response.status_code == 200
    assert response.json()["watched"] is True and response.json()["task_id"] == SEED_TASK_ID
    assert TrackedTask.objects.get(task_id=SEED_TASK_ID).watched
    tracked = client.get(f"/api/v1/projects/{sim_project.public_id}/tasks/?watched=true").json()
    assert [t["task_id"] for t in tracked["results"]] == [SEED_TASK_ID]
    assert client.delete(_task_url(sim_project, suffix="watch/")).json()["watched"] is False
    tracked = client.get(f"/api/v1/projects/{sim_project.public_id}/tasks/?watched=true").json()
    assert tracked["count"] == 0


def test_watching_a_task_the_upstream_does_not_have_is_404(api, sim_project):
    response = api("admin").put(_task_url(sim_project, "f" * 32, suffix="watch/"))
    assert_error(response, 404, "task_not_found")


def test_tracked_tasks_filter_by_state_service_and_watched(api, sim_project):
    for task_id, service in ((SEED_TASK_ID, SVC), (TASK_B_ID, "c-vehicle-detection-edge")):
        task_fetch(project=sim_project, service=service, task_id=task_id)
    client = api("viewer")
    base = f"/api/v1/projects/{sim_project.public_id}/tasks/"
    assert client.get(base).json()["count"] == 2
    only = client.get(base + "?service=c-vehicle-detection-edge").json()["results"]
    assert [t["task_id"] for t in only] == [TASK_B_ID]
    assert client.get(base + "?state=RUNNING").json()["count"] >= 1
    assert client.get(base + "?state=NOPE").json()["count"] == 0
    assert client.get(base + "?watched=false").json()["count"] == 2
    assert "watched" in assert_error(client.get(base + "?watched=perhaps"), 400)["details"]
    page = client.get(base + "?page_size=1").json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]


def test_snapshots_list_newest_first_and_show_changes(api, sim_project, simulator):
    task_id = SEEDED_IDS["lifecycle-fetch"]
    client = api("viewer")
    for _ in range(3):
        client.get(_task_url(sim_project, task_id) + "?refresh=true")
    listing = client.get(_task_url(sim_project, task_id, suffix="snapshots/")).json()
    assert listing["count"] >= 2
    seqs = [s["seq"] for s in listing["results"]]
    assert seqs == sorted(seqs, reverse=True)
    assert "payload" not in listing["results"][0]
    newest = listing["results"][0]["id"]
    detail = client.get(_task_url(sim_project, task_id, suffix=f"snapshots/{newest}/")).json()
    assert detail["payload"]["id"] == task_id
    assert any(change["path"].startswith("state") for change in detail["changes"]), detail[
        "changes"
    ]


def test_snapshots_of_a_task_never_fetched_are_404(api, sim_project):
    assert_error(
        api("viewer").get(_task_url(sim_project, "a" * 32, suffix="snapshots/")), 404, "not_found"
    )


def test_an_unknown_or_malformed_snapshot_id_is_404(api, sim_project):
    task_fetch(project=sim_project, service=SVC, task_id=SEED_TASK_ID)
    client = api("viewer")
    assert_error(client.get(_task_url(sim_project, suffix="snapshots/999999/")), 404)
    assert_error(client.get(_task_url(sim_project, suffix="snapshots/abc/")), 404)


# ---- the upstream's task list --------------------------------------------------------------------


def test_the_upstream_list_is_proxied_with_filters(api, sim_project):
    client = api("viewer")
    url = f"/api/v1/projects/{sim_project.public_id}/services/{SVC}/tasks/"
    body = client.get(url + "?limit=2").json()
    assert set(body) == {"count", "tasks", "meta"}
    assert len(body["tasks"]) <= 2 and body["count"] >= len(body["tasks"])
    assert set(body["tasks"][0]) == {
        "id",
        "name",
        "state",
        "service_version",
        "created_at",
        "updated_at",
    }
    running = client.get(url + "?state=RUNNING&limit=100").json()
    assert running["tasks"] and all(t["state"] == "RUNNING" for t in running["tasks"])


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=101", "invalid"),
        ("limit=0", "invalid"),
        ("offset=-1", "invalid"),
        ("limit=ten", "invalid"),
        ("state=BOGUS", "invalid_state"),
    ],
)
def test_the_upstream_list_validates_its_filters(api, sim_project, query, code):
    url = f"/api/v1/projects/{sim_project.public_id}/services/{SVC}/tasks/?{query}"
    assert_error(api("viewer").get(url), 400, code)


# ---- the page and the API say the same thing -----------------------------------------------------


def _page_and_api(client_page, client_api, project, task_id):
    page = client_page.get(f"/projects/{project.public_id}/services/{SVC}/tasks/{task_id}/")
    assert page.status_code == 200
    answer = client_api.get(_task_url(project, task_id))
    assert answer.status_code == 200
    return page, answer.json()


@pytest.mark.parametrize("situation", ["cache", "stale"])
def test_the_page_and_the_api_show_the_same_task_and_source(
    api, client, bob, sim_project, simulator, situation
):
    task_fetch(project=sim_project, service=SVC, task_id=SEED_TASK_ID)  # one copy, cached
    if situation == "stale":
        sim_project.cache_ttl = 0  # every read goes upstream, which now fails
        sim_project.save()
        simulator.set_fault(SEED_TASK_ID, "503")
    client.force_login(bob)
    page, body = _page_and_api(client, api("viewer"), sim_project, SEED_TASK_ID)
    assert page.context["meta"]["source"] == body["meta"]["source"] == situation
    assert f'data-source="{situation}"' in page.content.decode()
    assert json.loads(page.context["raw_json"]) == body["task"]
    assert page.context["roi"] == body["roi"]
    assert page.context["meta"]["snapshot_id"] == body["meta"]["snapshot_id"]
    if situation == "stale":
        assert page.context["meta"]["error"] == body["meta"]["error"]
