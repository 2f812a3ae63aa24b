"""Reads of drift reports: the JSON document, pages, the PSI history of the charts."""

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator

from apps.monitoring.models import DriftReport

REPORTS_PER_PAGE = 25
HISTORY_LIMIT = 200


def drift_report_page(number: str | None) -> Page:
    reports = DriftReport.objects.select_related("retrain_run").defer(
        "features", "performance", "prediction"
    )
    return Paginator(reports, REPORTS_PER_PAGE).get_page(number)


def drift_report_history(limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """The latest `limit` checks that computed PSI, oldest first (the chart's x axis)."""
    recent = (
        DriftReport.objects.filter(max_psi__isnull=False)
        .order_by("-created_at", "-id")
        .values("created_at", "features", "thresholds", "verdict")[:limit]
    )
    return list(reversed(list(recent)))


def performance_history(limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """The latest `limit` checks that estimated performance, oldest first."""
    recent = (
        DriftReport.objects.exclude(performance={})
        .order_by("-created_at", "-id")
        .values("pk", "created_at", "performance")[:limit]
    )
    return [dict(item) for item in reversed(recent) if "estimate" in item["performance"]]


PERFORMANCE_LABELS = {
    "accuracy": "accuracy",
    "precision": "precision (class 1)",
    "recall": "recall (class 1)",
    "auc": "ROC AUC",
}


def performance_rows(performance: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One table row per metric: estimate, band, realised, evaluation figure, dropped or not."""
    if not performance or "estimate" not in performance:
        return []
    realised = performance.get("realised") or {}
    rows = []
    for name, label in PERFORMANCE_LABELS.items():
        cell = performance["estimate"][name]
        rows.append(
            {
                "label": label,
                "value": cell["value"],
                "low": cell["low"],
                "high": cell["high"],
                "realised": realised.get(name),
                "reference": performance.get("reference", {}).get(name),
                "drop": name in performance.get("drops", {}),
            }
        )
    return rows


def drift_thresholds(history: list[dict[str, Any]]) -> tuple[float, float]:
    """(warning, critical) PSI thresholds: those of the latest check, else the settings."""
    latest = history[-1]["thresholds"] if history else {}
    return (
        float(latest.get("threshold", settings.PSI_THRESHOLD)),
        float(latest.get("critical", settings.PSI_CRITICAL)),
    )


def drift_report_get(report_id: int) -> DriftReport | None:
    return DriftReport.objects.select_related("retrain_run").filter(pk=report_id).first()


def drift_report_latest_light() -> DriftReport | None:
    return DriftReport.objects.defer("features", "performance", "prediction").first()


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
