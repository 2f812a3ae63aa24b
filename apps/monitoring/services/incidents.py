"""Drift incidents: a drifted check opens one; it stays open until it is handled.

Handled means a new champion is serving and a check of its traffic is clean, or a person
acknowledged it with a note. Small windows, errors and clean windows of the drifted champion keep
it open: they say nothing about whether the drift went away.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.monitoring.models import DriftIncident, DriftReport

SEVERITY: dict[str, int] = {DriftReport.Verdict.WARNING: 1, DriftReport.Verdict.CRITICAL: 2}


class IncidentError(Exception):
    """An acknowledgement that cannot be done (no such open incident, or no note)."""


def _opens(verdict: str) -> bool:
    if settings.DRIFT_INCIDENT_ON == "warning":
        return verdict in SEVERITY
    return verdict == DriftReport.Verdict.CRITICAL


def _drifted_features(report: DriftReport) -> list[str]:
    return sorted(name for name, doc in (report.features or {}).items() if doc.get("drifted"))


def _resolves(incident: DriftIncident, report: DriftReport) -> bool:
    """A clean, conclusive check of a champion other than the one that drifted."""
    return (
        report.verdict == DriftReport.Verdict.NONE
        and report.model_version is not None
        and report.model_version != incident.model_version
    )


def _escalate(incident: DriftIncident, report: DriftReport) -> None:
    # The champion that drifted last is the one a clean check has to replace.
    incident.model_version = report.model_version or incident.model_version
    if SEVERITY.get(report.verdict, 0) > SEVERITY.get(incident.verdict, 0):
        incident.verdict = report.verdict
    incident.features = sorted({*incident.features, *_drifted_features(report)})


def drift_incident_track(*, report: DriftReport) -> DriftIncident | None:
    """Open, keep or resolve the drift incident after a check; attach the check to it."""
    with transaction.atomic():
        incident = DriftIncident.objects.select_for_update().filter(status="open").first()
        if incident is None:
            if not (_opens(report.verdict) and report.model_version is not None):
                return None
            incident = DriftIncident.objects.create(
                opened_at=report.created_at,
                opened_by=report,
                model_version=report.model_version,
                verdict=report.verdict,
                features=_drifted_features(report),
            )
        elif report.drifted:
            _escalate(incident, report)
            incident.save(update_fields=["model_version", "verdict", "features"])
        elif _resolves(incident, report):
            incident.status = DriftIncident.Status.RESOLVED
            incident.closed_at = report.created_at
            incident.closed_by_report = report
            incident.save(update_fields=["status", "closed_at", "closed_by_report"])
        report.incident = incident
        report.save(update_fields=["incident"])
    return incident


def drift_incident_acknowledge(*, incident_id: int, actor: str, note: str) -> DriftIncident:
    """Close an open incident by a person's decision, with who and why."""
    note = note.strip()
    if not note:
        raise IncidentError("an acknowledgement needs a note saying what was done or decided")
    with transaction.atomic():
        incident = DriftIncident.objects.select_for_update().filter(pk=incident_id).first()
        if incident is None:
            raise IncidentError(f"there is no drift incident {incident_id}")
        if not incident.is_open:
            raise IncidentError(f"drift incident {incident_id} is already {incident.status}")
        incident.status = DriftIncident.Status.ACKNOWLEDGED
        incident.closed_at = timezone.now()
        incident.acknowledged_by = actor
        incident.note = note
        incident.save(update_fields=["status", "closed_at", "acknowledged_by", "note"])
    return incident
