from django.urls import path

from tasks.views import projects, tokens

urlpatterns = [
    path("projects/", projects.project_list, name="projects"),
    path("projects/new/", projects.project_new, name="project_new"),
    path("projects/<uuid:project>/", projects.project_detail, name="project_detail"),
    path("projects/<uuid:project>/edit/", projects.project_edit, name="project_edit"),
    path("projects/<uuid:project>/delete/", projects.project_delete, name="project_delete"),
    path("projects/<uuid:project>/members/", projects.project_members, name="project_members"),
    path("projects/<uuid:project>/check/", projects.project_check, name="project_check"),
    path("account/tokens/", tokens.account_tokens, name="account_tokens"),
]
