import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.dashboard.supervisor import mlflow_ui_command, platform_run


class Command(BaseCommand):
    help = "Run the web server (gunicorn), the worker (qcluster) and the MLflow UI until Ctrl-C."

    def handle(self, *args: object, **options: object) -> None:
        _, mlflow_ui = mlflow_ui_command()
        self.stdout.write(
            f"Titanic Ops on http://{settings.WEB_BIND}/ (dashboard, /admin/, /predict_titanic); "
            f"worker: django-q2 qcluster; MLflow UI {mlflow_ui}. Ctrl-C stops them all."
        )
        sys.exit(platform_run())
