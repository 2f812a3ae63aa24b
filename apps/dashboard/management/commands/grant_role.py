from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.monitoring.services.roles import ROLES, UnknownRole, role_grant


class Command(BaseCommand):
    help = "Put an existing account in a role: " + ", ".join(ROLES)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("role", choices=list(ROLES))

    def handle(self, *args: object, username: str, role: str, **options: object) -> None:
        try:
            role_grant(username=username, role=role)
        except UnknownRole as exc:
            raise CommandError(str(exc)) from None
        except get_user_model().DoesNotExist:
            raise CommandError(f"no account {username!r}") from None
        self.stdout.write(f"{username} is now in role {role}")
