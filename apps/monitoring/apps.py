from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # Training records an "await" event; monitoring replays the candidate from the floor above.
        from apps.monitoring import signals  # noqa: F401
