"""Roles are groups holding exactly their permissions; commands with an actor obey them too."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from apps.monitoring.services.roles import ROLES
from tests.factories import user_in_role

pytestmark = pytest.mark.django_db


def _held(group: str) -> set[str]:
    permissions = Group.objects.get(name=group).permissions.select_related("content_type")
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}


def test_it_sets_up_the_roles_idempotently_and_corrects_edits() -> None:
    out = io.StringIO()
    call_command("setup_roles", stdout=out)
    assert {name: _held(name) for name in ROLES} == {k: set(v) for k, v in ROLES.items()}
    Group.objects.get(name="viewer").permissions.clear()  # someone edited it in the admin
    call_command("setup_roles", stdout=out)
    call_command("setup_roles", stdout=out)
    lines = out.getvalue().splitlines()
    assert all("(created)" in line for line in lines[:4])
    assert "role viewer: training.view_dashboard (corrected)" in lines[4]
    assert all("(unchanged)" in line for line in lines[8:])
    assert _held("viewer") == {"training.view_dashboard"}


def test_it_grants_a_role_to_an_account() -> None:
    user = user_in_role("lena", None)
    assert not user.has_perm("serving.label_inferencelog")
    out = io.StringIO()
    call_command("grant_role", "lena", "labeller", stdout=out)
    user.refresh_from_db()
    user = type(user).objects.get(pk=user.pk)  # a fresh object: permissions are cached per object
    assert user.has_perm("serving.label_inferencelog") and user.has_perm("training.view_dashboard")
    assert not user.has_perm("training.approve_modelversion")
    with pytest.raises(CommandError, match="no account 'nobody'"):
        call_command("grant_role", "nobody", "viewer")


@pytest.mark.parametrize("command", [["promote", "7"], ["reject", "7"], ["rollback"]])
def test_it_refuses_a_named_account_without_the_approve_permission(command: list[str]) -> None:
    user_in_role("olga", "operator", is_staff=True)  # may train, may not approve
    with pytest.raises(CommandError, match="refused: user 'olga' lacks the permission"):
        call_command(*command, "--user", "olga", stdout=io.StringIO())
    user_in_role("alice", "approver")
    with pytest.raises(CommandError) as passed:  # past the permission: the service answers
        call_command(*command, "--user", "alice", stdout=io.StringIO())
    assert "refused" not in str(passed.value)
