"""django-q2 entry points for monitoring."""

from apps.monitoring.services.drift_checks import drift_report_create


def drift_check_task() -> str:
    """The scheduled drift check: one DriftReport per run (and maybe a retrain)."""
    report = drift_report_create(trigger="schedule")
    return f"drift report {report.pk}: {report.verdict} over {report.rows} rows"
