"""Task pages over HTTP (Django's test client) against the live simulator: lookup, browse, detail,
refresh, watch, history, and a readable page for every upstream error."""

import re

import pytest
from django.db.models import F

from tasks.models import CloudProject, TrackedTask
from tasks.services.task_fetch import task_fetch
from vassim.simulator import SEEDED_IDS

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FACE = "c-face-edge"
SEED = SEEDED_IDS["seed"]
UNKNOWN = "ffffffffffffffffffffffffffffffff"


def _login(client, user):
    if user is not None:
        client.force_login(user)
    return client


def _base(project) -> str:
    return f"/projects/{project.public_id}"


def _task(project, task_id=SEED, service=FACE, suffix="") -> str:
    return f"{_base(project)}/services/{service}/tasks/{task_id}/{suffix}"


def _html(response) -> str:
    return response.content.decode()


# --------------------------------------------------------------------------- access

PAGES = {
    "detail": lambda p: _task(p),
    "history": lambda p: _task(p, suffix="history/"),
    "browse": lambda p: f"{_base(p)}/services/{FACE}/tasks/",
    "lookup": lambda p: f"{_base(p)}/tasks/lookup/?task_id={SEED}&service={FACE}",
}
EXPECTED = {"superuser": 200, "admin": 200, "viewer": 200, "outsider": 404, "anonymous": 302}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", EXPECTED)
def test_it_serves_task_pages_by_role(client, cast, sim_project, page, role):
    task_fetch(project=sim_project, service=FACE, task_id=SEED)  # history needs a version
    response = _login(client, cast[role]).get(PAGES[page](sim_project))
    expected = EXPECTED[role]
    if page == "lookup" and expected == 200:
        expected = 302  # valid input goes on to the detail page
    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "role, expected", [("admin", 302), ("viewer", 403), ("outsider", 404), ("anonymous", 302)]
)
def test_only_project_admins_toggle_watch(client, cast, sim_project, role, expected):
    response = _login(client, cast[role]).post(
        _task(sim_project, suffix="watch/"), {"watched": "1"}
    )
    assert response.status_code == expected
    watched = TrackedTask.objects.filter(task_id=SEED, watched=True).exists()
    assert watched is (role == "admin")


def test_an_unknown_project_is_404_on_task_pages(client, alice):
    url = f"/projects/00000000-0000-0000-0000-000000000000/services/{FACE}/tasks/{SEED}/"
    assert _login(client, alice).get(url).status_code == 404


# --------------------------------------------------------------------------- project page


def test_the_project_page_offers_the_lookup_form_with_the_default_service(
    client, alice, sim_project
):
    html = _html(_login(client, alice).get(f"{_base(sim_project)}/"))
    assert 'name="task_id"' in html
    assert re.search(r'name="service"[^>]*value="c-face-edge"', html)
    assert '<datalist id="known-services">' in html
    assert '<option value="c-vehicle-detection-edge">' in html
    assert f'href="{_base(sim_project)}/services/{FACE}/tasks/"' in html  # browse link


def test_the_project_page_lists_recently_fetched_tasks_and_marks_watched_ones(
    client, alice, sim_project
):
    task_fetch(project=sim_project, service=FACE, task_id=SEED)
    task_fetch(project=sim_project, service="c-non-motor-detection-edge", task_id=SEEDED_IDS["C"])
    TrackedTask.objects.filter(task_id=SEEDED_IDS["C"]).update(watched=True)
    html = _html(_login(client, alice).get(f"{_base(sim_project)}/"))
    assert "bike-shed-03" in html and "人脸提取-T4M-edge-0" in html
    assert 'class="badge failed"' in html  # ABNORMAL
    assert 'class="badge running"' in html
    assert html.count('class="badge watch"') == 1
    assert "c-non-motor-detection-edge" in html


def test_lookup_goes_to_the_detail_page(client, bob, sim_project):
    response = _login(client, bob).get(
        f"{_base(sim_project)}/tasks/lookup/", {"task_id": f" {SEED} ", "service": FACE}
    )
    assert response.status_code == 302
    assert response["Location"] == _task(sim_project)


@pytest.mark.parametrize(
    "task_id, service", [("../../etc", FACE), (SEED, "c face"), ("", FACE), ("x" * 65, FACE)]
)
def test_lookup_rejects_malformed_input_with_the_form_again(
    client, bob, sim_project, simulator, task_id, service
):
    response = _login(client, bob).get(
        f"{_base(sim_project)}/tasks/lookup/", {"task_id": task_id, "service": service}
    )
    assert response.status_code == 400
    assert 'class="errorlist' in _html(response)
    assert simulator.count() == 0


# --------------------------------------------------------------------------- detail


def test_the_detail_page_shows_every_section(client, bob, sim_project):
    html = _html(_login(client, bob).get(_task(sim_project, SEEDED_IDS["A"])))
    for text in (
        "lobby-face-01",
        SEEDED_IDS["A"],
        "ops_user",
        "Edge Face Extraction",
        "e9bf9ebe497d4c9bb2e65d1f99fe1ff9",  # edge pool
        "840a5cf90d4a4bbaa71f251dfe8fe64e",  # resource order
        "edgecamera",
        "https://hooks.example.com/vas/face",
        "FaceImage",
        "Largest detected target",  # a known key's label...
        "Targets larger than this are ignored.",  # ...and its explanation
        'datetime="2024-03-01T02:15:07Z"',  # created, as a local-time <time>
        "2024-03-01 02:16:41 UTC",  # updated, UTC on hover
        "Fetched from the VAS upstream just now.",
        "/history/",
        "Raw JSON (secrets redacted)",
        'id="roi-canvas"',
        'role="img"',
        "1 polygon(s)",
        "assumed",
    ):
        assert text in html, text
    assert '<span class="badge running" title="Running. (运行中)"' in html
    assert '<script id="roi-data" type="application/json">' in html
    assert "door" in html and "1530000 px²" in html and "(73.8 %)" in html


def test_state_badges_use_one_colour_per_family(client, bob, sim_project):
    families = {
        "state-pending": "transitional",
        "state-failed": "failed",
        "state-frozen": "frozen",
        "state-succeeded": "stopped",
    }
    _login(client, bob)
    for name, family in families.items():
        html = _html(client.get(_task(sim_project, SEEDED_IDS[name])))
        assert f'class="badge {family}"' in html, name


def test_unknown_config_keys_are_shown_as_they_came(client, bob, sim_project, simulator):
    doc = simulator.tasks[(FACE, SEED)].doc
    doc["service_config"]["common"]["brand_new_knob"] = {"a": [1, 2]}
    html = _html(_login(client, bob).get(_task(sim_project)))
    assert "brand_new_knob" in html
    assert "{&quot;a&quot;: [1, 2]}" in html
    assert "Not a setting the portal knows" in html


def test_webhook_headers_and_vcn_passwords_are_masked(client, bob, sim_project):
    html = _html(_login(client, bob).get(_task(sim_project, SEEDED_IDS["webhook-secret"])))
    for secret in ("sim-webhook-secret-value", "sim-api-key-value", "sim-vcn-password"):
        assert secret not in html
    assert "Authorization: ******" in html
    assert "content-type: application/json" in html


def test_markup_in_task_fields_is_escaped(client, bob, sim_project):
    html = _html(_login(client, bob).get(_task(sim_project, SEEDED_IDS["xss"])))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_pages_have_no_inline_script_or_style(client, bob, sim_project):
    task_fetch(project=sim_project, service=FACE, task_id=SEED)
    _login(client, bob)
    for url in (
        f"{_base(sim_project)}/",
        _task(sim_project),
        _task(sim_project, suffix="history/"),
        f"{_base(sim_project)}/services/{FACE}/tasks/",
        _task(sim_project, UNKNOWN),
    ):
        html = _html(client.get(url))
        assert " style=" not in html, url
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)


def test_a_malformed_roi_is_reported_and_the_page_still_renders(client, bob, sim_project):
    response = _login(client, bob).get(_task(sim_project, SEEDED_IDS["roi-malformed"]))
    html = _html(response)
    assert response.status_code == 200
    assert 'id="roi-problems"' in html and "not valid JSON" in html
    assert "Service configuration" in html


def test_no_roi_means_the_whole_frame(client, bob, sim_project):
    html = _html(_login(client, bob).get(_task(sim_project, SEEDED_IDS["roi-none"])))
    assert "the whole frame is analysed" in html
    assert "Region of interest: the whole frame" in html


def test_the_second_view_comes_from_the_cache(client, bob, sim_project, simulator):
    _login(client, bob).get(_task(sim_project))
    html = _html(client.get(_task(sim_project)))
    assert "From the portal's cache, fetched" in html
    assert simulator.count(f"GET /v2/{sim_project.upstream_project_id}/services/{FACE}") == 1


def test_a_stale_copy_says_why(client, bob, sim_project, simulator):
    task_fetch(project=sim_project, service=FACE, task_id=SEED)
    simulator.set_fault(SEED, "503")
    response = _login(client, bob).get(_task(sim_project) + "?refresh=1")
    html = _html(response)
    assert response.status_code == 200
    assert "Stale copy" in html and "because the upstream failed" in html
    assert 'data-source="stale"' in html


def test_refresh_now_posts_then_redirects(client, bob, sim_project, simulator):
    _login(client, bob).get(_task(sim_project))
    response = client.post(_task(sim_project), follow=True)
    assert response.redirect_chain == [(_task(sim_project), 302)]
    assert "Fetched fresh from the upstream." in _html(response)
    assert simulator.count(f"GET /v2/{sim_project.upstream_project_id}/services/{FACE}") == 2


def test_refresh_now_is_throttled_with_a_clear_message(client, bob, sim_project, settings):
    settings.PORTAL_REFRESH_RATE = "2/min"
    _login(client, bob)
    for _ in range(2):
        client.post(_task(sim_project))
    response = client.post(_task(sim_project), follow=True)
    assert response.status_code == 200
    assert "Refresh asked too often" in _html(response)
    # The same through ?refresh=1: a 429 page that offers the cached copy.
    response = client.get(_task(sim_project) + "?refresh=1")
    assert response.status_code == 429
    assert "Show the cached copy" in _html(response)


# --------------------------------------------------------------------------- errors

ERROR_CASES = [
    # (fault or setup, expected status, text on the page)
    ("not_found", 404, "Task not found"),
    ("401", 502, "Credentials rejected"),
    ("403", 502, "Not allowed by the cloud account"),
    ("503", 503, "The upstream is unavailable"),
    ("429", 503, "The upstream is unavailable"),
    ("malformed_json", 502, "The upstream sent an unusable answer"),
    ("not_task", 502, "The upstream sent an unusable answer"),
    ("drop", 503, "The upstream is unavailable"),
    ("delay", 504, "The upstream did not answer in time"),
]


@pytest.mark.parametrize("fault, status, text", ERROR_CASES)
def test_upstream_errors_render_readable_pages(
    client, alice, sim_project, simulator, settings, fault, status, text
):
    settings.PORTAL_UPSTREAM_TIMEOUT = (1.0, 0.3)
    task_id = UNKNOWN if fault == "not_found" else SEED
    if fault == "delay":
        simulator.set_fault(SEED, "delay", seconds=1.0)
    elif fault != "not_found":
        simulator.set_fault(SEED, fault, retry_after=7 if fault == "429" else None)
    response = _login(client, alice).get(_task(sim_project, task_id))
    html = _html(response)
    assert response.status_code == status
    assert text in html
    assert "What to do:" in html
    assert 'role="alert"' in html
    if fault == "401":
        assert f'href="{_base(sim_project)}/edit/"' in html  # "edit the project"
    if fault == "429":
        assert response["Retry-After"] == "7"


def test_invalid_identifiers_are_400_without_an_upstream_call(client, bob, sim_project, simulator):
    _login(client, bob)
    response = client.get(_task(sim_project, "not%20an%20id"))
    assert response.status_code == 400
    assert "That is not a task id" in _html(response)
    response = client.get(_task(sim_project, service="c_face%21"))
    assert response.status_code == 400
    assert "That is not a service name" in _html(response)
    assert simulator.count() == 0


def test_the_upstream_rejecting_the_request_is_400(client, bob, sim_project):
    sim_project.upstream_project_id = "0" * 32  # the simulator answers another project with 400
    sim_project.save()
    response = _login(client, bob).get(_task(sim_project))
    assert response.status_code == 400
    assert "The upstream rejected the request" in _html(response)
    assert "What to do:" in _html(response)


def test_undecryptable_credentials_say_to_edit_the_project(client, alice, sim_project):
    # A new credentials version, so no auth object built earlier in this process is reused.
    CloudProject.objects.filter(pk=sim_project.pk).update(
        secret_key_enc="not-a-fernet-token", credentials_version=F("credentials_version") + 1
    )
    response = _login(client, alice).get(_task(sim_project))
    assert response.status_code == 409
    html = _html(response)
    assert "Credentials unavailable" in html
    assert f'href="{_base(sim_project)}/edit/"' in html


def test_viewers_are_not_offered_the_edit_link(client, bob, sim_project, simulator):
    simulator.set_fault(SEED, "401")
    html = _html(_login(client, bob).get(_task(sim_project)))
    assert "Credentials rejected" in html
    assert f"{_base(sim_project)}/edit/" not in html


# --------------------------------------------------------------------------- browse


def test_browse_lists_the_services_tasks_with_links_and_badges(client, bob, sim_project):
    response = _login(client, bob).get(f"{_base(sim_project)}/services/{FACE}/tasks/")
    html = _html(response)
    assert response.status_code == 200
    assert f'href="{_task(sim_project, SEEDED_IDS["state-pending"])}"' in html
    assert 'class="badge transitional"' in html
    assert "Page 1 of 2" in html
    page2 = _html(client.get(f"{_base(sim_project)}/services/{FACE}/tasks/?page=2"))
    assert "Page 2 of 2" in page2 and 'rel="prev"' in page2


def test_browse_filters_by_state_and_name(client, bob, sim_project):
    _login(client, bob)
    html = _html(client.get(f"{_base(sim_project)}/services/{FACE}/tasks/?state=FROZEN"))
    assert "state-frozen" in html and "state-pending" not in html
    html = _html(client.get(f"{_base(sim_project)}/services/{FACE}/tasks/?name=roi-"))
    assert "roi-malformed" in html and "state-frozen" not in html


def test_browse_marks_watched_tasks(client, alice, sim_project):
    _login(client, alice).post(
        _task(sim_project, SEEDED_IDS["roi-none"], suffix="watch/"), {"watched": "1"}
    )
    html = _html(client.get(f"{_base(sim_project)}/services/{FACE}/tasks/?name=roi-none"))
    assert 'class="badge watch"' in html


@pytest.mark.parametrize("odd_id", [["a", "b"], {"id": "x"}, None, 5])
def test_browse_survives_task_ids_that_are_not_text(client, bob, sim_project, monkeypatch, odd_id):
    import tasks.web.views.task_pages as task_pages

    listing = {
        "count": 1,
        "tasks": [{"id": odd_id, "name": "odd", "state": "RUNNING"}],
        "meta": {"source": "upstream", "fetched_at": "2026-01-01T00:00:00Z", "age_seconds": 0},
    }
    monkeypatch.setattr(task_pages, "task_list_upstream", lambda **kwargs: listing)
    response = _login(client, bob).get(f"{_base(sim_project)}/services/{FACE}/tasks/")
    assert response.status_code == 200
    assert "odd" in _html(response)


def test_browse_errors_are_readable(client, bob, sim_project, simulator):
    simulator.set_fault("list", "401")
    response = _login(client, bob).get(f"{_base(sim_project)}/services/{FACE}/tasks/")
    assert response.status_code == 502
    assert "Credentials rejected" in _html(response)


# --------------------------------------------------------------------------- watch, history


def test_watch_and_unwatch(client, alice, sim_project):
    _login(client, alice)
    response = client.post(_task(sim_project, suffix="watch/"), {"watched": "1"}, follow=True)
    assert "Watching this task" in _html(response)
    assert 'aria-pressed="true"' in _html(response)
    assert TrackedTask.objects.get(task_id=SEED).watched
    client.post(_task(sim_project, suffix="watch/"), {"watched": "0"})
    assert not TrackedTask.objects.get(task_id=SEED).watched


def test_watching_an_unknown_task_is_a_readable_404(client, alice, sim_project):
    response = _login(client, alice).post(
        _task(sim_project, UNKNOWN, suffix="watch/"), {"watched": "1"}
    )
    assert response.status_code == 404
    assert "Task not found" in _html(response)


def test_history_shows_versions_with_their_changes(client, bob, sim_project, simulator):
    task_fetch(project=sim_project, service=FACE, task_id=SEED)
    simulator.tasks[(FACE, SEED)].doc["state"] = "STOPPED"
    task_fetch(project=sim_project, service=FACE, task_id=SEED, refresh=True)
    task_fetch(project=sim_project, service=FACE, task_id=SEED, refresh=True)  # same again
    html = _html(_login(client, bob).get(_task(sim_project, suffix="history/")))
    assert html.count('class="timeline-entry card"') == 2
    assert "Version #2" in html and "Version #1" in html
    assert re.search(r'<td class="mono">state</td>.*RUNNING.*STOPPED', html, re.S)
    assert "<dt>Times seen</dt><dd>2</dd>" in html
    assert "The first version the portal saw." in html


def test_an_old_snapshot_says_it_is_not_the_latest(client, bob, sim_project, simulator):
    first = task_fetch(project=sim_project, service=FACE, task_id=SEED)
    simulator.tasks[(FACE, SEED)].doc["state"] = "STOPPED"
    latest = task_fetch(project=sim_project, service=FACE, task_id=SEED, refresh=True)
    _login(client, bob)
    html = _html(client.get(_task(sim_project) + f"?snapshot={first.meta['snapshot_id']}"))
    assert "This is not the latest version." in html
    assert 'class="badge running"' in html
    html = _html(client.get(_task(sim_project) + f"?snapshot={latest.meta['snapshot_id']}"))
    assert "the latest the portal has seen" in html
    assert client.get(_task(sim_project) + "?snapshot=999999").status_code == 404
    assert client.get(_task(sim_project) + "?snapshot=abc").status_code == 404


def test_the_history_of_a_task_never_fetched_is_a_readable_404(client, bob, sim_project):
    response = _login(client, bob).get(_task(sim_project, UNKNOWN, suffix="history/"))
    assert response.status_code == 404
    html = _html(response)
    # The same code as the API's answer for the same condition.
    assert 'data-error-code="not_found"' in html
    assert "The portal has not fetched this task yet, so it has no history." in html
    assert "Open the task" in html


def test_polygons_with_crossing_edges_get_no_misleading_area(client, bob, sim_project):
    html = _html(_login(client, bob).get(_task(sim_project, SEEDED_IDS["roi-self-intersecting"])))
    assert "edges cross" in html
    assert "px²" not in html


def test_odd_upstream_data_never_breaks_the_page(client, bob, sim_project, simulator):
    odd = "0dd0dd0dd0dd0dd0dd0dd0dd0dd0dd00"
    simulator.add_task(
        {
            "id": odd,
            "name": 12345,
            "creator": None,
            "state": "SOMETHING_NEW",
            "error": "boom",
            "created_at": "yesterday-ish",
            "updated_at": 1700000000,
            "timing": "not an object",
            "input": {
                "type": "edgecamera",
                "data": ["not an object", {"headers": {"X-Token": "t0p"}}],
            },
            "output": {"webhook": {"url": None, "headers": "oops", "data_category": "FaceImage"}},
            "service_config": {
                "common": {"target_roi": 5, "detection_min_size": "big", "nested": [None, {}]}
            },
        },
        service=FACE,
    )
    response = _login(client, bob).get(_task(sim_project, odd))
    html = _html(response)
    assert response.status_code == 200
    assert 'class="badge neutral"' in html  # an unknown state still gets a badge
    assert "yesterday-ish" in html
    assert "t0p" not in html
    assert 'id="roi-problems"' in html
