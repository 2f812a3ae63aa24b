from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.training.management.commands._actor import cli_actor
from apps.training.registry import RegistryError, ScorerChecksumError
from apps.training.services.model_versions import PromotionError, model_version_rollback


class Command(BaseCommand):
    help = "Move the champion back to the previous champion."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="who rolls back (default: the OS account)")
        parser.add_argument("--note", default="", help="why, for the audit trail")

    def handle(self, *args: object, **options: object) -> None:
        actor = cli_actor(options["user"])  # type: ignore[arg-type]
        try:
            restored = model_version_rollback(actor=actor, note=str(options["note"]))
        except (PromotionError, RegistryError, ScorerChecksumError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"rolled back: version {restored.version} is the champion again")
