import urllib.error

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.monitoring.simulation import SHIFTS, traffic_simulate


def platform_url() -> str:
    """The embedded platform's own address (WEB_BIND), reachable from this machine."""
    host, _, port = settings.WEB_BIND.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 (a bind-all address, not a bind)
        host = "127.0.0.1"
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = "Send real HTTP predictions (rows from the current data, optionally shifted) and labels."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, required=True, help="how many requests")
        parser.add_argument("--shift", choices=SHIFTS, default="none")
        parser.add_argument("--with-labels", action="store_true", help="post true labels too")
        parser.add_argument(
            "--url", default=None, help="the running server (default: the platform's WEB_BIND)"
        )
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: object, **options: object) -> None:
        if int(options["rows"]) < 1:  # type: ignore[call-overload]
            raise CommandError("--rows must be at least 1")
        url = str(options["url"] or platform_url())
        try:
            result = traffic_simulate(
                rows=int(options["rows"]),  # type: ignore[call-overload]
                shift=str(options["shift"]),
                with_labels=bool(options["with_labels"]),
                base_url=url,
                seed=int(options["seed"]),  # type: ignore[call-overload]
            )
        except urllib.error.URLError as exc:
            raise CommandError(
                f"nothing answers at {url} ({exc.reason}): start the platform with `make run`, "
                "or pass --url"
            ) from None
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        versions = ", ".join(f"v{v}: {n}" for v, n in sorted(result.versions.items())) or "-"
        self.stdout.write(
            f"sent {result.sent} to {url}, answered {result.answered} ({versions}), "
            f"labelled {result.labelled}, errors {dict(result.errors) or 'none'}"
        )
        if result.answered == 0:
            raise CommandError(f"no request was answered by {url}: is the platform running?")
