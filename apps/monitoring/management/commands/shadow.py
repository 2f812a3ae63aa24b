from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.monitoring.services.shadow_replays import ShadowReplayError, shadow_replay_create


class Command(BaseCommand):
    help = "Replay recent logged requests through version V and the champion (read-only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", type=int)
        parser.add_argument("--rows", type=int, default=None, help="default SHADOW_REPLAY_ROWS")
        parser.add_argument(
            "--since-champion",
            action="store_true",
            help="every request since the champion was promoted (--rows still caps it)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            replay = shadow_replay_create(
                version=options["version"],
                limit=options["rows"],
                since_champion=options["since_champion"],
            )
        except ShadowReplayError as exc:
            raise CommandError(str(exc)) from None
        result = replay.result
        self.stdout.write(
            f"shadow v{replay.candidate_version} vs champion v{replay.champion_version}: "
            f"{replay.rows} rows in {replay.seconds:.3f} s, agreement {result['agreement']:.4f}, "
            f"{result['flips']} flipped labels"
        )
        labelled = result["labelled"]
        if labelled.get("accuracy"):
            acc = labelled["accuracy"]
            self.stdout.write(
                f"labelled {labelled['rows']}: accuracy {acc['candidate']:.4f} vs "
                f"{acc['champion']:.4f} (delta 95% CI {acc['ci_low']:+.4f}..{acc['ci_high']:+.4f})"
            )
