from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.monitoring.services.incidents import IncidentError, drift_incident_acknowledge


class Command(BaseCommand):
    help = "Acknowledge an open drift incident with a note saying what was done or decided."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("incident", type=int, help="the incident's number")
        parser.add_argument("--note", required=True, help="what was done or decided, and why")
        parser.add_argument("--by", default="command line", help="who acknowledges (a name)")

    def handle(self, *args: object, **options: object) -> None:
        try:
            incident = drift_incident_acknowledge(
                incident_id=int(options["incident"]),  # type: ignore[call-overload]
                actor=str(options["by"]),
                note=str(options["note"]),
            )
        except IncidentError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"drift incident {incident.pk} acknowledged by {incident.acknowledged_by}"
        )
