"""The role table and its groups: the top app floor sees every app's permission codenames.

Roles are Django groups; what a role may do is exactly the permissions listed here, checked at
every door by `user.has_perm`. Superusers keep everything without a group.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.core.permissions import VIEW_DASHBOARD
from apps.monitoring import permissions as monitoring
from apps.serving import permissions as serving
from apps.training import permissions as training

ROLES: dict[str, tuple[str, ...]] = {
    "viewer": (VIEW_DASHBOARD,),
    "labeller": (VIEW_DASHBOARD, serving.READ_TRAFFIC, serving.LABEL),
    "operator": (
        VIEW_DASHBOARD,
        serving.READ_TRAFFIC,
        training.UPLOAD_DATA,
        training.START_TRAINING,
        serving.RELOAD,
        monitoring.ACKNOWLEDGE_INCIDENT,
        # Named, not imported: the alerts app stands a floor above this one.
        "alerts.manage_alerts",
    ),
    "approver": (VIEW_DASHBOARD, serving.READ_TRAFFIC, training.APPROVE),
}
ROLE_HELP: dict[str, str] = {
    "viewer": "read the dashboard (not the traffic rows)",
    "labeller": "read the dashboard and traffic, label predictions (/feedback)",
    "operator": (
        "upload data, start training, reload serving, read traffic and its CSV, "
        "acknowledge drift incidents, manage alert endpoints"
    ),
    "approver": "approve, reject and roll back promotions, read traffic",
}


class UnknownRole(ValueError):
    """The role name is not in the role table."""


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@dataclass(frozen=True)
class RoleState:
    name: str
    created: bool
    changed: bool


def roles_setup() -> list[RoleState]:
    """Create or correct the four groups so each holds exactly its role's permissions."""
    states = []
    for name, dotted in ROLES.items():
        group, created = Group.objects.get_or_create(name=name)
        wanted = {_permission(d).pk for d in dotted}
        held = set(group.permissions.values_list("pk", flat=True))
        if held != wanted:
            group.permissions.set(wanted)
        states.append(RoleState(name=name, created=created, changed=held != wanted))
    return states


def role_grant(*, username: str, role: str) -> None:
    """Put an existing account in a role's group (the groups are set up first)."""
    if role not in ROLES:
        raise UnknownRole(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    roles_setup()
    user = get_user_model().objects.get(username=username)
    user.groups.add(Group.objects.get(name=role))
