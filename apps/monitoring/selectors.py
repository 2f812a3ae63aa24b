from typing import Any

from apps.monitoring.models import DriftReport


def drift_report_document(report: DriftReport) -> dict[str, Any]:
    """A drift report as plain JSON for scripts."""
    return {
        "id": report.pk,
        "created_at": report.created_at.isoformat(),
        "window_start": report.window_start.isoformat(),
        "window_end": report.window_end.isoformat(),
        "rows": report.rows,
        "model_version": report.model_version,
        "verdict": report.verdict,
        "max_psi": report.max_psi,
        "thresholds": report.thresholds,
        "features": {
            name: {"psi": f["psi"], "floor": f["floor"], "drifted": f["drifted"]}
            for name, f in report.features.items()
        },
        "retrain_run": report.retrain_run_id,
        "retrain_note": report.retrain_note,
        "error": report.error,
    }


def drift_report_latest() -> DriftReport | None:
    return DriftReport.objects.first()
