from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import tasks.web.converters  # noqa: F401 - registers <vas_service:…>
from tasks.api import fleet, monitor, views
from tasks.vas import VIAS_SERVICE

TASK = "v1/projects/<uuid:project>/services/<vas_service:service>/tasks/<str:task_id>/"
# VIAS tasks: the same views and names with service="vias" (see tasks.web.urls).
VIAS_TASKS = "v1/projects/<uuid:project>/vias/tasks/"
VIAS_TASK = VIAS_TASKS + "<str:task_id>/"
VIAS = {"service": VIAS_SERVICE}


urlpatterns = [
    # The busiest first: Django tries the patterns in order.
    path(TASK, views.TaskDetailView.as_view(), name="api-task"),
    path(TASK + "roi/", views.TaskRoiView.as_view(), name="api-task-roi"),
    path(TASK + "watch/", views.TaskWatchView.as_view(), name="api-task-watch"),
    path(TASK + "frame/", views.TaskFrameView.as_view(), name="api-task-frame"),
    path(TASK + "start/", views.TaskStartView.as_view(), name="api-task-start"),
    path(TASK + "stop/", views.TaskStopView.as_view(), name="api-task-stop"),
    path(TASK + "snapshots/", views.SnapshotListView.as_view(), name="api-snapshots"),
    path(
        TASK + "snapshots/<int:snapshot>/",
        views.SnapshotDetailView.as_view(),
        name="api-snapshot",
    ),
    path(TASK + "health/", fleet.TaskHealthView.as_view(), name="api-task-health"),
    path(
        "v1/projects/<uuid:project>/vias/tasks/<str:task_id>/health/",
        fleet.TaskHealthView.as_view(),
        {"service": "vias"},
        name="api-vias-task-health",
    ),
    path("v1/dashboard/", fleet.DashboardView.as_view(), name="api-dashboard"),
    path(TASK + "mute/", monitor.TaskMuteView.as_view(), name="api-task-mute"),
    # VIAS: the same views and names below VIAS_TASK, with service="vias".
    path(VIAS_TASK, views.TaskDetailView.as_view(), VIAS, name="api-task"),
    path(VIAS_TASK + "roi/", views.TaskRoiView.as_view(), VIAS, name="api-task-roi"),
    path(VIAS_TASK + "watch/", views.TaskWatchView.as_view(), VIAS, name="api-task-watch"),
    path(VIAS_TASK + "frame/", views.TaskFrameView.as_view(), VIAS, name="api-task-frame"),
    path(VIAS_TASK + "start/", views.TaskStartView.as_view(), VIAS, name="api-task-start"),
    path(VIAS_TASK + "stop/", views.TaskStopView.as_view(), VIAS, name="api-task-stop"),
    path(VIAS_TASK + "mute/", monitor.TaskMuteView.as_view(), VIAS, name="api-task-mute"),
    path(VIAS_TASK + "snapshots/", views.SnapshotListView.as_view(), VIAS, name="api-snapshots"),
    path(
        VIAS_TASK + "snapshots/<int:snapshot>/",
        views.SnapshotDetailView.as_view(),
        VIAS,
        name="api-snapshot",
    ),
    path(
        "v1/projects/<uuid:project>/channels/",
        monitor.ChannelListView.as_view(),
        name="api-channels",
    ),
    path(
        "v1/projects/<uuid:project>/channels/<int:channel>/",
        monitor.ChannelDetailView.as_view(),
        name="api-channel",
    ),
    path(
        "v1/projects/<uuid:project>/channels/<int:channel>/test/",
        monitor.ChannelTestView.as_view(),
        name="api-channel-test",
    ),
    path("v1/projects/<uuid:project>/events/", monitor.EventListView.as_view(), name="api-events"),
    path("v1/metrics", monitor.MetricsView.as_view(), name="api-metrics"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the CSP forbids inline scripts. Swagger
    # UI itself comes from drf-spectacular-sidecar's static files (no outside network).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("v1/auth/token/", views.TokenCreateView.as_view(), name="api-token"),
    path("v1/auth/logout/", views.LogoutView.as_view(), name="api-logout"),
    path("v1/projects/", views.ProjectListView.as_view(), name="api-projects"),
    path("v1/projects/<uuid:project>/", views.ProjectDetailView.as_view(), name="api-project"),
    path(
        "v1/projects/<uuid:project>/check/",
        views.ProjectCheckView.as_view(),
        name="api-project-check",
    ),
    path(
        "v1/projects/<uuid:project>/members/",
        views.MemberListView.as_view(),
        name="api-members",
    ),
    path(
        "v1/projects/<uuid:project>/members/<str:username>/",
        views.MemberDetailView.as_view(),
        name="api-member",
    ),
    path(
        "v1/projects/<uuid:project>/tasks/",
        views.TrackedTaskListView.as_view(),
        name="api-tracked-tasks",
    ),
    path(
        "v1/projects/<uuid:project>/services/<vas_service:service>/tasks/",
        views.UpstreamTaskListView.as_view(),
        name="api-upstream-tasks",
    ),
    path(VIAS_TASKS, views.ViasTaskListView.as_view(), VIAS, name="api-upstream-tasks"),
]
