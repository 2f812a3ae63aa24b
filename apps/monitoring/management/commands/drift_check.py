import json
import sys

from django.core.management.base import BaseCommand, CommandParser

from apps.monitoring.models import DriftReport
from apps.monitoring.selectors import drift_report_document, drift_report_summary
from apps.monitoring.services.drift_checks import drift_report_create

EXIT_DRIFT = 42


def _human(report: DriftReport) -> list[str]:
    lines = [f"drift report {report.pk}: {drift_report_summary(report)}"]
    drifted = [name for name, doc in report.features.items() if doc.get("drifted")]
    if drifted:
        lines.append(f"drifted features: {', '.join(sorted(drifted))}")
    if report.retrain_note:
        lines.append(f"retrain: {report.retrain_note}")
    if report.incident_id is not None:
        state = report.incident.status if report.incident else "open"
        lines.append(
            f"drift incident {report.incident_id} is {state}"
            + (
                f" — acknowledge with `manage.py drift_ack {report.incident_id} --note ...`"
                if state == "open"
                else ""
            )
        )
    return lines


class Command(BaseCommand):
    help = (
        "Check the champion's recent traffic for drift and print a short summary (--json: the "
        "report). Exit 0: none or too few rows; 42: drift; 1: the check failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the JSON report instead")

    def handle(self, *args: object, **options: object) -> None:
        try:
            report = drift_report_create(trigger="cli")
        except Exception as exc:  # exit code 1 for scripts, with the reason
            self.stderr.write(f"drift check failed: {type(exc).__name__}: {exc}")
            sys.exit(1)
        if options["json"]:
            self.stdout.write(json.dumps(drift_report_document(report), indent=2))
        else:
            self.stdout.write("\n".join(_human(report)))
        if report.drifted:
            sys.exit(EXIT_DRIFT)
