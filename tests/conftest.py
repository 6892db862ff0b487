"""Shared test cast and fixtures: superuser, project admin, viewer, outsider, anonymous."""

import pytest
from django.core.cache import cache

# Fixture modules shared by every test file (no star imports): the simulator (simulator,
# simulator_server, vas_client), the API client (api), local receivers (receiver), a private
# Redis (private_redis, redis_cache, redis_round_trips).
pytest_plugins = [
    "tests.vas_fixtures",
    "tests.api_fixtures",
    "tests.receivers",
    "tests.redis_fixtures",
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing costs ~0.2 s a user; the cast is built for every test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


SECRETS = {
    "access_key": "AKPLAINTEXT9876ABCD12",
    "secret_key": "SKplaintextSECRETvalue-0123456789abcdef",
    "security_token": "STSplaintextTOKENvalue-zyxwvut",
}


@pytest.fixture
def secrets() -> dict[str, str]:
    return dict(SECRETS)


@pytest.fixture
def project(db, alice, bob):
    """A project administered by alice, viewed by bob, with AK/SK credentials."""
    from tasks.models import Membership, Role
    from tasks.services.projects import project_create

    project = project_create(
        actor=alice,
        fields={
            "name": "Lobby cameras",
            "region": "cn-north-4",
            "upstream_project_id": "6204a5bd270343b5885144cf9c8c158d",
            "auth_type": "aksk",
        },
        secrets=SECRETS,
    )
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    return project


@pytest.fixture
def cast(superuser, alice, bob, charlie):
    """Every user of the cast by role name, None for anonymous."""
    return {
        "superuser": superuser,
        "admin": alice,
        "viewer": bob,
        "outsider": charlie,
        "anonymous": None,
    }


@pytest.fixture
def sim_project(db, alice, bob, simulator_server):
    """A project wired to the live simulator with its AK/SK: alice admin, bob viewer."""
    from tasks.models import Membership, Role
    from tasks.services.projects import project_create
    from vassim.simulator import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK

    project = project_create(
        actor=alice,
        fields={
            "name": "Simulated",
            "region": "cn-north-4",
            "upstream_project_id": DEFAULT_PROJECT_ID,
            "endpoint": simulator_server.url,
            "auth_type": "aksk",
        },
        secrets={"access_key": DEFAULT_AK, "secret_key": DEFAULT_SK},
    )
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    return project
