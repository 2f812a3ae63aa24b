import os
import pwd

from django.core.management.base import CommandError

from apps.core.permissions import PermissionDenied, actor_check
from apps.training.permissions import APPROVE


def cli_actor(user: str | None, permission: str = APPROVE) -> str:
    """Who acts from the command line: --user, else the operating-system account.

    A --user naming an account must hold `permission` (the same rule as the API and the
    dashboard); a name that is no account is recorded as given, like the OS account, because
    whoever runs manage.py already has the server's shell.
    """
    if not user:
        return f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
    try:
        actor_check(username=user, permission=permission)
    except PermissionDenied as exc:
        raise CommandError(f"refused: {exc}") from None
    return user
