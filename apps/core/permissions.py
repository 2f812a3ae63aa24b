"""One rule for every door: an action is allowed when the user holds its Django permission.

The API (DRF permission classes), the dashboard (`permission_required`) and the commands all ask
`user.has_perm(codename)`, so a token acts with exactly its user's permissions and superusers keep
everything. The codenames live with their floor (`apps/<app>/permissions.py`); the one below has
no floor of its own.
"""

from typing import Any

from rest_framework.permissions import BasePermission

# Look at the dashboard's pages (the permission row lives on training's DataVersion).
VIEW_DASHBOARD = "training.view_dashboard"


class PermissionDenied(Exception):
    """A named actor lacks the permission an action needs (commands turn it into an error)."""


def requires(permission: str) -> type[BasePermission]:
    """A DRF permission class allowing authenticated users who hold `permission`."""

    class HasPermission(BasePermission):
        message = f"this needs the permission {permission}"

        def has_permission(self, request: Any, view: Any) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(permission))

    HasPermission.__name__ = HasPermission.__qualname__ = f"Requires[{permission}]"
    return HasPermission


def actor_check(*, username: str, permission: str) -> bool:
    """True when `username` is an account; PermissionDenied when that account lacks `permission`.

    False means no such account: the caller decides whether a free-text name may act.
    """
    from django.contrib.auth import get_user_model  # app registry is ready by the time this runs

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return False
    if not (user.is_active and user.has_perm(permission)):
        raise PermissionDenied(f"user {username!r} lacks the permission {permission}")
    return True
