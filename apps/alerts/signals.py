"""Turn what training and monitoring record into alerts (they never import this floor)."""

import logging
from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.alerts import services
from apps.alerts.models import Kind
from apps.monitoring.models import DriftIncident, DriftReport
from apps.training.models import PromotionEvent, TrainingRun
from apps.training.services.registry_sync import RegistryCheck, registry_disagreement_found

logger = logging.getLogger(__name__)


def alert_emit(**kwargs: Any) -> None:
    """Emit, but never let telling people break the promotion, run or check that happened."""
    try:
        services.alert_emit(**kwargs)
    except Exception:
        logger.exception("alert %s could not be recorded", kwargs.get("kind"))


_PROMOTION_KINDS: dict[str, Kind] = {
    PromotionEvent.Action.PROMOTE: Kind.PROMOTED,
    PromotionEvent.Action.REJECT: Kind.REJECTED,
    PromotionEvent.Action.ROLLBACK: Kind.ROLLED_BACK,
    PromotionEvent.Action.AWAIT: Kind.CANDIDATE_WAITING,
}


@receiver(post_save, sender=PromotionEvent, dispatch_uid="alerts-promotion-event")
def promotion_event_alert(sender: Any, instance: PromotionEvent, created: bool, **_: Any) -> None:
    kind = _PROMOTION_KINDS.get(instance.action)
    if not created or kind is None:
        return
    subject = (
        f"{kind.label}: v{instance.from_version or '-'} -> v{instance.to_version or '-'}"
        f" ({instance.reason}, by {instance.actor})"
    )
    data = {
        "from_version": instance.from_version,
        "to_version": instance.to_version,
        "reason": instance.reason,
        "actor": instance.actor,
        "note": instance.note,
    }
    alert_emit(kind=kind, subject=subject, data=data, dedupe_key=f"promotion-event-{instance.pk}")


@receiver(post_save, sender=TrainingRun, dispatch_uid="alerts-training-failed")
def training_failed_alert(sender: Any, instance: TrainingRun, **_: Any) -> None:
    if instance.status != TrainingRun.Status.FAILED:
        return
    alert_emit(
        kind=Kind.TRAINING_FAILED,
        subject=f"training run {instance.pk} failed",
        data={"training_run_id": instance.pk, "error": instance.error[:2000]},
        dedupe_key=f"training-failed-{instance.pk}",
    )


@receiver(post_save, sender=DriftReport, dispatch_uid="alerts-drift-report")
def drift_report_alert(sender: Any, instance: DriftReport, created: bool, **_: Any) -> None:
    if not created:
        return
    data = {"report_id": instance.pk, "model_version": instance.model_version}
    # Hook: once drift incidents exist, their open/close emit DRIFT_INCIDENT_OPENED/CLOSED and
    # this per-report alert can go; until then every critical report is told.
    if instance.verdict == DriftReport.Verdict.CRITICAL:
        alert_emit(
            kind=Kind.DRIFT_CRITICAL,
            subject=f"critical drift on v{instance.model_version} (max PSI {instance.max_psi:.3f})",
            data={**data, "max_psi": instance.max_psi, "rows": instance.rows},
            dedupe_key=f"drift-critical-{instance.pk}",
        )
    drops = (instance.performance or {}).get("drops") or {}
    if drops:
        alert_emit(
            kind=Kind.PERFORMANCE_DROP,
            subject=f"estimated performance of v{instance.model_version} dropped: "
            + ", ".join(f"{name} -{value:.3f}" for name, value in sorted(drops.items())),
            data={**data, "drops": drops},
            dedupe_key=f"performance-drop-{instance.pk}",
        )


@receiver(post_save, sender=DriftIncident, dispatch_uid="alerts-drift-incident")
def drift_incident_alert(sender: Any, instance: DriftIncident, created: bool, **_: Any) -> None:
    data = {
        "incident_id": instance.pk,
        "model_version": instance.model_version,
        "verdict": instance.verdict,
        "features": instance.features,
    }
    if created:
        alert_emit(
            kind=Kind.DRIFT_INCIDENT_OPENED,
            subject=f"drift incident {instance.pk} opened on v{instance.model_version} "
            f"({instance.verdict}: {', '.join(instance.features) or 'no feature named'})",
            data=data,
            dedupe_key=f"drift-incident-opened-{instance.pk}",
        )
    elif not instance.is_open:
        how = (
            f"acknowledged by {instance.acknowledged_by}: {instance.note}"
            if instance.status == DriftIncident.Status.ACKNOWLEDGED
            else "a new champion's traffic checked clean"
        )
        alert_emit(
            kind=Kind.DRIFT_INCIDENT_CLOSED,
            subject=f"drift incident {instance.pk} closed ({how})"[:300],
            data={**data, "status": instance.status, "note": instance.note},
            dedupe_key=f"drift-incident-closed-{instance.pk}",
        )


@receiver(registry_disagreement_found, dispatch_uid="alerts-registry-disagreement")
def registry_disagreement_alert(sender: Any, check: RegistryCheck, **_: Any) -> None:
    found = check.error or f"alias points at v{check.registry_version}"
    alert_emit(
        kind=Kind.REGISTRY_DISAGREEMENT,
        subject=f"registry and database disagree: database champion v{check.database_version}, "
        f"{found}; run manage.py reconcile_registry",
        data={
            "database_version": check.database_version,
            "registry_version": check.registry_version,
            "error": check.error,
            "checked_at": check.checked_at,
        },
    )
