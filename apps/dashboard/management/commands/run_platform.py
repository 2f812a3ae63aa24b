import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.dashboard.supervisor import platform_run


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and the task worker (qcluster) until Ctrl-C."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(
            f"Titanic Ops on http://{settings.WEB_BIND}/ (dashboard, /admin/, /predict_titanic); "
            "worker: django-q2 qcluster. Ctrl-C stops both."
        )
        sys.exit(platform_run())
