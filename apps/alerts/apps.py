from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "apps.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Training and monitoring record what happened; alerts listens from the floor above them.
        from apps.alerts import signals  # noqa: F401
