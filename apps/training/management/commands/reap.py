from django.core.management.base import BaseCommand

from apps.training.services.recovery import training_run_reap


class Command(BaseCommand):
    help = "Fail abandoned training jobs now and tidy what they left (the scheduled reaper)."

    def handle(self, *args: object, **options: object) -> None:
        for line in training_run_reap().lines():
            self.stdout.write(line)
