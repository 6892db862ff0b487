"""The monitor's pages: channels (admins edit, viewers see names and kinds), the event log with
deliveries, and the task page's mute control. They call the services the API calls."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tasks.access import get_admin_project_for_user, get_project_for_user
from tasks.errors import PortalError, error_text
from tasks.models import Channel, CloudProject, Role, TaskEvent
from tasks.services import channels as channel_services
from tasks.services.watch import task_mute
from tasks.vas.errors import VasError
from tasks.web.forms import ChannelForm, EventFilterForm, MuteForm
from tasks.web.views.task_pages import render_task_error


def _channel(project: CloudProject, pk: int) -> Channel:
    channel = Channel.objects.filter(project=project, pk=pk).first()
    if channel is None:
        raise Http404(_("No such channel."))
    return channel


def _save_channel(request: HttpRequest, form: ChannelForm, project, channel=None) -> bool:
    """Creates or changes a channel from a valid form; False (with the error on the form) when
    the service refuses it."""
    try:
        if channel is None:
            channel_services.channel_create(
                actor=request.user,
                project=project,
                fields=form.plain(),
                target=form.cleaned_data["target"],
            )
        else:
            channel_services.channel_update(
                actor=request.user,
                channel=channel,
                fields=form.plain(),
                target=form.cleaned_data["target"] or None,
            )
    except channel_services.InvalidChannel as exc:
        form.add_error(None, error_text(exc))
        return False
    return True


@login_required
@require_http_methods(["GET", "POST"])
def project_channels(request: HttpRequest, project) -> HttpResponse:
    """GET: the channels; POST (admins): add one."""
    project = get_project_for_user(request.user, project)
    is_admin = project.role == Role.ADMIN
    form = ChannelForm(request.POST or None) if is_admin else None
    if request.method == "POST":
        project = get_admin_project_for_user(request.user, project.public_id)
        if form is not None and form.is_valid() and _save_channel(request, form, project):
            messages.success(request, _("Channel added."))
            return redirect("project_channels", project=project.public_id)
    channels = Channel.objects.filter(project=project).order_by("name", "id")
    return render(
        request,
        "tasks/project_channels.html",
        {"project": project, "channels": channels, "form": form, "is_admin": is_admin},
    )


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, project, channel: int) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    found = _channel(project, channel)
    initial = {
        "name": found.name,
        "kind": found.kind,
        "severities": found.severities,
        "language": found.language,
        "enabled": found.enabled,
    }
    form = ChannelForm(request.POST or None, initial=initial)
    form.fields["target"].help_text = _("Stored: %(hint)s. Leave blank to keep it.") % {
        "hint": found.target_hint
    }
    if (
        request.method == "POST"
        and form.is_valid()
        and _save_channel(request, form, project, found)
    ):
        messages.success(request, _("Channel saved."))
        return redirect("project_channels", project=project.public_id)
    return render(
        request, "tasks/channel_edit.html", {"project": project, "channel": found, "form": form}
    )


@login_required
@require_POST
def channel_delete(request: HttpRequest, project, channel: int) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    channel_services.channel_delete(actor=request.user, channel=_channel(project, channel))
    messages.success(request, _("Channel deleted."))
    return redirect("project_channels", project=project.public_id)


@login_required
@require_POST
def channel_test(request: HttpRequest, project, channel: int) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    found = _channel(project, channel)
    ok, message = channel_services.channel_test(actor=request.user, channel=found)
    if ok:
        messages.success(
            request, _("%(name)s: %(message)s") % {"name": found.name, "message": message}
        )
    else:
        messages.error(
            request,
            _("%(name)s: the test failed: %(message)s") % {"name": found.name, "message": message},
        )
    return redirect("project_channels", project=project.public_id)


@login_required
@require_GET
def project_events(request: HttpRequest, project) -> HttpResponse:
    """The event log, newest first, each event with its deliveries."""
    project = get_project_for_user(request.user, project)
    filters = EventFilterForm(request.GET or None)
    events = TaskEvent.objects.filter(project=project)
    if filters.is_valid():
        chosen = {k: v for k, v in filters.cleaned_data.items() if v}
        events = events.filter(**chosen)
    events = events.prefetch_related("notifications__channel").order_by("-seen_at", "-id")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "tasks/project_events.html",
        {"project": project, "page": page, "filters": filters},
    )


@login_required
@require_POST
def task_mute_toggle(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    """Mutes the task for the chosen time, or unmutes it (admins)."""
    project = get_admin_project_for_user(request.user, project)
    back = redirect("task_detail", project=project.public_id, service=service, task_id=task_id)
    until = None  # the Unmute button
    if "unmute" not in request.POST:
        form = MuteForm(request.POST)
        seconds = form.cleaned_data.get("seconds") if form.is_valid() else None
        if not seconds:
            # A bad or missing choice changes nothing (it must never unmute by accident).
            messages.error(request, _("Choose how long to mute the task for."))
            return back
        until = timezone.now() + timedelta(seconds=seconds)
    try:
        task_mute(
            actor=request.user, project=project, service=service, task_id=task_id, until=until
        )
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    if until:
        messages.success(request, _("Notifications of this task are muted."))
    else:
        messages.success(request, _("Notifications of this task are on again."))
    return back
