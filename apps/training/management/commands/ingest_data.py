from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.training.contract import ContractError
from apps.training.dataset import DatasetUnavailable
from apps.training.dvc import DvcError
from apps.training.services.data_versions import data_version_ingest_file


class Command(BaseCommand):
    help = "Validate a Titanic CSV (default: the built-in Kaggle train.csv), version it with DVC."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, help="CSV file to ingest")

    def handle(self, *args: object, path: Path | None, **options: object) -> None:
        try:
            result = data_version_ingest_file(path=path)
        except (ContractError, DatasetUnavailable, DvcError) as exc:
            raise CommandError(f"ingest rejected: {exc}") from None
        version = result.data_version
        verb = "created" if result.created else "unchanged (same bytes as)"
        self.stdout.write(
            f"{verb} data version {version.pk}: md5 {version.md5}, {version.rows} rows, "
            f"{version.positives} survivors ({version.positive_rate:.1%})"
        )
