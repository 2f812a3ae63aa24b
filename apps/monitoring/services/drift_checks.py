"""Drift checks: bin the champion's logged traffic in SQL, compare with its baseline, record."""

import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Case, Count, IntegerField, Value, When
from django.utils import timezone

from apps.core.features import LOG_COLUMNS
from apps.monitoring import psi
from apps.monitoring.models import DriftReport
from apps.monitoring.services.baselines import drift_baseline_for, noise_floors_for
from apps.monitoring.services.incidents import drift_incident_track
from apps.monitoring.services.performance_estimates import performance_window
from apps.monitoring.services.retraining import drift_retrain_trigger
from apps.serving.models import InferenceLog
from apps.training.models import ModelVersion
from apps.training.selectors.model_versions import model_version_champion

logger = logging.getLogger(__name__)


def _bin_case(name: str, feature: psi.FeatureBaseline) -> Case:
    """The psi module's bin rule as SQL: CASE WHEN ... THEN bin index END."""
    column = LOG_COLUMNS[name]
    size = psi.bin_count(feature)
    missing = When(**{f"{column}__isnull": True}, then=Value(size - 1))
    if feature["kind"] == "numeric":
        edges = feature["edges"]
        whens = [When(**{f"{column}__lte": edge}, then=Value(i)) for i, edge in enumerate(edges)]
        return Case(missing, *whens, default=Value(len(edges)), output_field=IntegerField())
    levels = feature["levels"]
    typed = [int(level) if name == "Pclass" else level for level in levels]
    whens = [When(**{column: level}, then=Value(j)) for j, level in enumerate(typed)]
    return Case(missing, *whens, default=Value(len(levels)), output_field=IntegerField())


def window_counts(
    baseline: psi.Baseline, *, version: int, start: datetime, end: datetime
) -> tuple[int, dict[str, np.ndarray]]:
    """Bin counts per feature of the logged rows in (start, end], one GROUP BY per feature."""
    rows = InferenceLog.objects.filter(
        model_version=version, created_at__gt=start, created_at__lte=end
    )
    counts: dict[str, np.ndarray] = {}
    total = 0
    for name, feature in baseline["features"].items():
        grouped = rows.annotate(drift_bin=_bin_case(name, feature)).values("drift_bin")
        histogram = np.zeros(psi.bin_count(feature), dtype=np.int64)
        for item in grouped.annotate(n=Count("id")).order_by():
            histogram[item["drift_bin"]] = item["n"]
        counts[name] = histogram
        total = int(histogram.sum())
    return total, counts


def _window(champion: ModelVersion, now: datetime) -> tuple[datetime, datetime]:
    """From the end of the last conclusive check (or the promotion), at most DRIFT_WINDOW_HOURS."""
    earliest = now - timedelta(hours=settings.DRIFT_WINDOW_HOURS)
    previous = (
        DriftReport.objects.filter(model_version=champion.version)
        .exclude(verdict__in=[DriftReport.Verdict.INSUFFICIENT, DriftReport.Verdict.ERROR])
        .order_by("-window_end")
        .first()
    )
    start = previous.window_end if previous else (champion.champion_since or earliest)
    return max(start, earliest), now


def _features_document(
    baseline: psi.Baseline, counts: dict[str, np.ndarray], result: psi.DriftResult
) -> dict[str, Any]:
    by_name = {item.feature: item for item in result.features}
    document = {}
    for name, feature in baseline["features"].items():
        observed = counts[name]
        total = max(int(observed.sum()), 1)
        item = by_name.get(name)
        document[name] = {
            "psi": item.psi if item else None,
            "floor": item.floor if item else None,
            "drifted": bool(item and item.drifted),
            "labels": feature["labels"],
            "expected": feature["proportions"],
            "actual": (observed / total).tolist(),
            "counts": observed.tolist(),
        }
    return document


def drift_report_create(*, trigger: str = "manual", now: datetime | None = None) -> DriftReport:
    """Check the champion's recent traffic for drift, record a DriftReport, maybe retrain."""
    now = now or timezone.now()
    thresholds = {
        "threshold": settings.PSI_THRESHOLD,
        "critical": settings.PSI_CRITICAL,
        "min_rows": settings.MIN_INFER_ROWS,
    }
    champion = model_version_champion()
    baseline = drift_baseline_for(champion) if champion else None
    if champion is None or baseline is None:
        report = DriftReport.objects.create(
            window_start=now,
            window_end=now,
            verdict=DriftReport.Verdict.INSUFFICIENT,
            thresholds=thresholds,
            trigger=trigger,
            error="no champion with a drift baseline yet: nothing to compare with",
        )
        drift_incident_track(report=report)
        return report
    start, end = _window(champion, now)
    rows, counts = window_counts(baseline.baseline, version=champion.version, start=start, end=end)
    floors = noise_floors_for(baseline, rows) if rows >= settings.MIN_INFER_ROWS else {}
    result = psi.drift_evaluate(
        baseline.baseline,
        counts,
        threshold=settings.PSI_THRESHOLD,
        critical=settings.PSI_CRITICAL,
        min_rows=settings.MIN_INFER_ROWS,
        floors=floors or None,
    )
    performance, prediction = performance_window(champion=champion, start=start, end=end)
    verdict: str = result.verdict
    if performance.get("drops") and verdict == DriftReport.Verdict.NONE:
        verdict = DriftReport.Verdict.WARNING  # an estimated drop is a drift signal of its own
    report = DriftReport.objects.create(
        window_start=start,
        window_end=end,
        rows=rows,
        model_version=champion.version,
        verdict=verdict,
        performance=performance,
        prediction=prediction,
        max_psi=result.max_psi,
        thresholds=thresholds,
        trigger=trigger,
        features=_features_document(baseline.baseline, counts, result),
    )
    if report.drifted:
        drift_retrain_trigger(report=report)
    drift_incident_track(report=report)
    return report
