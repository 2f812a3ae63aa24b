from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.monitoring.simulation import SHIFTS, traffic_simulate


class Command(BaseCommand):
    help = "Send real HTTP predictions (rows from the current data, optionally shifted) and labels."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, required=True, help="how many requests")
        parser.add_argument("--shift", choices=SHIFTS, default="none")
        parser.add_argument("--with-labels", action="store_true", help="post true labels too")
        parser.add_argument("--url", default="http://127.0.0.1:9090", help="the running server")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: object, **options: object) -> None:
        if int(options["rows"]) < 1:  # type: ignore[call-overload]
            raise CommandError("--rows must be at least 1")
        try:
            result = traffic_simulate(
                rows=int(options["rows"]),  # type: ignore[call-overload]
                shift=str(options["shift"]),
                with_labels=bool(options["with_labels"]),
                base_url=str(options["url"]),
                seed=int(options["seed"]),  # type: ignore[call-overload]
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        versions = ", ".join(f"v{v}: {n}" for v, n in sorted(result.versions.items())) or "-"
        self.stdout.write(
            f"sent {result.sent}, answered {result.answered} ({versions}), "
            f"labelled {result.labelled}, errors {dict(result.errors) or 'none'}"
        )
        if result.answered == 0:
            raise CommandError("no request was answered: is the server running at --url?")
