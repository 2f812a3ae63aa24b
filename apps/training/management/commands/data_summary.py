import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.training.models import DataVersion
from apps.training.selectors.data_versions import data_version_current


class Command(BaseCommand):
    help = "Show missingness and basic statistics of a data version (default: the current one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", nargs="?", type=int, help="data version id")
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")

    def handle(self, *args: object, version: int | None, **options: object) -> None:
        data_version = (
            DataVersion.objects.filter(pk=version).first() if version else data_version_current()
        )
        if data_version is None:
            raise CommandError("no such data version (run manage.py ingest_data first)")
        if options["json"]:
            self.stdout.write(json.dumps(_as_dict(data_version), indent=2))
            return
        self.stdout.write(
            f"data version {data_version.pk}  md5 {data_version.md5}  rows {data_version.rows}  "
            f"survivors {data_version.positives} ({data_version.positive_rate:.1%})\n"
            f"source {data_version.source}\n"
        )
        self.stdout.write(
            f"{'column':<10}{'missing':>8}{'min':>9}{'median':>9}{'mean':>9}{'max':>9}  levels"
        )
        for name, column in data_version.summary.items():
            levels = ", ".join(f"{k}={v}" for k, v in column.get("levels", {}).items())
            numbers = [column.get(key) for key in ("min", "median", "mean", "max")]
            cells = "".join(f"{'' if n is None else f'{n:.6g}':>9}" for n in numbers)
            self.stdout.write(f"{name:<10}{column['missing']:>8}{cells}  {levels}")


def _as_dict(data_version: DataVersion) -> dict[str, object]:
    return {
        "id": data_version.pk,
        "md5": data_version.md5,
        "rows": data_version.rows,
        "positives": data_version.positives,
        "source": data_version.source,
        "created_at": data_version.created_at.isoformat(),
        "missing": data_version.missing,
        "summary": data_version.summary,
    }
