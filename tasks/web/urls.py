from django.urls import path, re_path

import tasks.web.converters  # noqa: F401 - registers <vas_service:…>
from tasks.vas import VIAS_SERVICE
from tasks.web.views import (
    account,
    fleet,
    migration,
    monitor,
    projects,
    task_actions,
    task_pages,
    tokens,
)

TASK = "projects/<uuid:project>/services/<vas_service:service>/tasks/<str:task_id>/"
# VIAS tasks have no service in their paths: the same views and names, with service="vias", so
# reverse("task_detail", kwargs={..., "service": "vias"}) gives the VIAS path.
VIAS_TASKS = "projects/<uuid:project>/vias/tasks/"
VIAS_TASK = VIAS_TASKS + "<str:task_id>/"
VIAS = {"service": VIAS_SERVICE}

#: A project's badge key (secrets.token_urlsafe) and a task's badge token (tasks.services.badges).
BADGE = r"^badge/(?P<key>[A-Za-z0-9_-]{1,64})/"

urlpatterns = [
    path("dashboard/", fleet.dashboard, name="dashboard"),
    path("projects/", projects.project_list, name="projects"),
    path("projects/new/", projects.project_new, name="project_new"),
    path("projects/<uuid:project>/", projects.project_detail, name="project_detail"),
    path("projects/<uuid:project>/edit/", projects.project_edit, name="project_edit"),
    path("projects/<uuid:project>/delete/", projects.project_delete, name="project_delete"),
    path("projects/<uuid:project>/members/", projects.project_members, name="project_members"),
    path(
        "projects/<uuid:project>/members/add/",
        projects.project_member_add,
        name="project_member_add",
    ),
    path(
        "projects/<uuid:project>/members/<str:username>/role/",
        projects.project_member_role,
        name="project_member_role",
    ),
    path(
        "projects/<uuid:project>/members/<str:username>/remove/",
        projects.project_member_remove,
        name="project_member_remove",
    ),
    path("projects/<uuid:project>/check/", projects.project_check, name="project_check"),
    path("projects/<uuid:project>/tasks/lookup/", task_pages.task_lookup, name="task_lookup"),
    path(
        "projects/<uuid:project>/services/<vas_service:service>/tasks/",
        task_pages.task_browse,
        name="task_browse",
    ),
    path(TASK, task_pages.task_detail, name="task_detail"),
    path(TASK + "history/", task_pages.task_history, name="task_history"),
    path(TASK + "watch/", task_pages.task_watch_toggle, name="task_watch"),
    path(TASK + "mute/", monitor.task_mute_toggle, name="task_mute"),
    path("projects/<uuid:project>/channels/", monitor.project_channels, name="project_channels"),
    path(
        "projects/<uuid:project>/channels/<int:channel>/edit/",
        monitor.channel_edit,
        name="channel_edit",
    ),
    path(
        "projects/<uuid:project>/channels/<int:channel>/delete/",
        monitor.channel_delete,
        name="channel_delete",
    ),
    path(
        "projects/<uuid:project>/channels/<int:channel>/test/",
        monitor.channel_test,
        name="channel_test",
    ),
    path("projects/<uuid:project>/events/", monitor.project_events, name="project_events"),
    path(TASK + "start/", task_actions.task_start_view, name="task_start"),
    path(TASK + "stop/", task_actions.task_stop_view, name="task_stop"),
    path(TASK + "roi/edit/", task_actions.task_roi_edit, name="task_roi_edit"),
    path(TASK + "roi/frame/", task_actions.task_frame_form, name="task_frame_form"),
    path(TASK + "vias/", migration.task_vias_fields, name="task_vias_fields"),
    path(
        "projects/<uuid:project>/migration/", migration.project_migration, name="project_migration"
    ),
    path(VIAS_TASKS, task_pages.task_browse, VIAS, name="task_browse"),
    path(VIAS_TASK, task_pages.task_detail, VIAS, name="task_detail"),
    path(VIAS_TASK + "history/", task_pages.task_history, VIAS, name="task_history"),
    path(VIAS_TASK + "watch/", task_pages.task_watch_toggle, VIAS, name="task_watch"),
    path(VIAS_TASK + "mute/", monitor.task_mute_toggle, VIAS, name="task_mute"),
    path(VIAS_TASK + "start/", task_actions.task_start_view, VIAS, name="task_start"),
    path(VIAS_TASK + "stop/", task_actions.task_stop_view, VIAS, name="task_stop"),
    path(VIAS_TASK + "roi/edit/", task_actions.task_roi_edit, VIAS, name="task_roi_edit"),
    path(VIAS_TASK + "roi/frame/", task_actions.task_frame_form, VIAS, name="task_frame_form"),
    path("account/tokens/", tokens.account_tokens, name="account_tokens"),
    path("account/tokens/<str:digest>/revoke/", tokens.token_revoke_view, name="token_revoke"),
    path("account/sign-out-everywhere/", tokens.sign_out_everywhere, name="sign_out_everywhere"),
    path("account/two-factor/", account.two_factor, name="two_factor"),
    path("account/two-factor/verify/", account.two_factor_verify, name="two_factor_verify"),
    path("projects/<uuid:project>/attention/", fleet.project_attention, name="project_attention"),
    path("projects/<uuid:project>/badges/rotate/", fleet.badge_rotate, name="badge_rotate"),
    re_path(BADGE + r"project\.(?P<fmt>svg|json)$", fleet.project_badge, name="project_badge"),
    re_path(
        BADGE + r"t/(?P<token>[A-Za-z0-9_-]{1,400})\.(?P<fmt>svg|json)$",
        fleet.task_badge,
        name="task_badge",
    ),
]
