"""Project pages: list, create, overview, edit, members, connection check."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tasks import selectors
from tasks.access import can_create_projects, get_admin_project_for_user, get_project_for_user
from tasks.errors import EditConflict, error_text, stored_text
from tasks.models import Role
from tasks.services import members as member_services
from tasks.services import projects as project_services
from tasks.web.forms import MemberAddForm, ProjectForm
from tasks.web.views import fleet


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = selectors.project_list(user=request.user)
    return render(
        request,
        "tasks/project_list.html",
        {"projects": projects, "can_create": can_create_projects(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: HttpRequest) -> HttpResponse:
    if not can_create_projects(request.user):
        raise PermissionDenied
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_services.project_create(
                actor=request.user, fields=form.plain(), secrets=form.secrets()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Project created. Test the connection next."))
            return redirect("project_detail", project=project.public_id)
    return render(request, "tasks/project_form.html", {"form": form, "project": None})


@login_required
def project_detail(request: HttpRequest, project) -> HttpResponse:
    project = get_project_for_user(request.user, project)
    context = {
        "project": project,
        "is_admin": project.role == Role.ADMIN,
        "events": selectors.audit_event_list(project=project) if project.role == Role.ADMIN else [],
    }
    context.update(_task_panel_context(request, project))
    context.update(fleet.project_extras(request, project))
    return render(request, "tasks/project_detail.html", context)


def _task_panel_context(request: HttpRequest, project) -> dict:
    """The lookup form and recently fetched tasks (filled in by the task pages)."""
    from tasks.web.views.task_pages import project_task_panel

    return project_task_panel(request, project)


@login_required
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, project) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    form = ProjectForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            project_services.project_update(
                actor=request.user,
                project=project,
                fields=form.plain(),
                secrets=form.secrets(),
                clear=form.cleared(),
                expected_updated_at=form.version(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
            project.refresh_from_db()
        except EditConflict as exc:
            project.refresh_from_db()
            form.refresh_version(project)
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, _("Project saved."))
            return redirect("project_detail", project=project.public_id)
    return render(request, "tasks/project_form.html", {"form": form, "project": project})


@login_required
@require_POST
def project_delete(request: HttpRequest, project) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    project_services.project_delete(actor=request.user, project=project)
    messages.success(request, _("Project deleted."))
    return redirect("projects")


def _members_page(request: HttpRequest, project, form: MemberAddForm, status: int = 200):
    return render(
        request,
        "tasks/project_members.html",
        {
            "project": project,
            "members": selectors.member_list(project=project),
            "form": form,
            "roles": Role.choices,
        },
        status=status,
    )


def _service_errors(request: HttpRequest, exc: ValidationError) -> None:
    for errors in exc.message_dict.values():
        for error in errors:
            messages.error(request, error)


@login_required
@require_GET
def project_members(request: HttpRequest, project) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    return _members_page(request, project, MemberAddForm())


@login_required
@require_POST
def project_member_add(request: HttpRequest, project) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            member_services.member_add(actor=request.user, project=project, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Member added."))
            return redirect("project_members", project=project.public_id)
    return _members_page(request, project, form)


@login_required
@require_POST
def project_member_role(request: HttpRequest, project, username: str) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    membership = selectors.member_get(project=project, username=username)
    try:
        member_services.member_set_role(
            actor=request.user, membership=membership, role=request.POST.get("role", "")
        )
    except ValidationError as exc:
        _service_errors(request, exc)
    else:
        messages.success(request, _("Role changed."))
    return redirect("project_members", project=project.public_id)


@login_required
@require_POST
def project_member_remove(request: HttpRequest, project, username: str) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    membership = selectors.member_get(project=project, username=username)
    try:
        member_services.member_remove(actor=request.user, membership=membership)
    except ValidationError as exc:
        _service_errors(request, exc)
    else:
        messages.success(request, _("Member removed."))
    return redirect("project_members", project=project.public_id)


@login_required
@require_POST
def project_check(request: HttpRequest, project) -> HttpResponse:
    project = get_project_for_user(request.user, project)
    project = project_services.project_check(project=project)
    result = stored_text(project.last_check_result)
    if project.last_check_ok:
        messages.success(
            request,
            _("Connection OK: %(message)s") % {"message": result},
        )
    else:
        messages.error(
            request,
            _("Connection failed: %(message)s") % {"message": result},
        )
    return redirect("project_detail", project=project.public_id)
