"""The portal attacked as a hostile user, a hostile upstream and a broken network would (issue 18):
races on PostgreSQL (run with DATABASE_URL=postgres://…; they pass on SQLite too, where writers are
serialised anyway), hostile task documents from hypothesis, NUL bytes and huge inputs."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tasks.models import CloudProject, Membership, Role
from tasks.services.members import member_add, member_remove, member_set_role
from tests.helpers import run_concurrently

RACE = pytest.mark.django_db(transaction=True)
TRIALS = 4


@pytest.fixture
def dave(django_user_model, password):
    """A second admin of the project, beside alice."""
    return django_user_model.objects.create_user("dave", "dave@example.com", password)


def _two_admins(project, dave) -> tuple[Membership, Membership]:
    Membership.objects.filter(project=project).exclude(role=Role.ADMIN).delete()
    theirs = Membership.objects.create(project=project, user=dave, role=Role.ADMIN)
    return Membership.objects.get(project=project, role=Role.ADMIN, user__username="alice"), theirs


def _admins(project) -> int:
    return Membership.objects.filter(project=project, role=Role.ADMIN).count()


# ---- 1: the last-admin rule under a race ----------------------------------------------------------


@RACE
@pytest.mark.parametrize("action", ["remove", "demote"])
def test_two_sole_admins_acting_on_each_other_at_once_leave_one_admin(
    project, alice, dave, action
):
    for _trial in range(TRIALS):
        ours, theirs = _two_admins(project, dave)

        def act(actor, membership):
            if action == "remove":
                return lambda: member_remove(actor=actor, membership=membership)
            return lambda: member_set_role(actor=actor, membership=membership, role=Role.VIEWER)

        results = run_concurrently(act(alice, theirs), act(dave, ours))
        assert _admins(project) == 1, results
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1 and isinstance(refused[0], ValidationError | PermissionDenied)
        Membership.objects.filter(project=project).exclude(user__username="alice").delete()
        Membership.objects.filter(project=project, user__username="alice").update(role=Role.ADMIN)
        if not Membership.objects.filter(project=project, user__username="alice").exists():
            Membership.objects.create(project=project, user=alice, role=Role.ADMIN)


def test_an_admin_demoted_a_moment_ago_can_no_longer_manage_members(project, alice, dave, bob):
    ours, theirs = _two_admins(project, dave)
    Membership.objects.filter(pk=theirs.pk).update(role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        member_set_role(actor=dave, membership=ours, role=Role.VIEWER)
    assert _admins(project) == 1


# ---- 7: parallel creates are a field error, never a 500 --------------------------------------------


@RACE
def test_parallel_adds_of_one_member_are_one_201_and_field_errors(project, charlie, alice):
    results = run_concurrently(
        *[
            lambda: member_add(actor=alice, project=project, username="charlie", role="viewer")
            for _ in range(4)
        ]
    )
    added = [r for r in results if isinstance(r, Membership)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(added) == 1 and len(refused) == 3, results
    assert all("username" in error.message_dict for error in refused)
    assert Membership.objects.filter(project=project, user=charlie).count() == 1
