from django.core.management.base import BaseCommand

from apps.monitoring.services.roles import ROLES, roles_setup


class Command(BaseCommand):
    help = "Create or correct the groups viewer, labeller, operator, approver (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        for state in roles_setup():
            done = "created" if state.created else ("corrected" if state.changed else "unchanged")
            self.stdout.write(f"role {state.name}: {', '.join(ROLES[state.name])} ({done})")
