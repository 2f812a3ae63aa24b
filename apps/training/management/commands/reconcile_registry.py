from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.training.registry import RegistryError
from apps.training.services.registry_sync import (
    registry_champion_check,
    registry_champion_reconcile,
    registry_schedule_setup,
)


class Command(BaseCommand):
    help = "Point MLflow's champion alias at the database's champion (the source of truth)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="only compare and report; exit 1 on disagreement"
        )
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="(re)create the worker's periodic check (REGISTRY_CHECK_MINUTES) and exit",
        )

    def handle(self, *args: object, check: bool, schedule: bool, **options: object) -> None:
        if schedule:
            self.stdout.write(registry_schedule_setup())
            return
        try:
            found = registry_champion_check() if check else registry_champion_reconcile()
        except RegistryError as exc:
            raise CommandError(str(exc)) from None
        line = (
            f"database champion v{found.database_version}, "
            f"registry alias v{found.registry_version}: "
            + ("agree" if found.agrees else f"DISAGREE {found.error}".strip())
        )
        if not found.agrees:
            raise CommandError(line)
        self.stdout.write(line)
