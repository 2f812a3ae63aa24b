from django.core.management.base import BaseCommand

from apps.monitoring.schedules import schedules_setup


class Command(BaseCommand):
    help = "Create or update the named django-q2 schedules (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        for line in schedules_setup():
            self.stdout.write(line)
