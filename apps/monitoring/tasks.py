"""django-q2 entry points for monitoring."""

from apps.monitoring.services.drift_checks import drift_report_create
from apps.serving.retention import inference_log_archive


def drift_check_task() -> str:
    """The scheduled drift check: one DriftReport per run (and maybe a retrain)."""
    report = drift_report_create(trigger="schedule")
    return f"drift report {report.pk}: {report.verdict} over {report.rows} rows"


def inference_archive_task() -> str:
    """The scheduled retention: archive and remove inference rows past the retention."""
    result = inference_log_archive()
    return f"archived {result.rows} inference rows in {result.files} files before {result.cutoff}"
