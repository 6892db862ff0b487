"""Shared test cast and fixtures: superuser, project admin, viewer, outsider, anonymous."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password() -> str:
    return "correct horse battery staple 42"


@pytest.fixture
def superuser(django_user_model, password):
    return django_user_model.objects.create_superuser("root", "root@example.com", password)


@pytest.fixture
def alice(django_user_model, password):
    """Becomes the project's admin in project fixtures."""
    return django_user_model.objects.create_user("alice", "alice@example.com", password)


@pytest.fixture
def bob(django_user_model, password):
    """Becomes a viewer of the project in project fixtures."""
    return django_user_model.objects.create_user("bob", "bob@example.com", password)


@pytest.fixture
def charlie(django_user_model, password):
    """An outsider: a member of no project."""
    return django_user_model.objects.create_user("charlie", "charlie@example.com", password)
