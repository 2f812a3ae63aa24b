import json
import sys

from django.core.management.base import BaseCommand, CommandParser

from apps.monitoring.selectors import drift_report_document
from apps.monitoring.services.drift_checks import drift_report_create

EXIT_DRIFT = 42


class Command(BaseCommand):
    help = "Check the champion's recent traffic for drift. Exit 0: none or too few rows; 42: drift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="print only the JSON report (no summary line)"
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            report = drift_report_create(trigger="cli")
        except Exception as exc:  # exit code 1 for scripts, with the reason
            self.stderr.write(f"drift check failed: {type(exc).__name__}: {exc}")
            sys.exit(1)
        self.stdout.write(json.dumps(drift_report_document(report), indent=2))
        if not options["json"]:
            self.stdout.write(
                f"verdict: {report.verdict} ({report.rows} rows, champion "
                f"v{report.model_version}); {report.retrain_note or 'no retrain'}"
            )
        if report.drifted:
            sys.exit(EXIT_DRIFT)
