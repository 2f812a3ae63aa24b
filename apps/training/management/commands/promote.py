from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.training.management.commands._actor import cli_actor
from apps.training.registry import RegistryError, ScorerChecksumError
from apps.training.services.model_versions import PromotionError, model_version_promote


class Command(BaseCommand):
    help = "Approve a candidate version: it becomes the champion (alias moves last)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", type=int)
        parser.add_argument("--user", help="who approves (default: the OS account)")
        parser.add_argument("--note", default="", help="why, for the audit trail")
        parser.add_argument(
            "--force",
            action="store_true",
            help="promote a rejected or retired version anyway (recorded as a manual override)",
        )

    def handle(self, *args: object, version: int, **options: object) -> None:
        actor = cli_actor(options["user"])  # type: ignore[arg-type]
        try:
            promoted = model_version_promote(
                version=version,
                actor=actor,
                note=str(options["note"]),
                force=bool(options["force"]),
            )
        except (PromotionError, RegistryError, ScorerChecksumError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"version {promoted.version} ({promoted.family}) is now the champion; "
            f"recorded as promoted by {actor}"
        )
