from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.training.management.commands._actor import cli_actor
from apps.training.services.data_versions import TrainingDataError
from apps.training.services.holdouts import HoldoutError
from apps.training.services.training_jobs import reference_holdout_designate


class Command(BaseCommand):
    help = (
        "Freeze the fixed evaluation split of DATA_VERSION as the reference holdout: later jobs "
        "never train on its rows and the gate scores every version on them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("data_version", type=int)
        parser.add_argument("--user", help="who designates it (default: the OS account)")

    def handle(self, *args: object, data_version: int, **options: object) -> None:
        actor = cli_actor(options["user"])  # type: ignore[arg-type]
        try:
            holdout = reference_holdout_designate(data_version_id=data_version, actor=actor)
        except (HoldoutError, TrainingDataError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{holdout} ({holdout.n_positives} survivors), designated by {actor}")
