from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.training.management.commands._actor import cli_actor
from apps.training.services.model_versions import PromotionError, model_version_reject


class Command(BaseCommand):
    help = "Reject a candidate version that waits for approval."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", type=int)
        parser.add_argument("--user", help="who rejects (default: the OS account)")
        parser.add_argument("--note", default="", help="why, for the audit trail")

    def handle(self, *args: object, version: int, **options: object) -> None:
        actor = cli_actor(options["user"])  # type: ignore[arg-type]
        try:
            model_version_reject(version=version, actor=actor, note=str(options["note"]))
        except PromotionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"version {version} rejected by {actor}")
