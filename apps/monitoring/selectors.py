"""Reads of drift reports and incidents: the JSON document, pages, histories, the PSI charts."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator

from apps.monitoring.models import DriftIncident, DriftReport
from apps.training.models import ModelVersion, TrainingRun

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


def drift_report_summary(report: DriftReport) -> str:
    """One line saying what a check found; a check that computed no PSI says "not checked"."""
    if not report.checked:
        reason = report.error or (
            f"{report.rows} rows, fewer than the {report.thresholds.get('min_rows', '?')} "
            "a window needs"
        )
        return f"not checked: {reason}"
    return (
        f"{report.get_verdict_display()} on v{report.model_version}'s traffic: "
        f"max PSI {report.max_psi:.3f} over {report.rows} rows"
    )


INCIDENT_HISTORY_LIMIT = 50
INCIDENTS_SHOWN = 10


@dataclass(frozen=True)
class IncidentEvent:
    """One line of an incident's history: a check, a retrain, a candidate's fate, the closing."""

    at: datetime
    kind: str
    text: str
    report_id: int | None = None
    run_id: int | None = None


def drift_incident_open() -> DriftIncident | None:
    return DriftIncident.objects.filter(status=DriftIncident.Status.OPEN).first()


def drift_incident_get(incident_id: int) -> DriftIncident | None:
    return DriftIncident.objects.filter(pk=incident_id).first()


def drift_incidents_recent(limit: int = INCIDENTS_SHOWN) -> list[DriftIncident]:
    return list(DriftIncident.objects.all()[:limit])


def _report_events(incident: DriftIncident, reports: list[DriftReport]) -> list[IncidentEvent]:
    events = []
    for report in reports:
        kind = "check"
        if report.pk == incident.opened_by_id:
            kind = "opened"
        elif report.pk == incident.closed_by_report_id:
            kind = "resolved"
        text = drift_report_summary(report)
        events.append(IncidentEvent(report.created_at, kind, text, report_id=report.pk))
        if report.drifted and report.retrain_note:
            events.append(
                IncidentEvent(
                    report.created_at,
                    "retrain" if report.retrain_run_id else "no retrain",
                    report.retrain_note,
                    report_id=report.pk,
                    run_id=report.retrain_run_id,
                )
            )
    return events


def _version_event(version: ModelVersion) -> IncidentEvent:
    run = version.training_run_id
    if version.status == ModelVersion.Status.REJECTED:
        failed = [r for r in version.gate_evidence.get("reasons", []) if r.startswith("FAIL")]
        why = "; ".join(failed) or version.gate_evidence.get("error", "see the version")
        return IncidentEvent(
            version.created_at, "candidate rejected", f"v{version.version}: {why}", run_id=run
        )
    if version.status == ModelVersion.Status.CANDIDATE:
        text = f"v{version.version} passed the gate and waits for approval"
        return IncidentEvent(version.created_at, "candidate waiting", text, run_id=run)
    at = version.champion_since or version.created_at
    text = f"v{version.version} became champion"
    return IncidentEvent(at, "promoted", text, run_id=run)


def _run_events(run_ids: list[int]) -> list[IncidentEvent]:
    events = [
        _version_event(version)
        for version in ModelVersion.objects.filter(training_run_id__in=run_ids).only(
            "version", "status", "gate_evidence", "training_run_id", "created_at", "champion_since"
        )
    ]
    failed = TrainingRun.objects.filter(pk__in=run_ids, status=TrainingRun.Status.FAILED)
    for run in failed.only("error", "finished_at", "created_at"):
        at = run.finished_at or run.created_at
        events.append(IncidentEvent(at, "retrain failed", run.error[:200], run_id=run.pk))
    return events


def drift_incident_history(
    incident: DriftIncident, limit: int = INCIDENT_HISTORY_LIMIT
) -> list[IncidentEvent]:
    """What happened since the incident opened, oldest first (its latest `limit` checks)."""
    latest = incident.reports.defer("features").order_by("-created_at", "-id")[:limit]
    reports = list(reversed(latest))
    events = _report_events(incident, reports)
    events += _run_events([r.retrain_run_id for r in reports if r.retrain_run_id])
    if incident.status == DriftIncident.Status.ACKNOWLEDGED and incident.closed_at:
        text = f"acknowledged by {incident.acknowledged_by}: {incident.note}"
        events.append(IncidentEvent(incident.closed_at, "acknowledged", text))
    return sorted(events, key=lambda event: event.at)


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
        "incident": report.incident_id,
    }
