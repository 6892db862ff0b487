from django.urls import path

from tasks import views

urlpatterns = [
    path("projects/", views.project_list, name="projects"),
    path("account/tokens/", views.account_tokens, name="account_tokens"),
]
