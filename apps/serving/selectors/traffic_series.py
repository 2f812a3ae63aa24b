"""Time series of the inference log for the overview's charts, aggregated in the database."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Case, Count, F, IntegerField, Max, Sum, When
from django.db.models.functions import Cast, Floor, Least, TruncDay, TruncHour
from django.utils import timezone

from apps.serving.models import InferenceLog


def traffic_by_hour(*, hours: int = 24, now: datetime | None = None) -> list[dict[str, Any]]:
    """Requests, mean and worst latency per hour of the last `hours` hours (one GROUP BY)."""
    since = (now or timezone.now()) - timedelta(hours=hours)
    rows = (
        InferenceLog.objects.filter(created_at__gt=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(requests=Count("id"), mean_ms=Avg("latency_ms"), max_ms=Max("latency_ms"))
        .order_by("hour")
    )
    return [dict(row) for row in rows]


def realised_accuracy_by_day(
    *, days: int = 30, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Labelled requests and how many the model got right, per day (one GROUP BY)."""
    since = (now or timezone.now()) - timedelta(days=days)
    right = Case(When(label=F("true_label"), then=1), default=0, output_field=IntegerField())
    rows = (
        InferenceLog.objects.filter(created_at__gt=since, true_label__isnull=False)
        .annotate(day=TruncDay("created_at"))
        .values("day")
        .annotate(labelled=Count("id"), correct=Sum(right))
        .order_by("day")
    )
    return [dict(row) for row in rows]


# Scores are binned to this many equal slots for the realised AUC: a positive and a negative in
# one slot count as half a correct ordering (the usual rule for ties), so the figure is within the
# share of such pairs (small at 200 slots) of the exact Mann-Whitney AUC, from a bounded query.
AUC_BINS = 200


def realised_auc_by_day(*, days: int = 30, now: datetime | None = None) -> dict[Any, float | None]:
    """AUC of the served scores against the labels, per day (None: one class only that day)."""
    since = (now or timezone.now()) - timedelta(days=days)
    slot = Least(Cast(Floor(F("prob_survive") * AUC_BINS), IntegerField()), AUC_BINS - 1)
    rows = (
        InferenceLog.objects.filter(created_at__gt=since, true_label__isnull=False)
        .annotate(day=TruncDay("created_at"), slot=slot)
        .values("day", "true_label", "slot")
        .annotate(n=Count("id"))
        .order_by("day", "slot")
    )
    counts: dict[Any, list[list[int]]] = {}
    for row in rows:
        per_slot = counts.setdefault(row["day"], [[0, 0] for _ in range(AUC_BINS)])
        per_slot[row["slot"]][1 if row["true_label"] else 0] += row["n"]
    return {day: binned_auc(per_slot) for day, per_slot in counts.items()}


def binned_auc(per_slot: list[list[int]]) -> float | None:
    """AUC from [negatives, positives] per ascending score slot; ties within a slot count half."""
    negatives_below = ordered = 0.0
    for negatives, positives in per_slot:
        ordered += positives * (negatives_below + negatives / 2)
        negatives_below += negatives
    total_positives = sum(p for _, p in per_slot)
    if not total_positives or not negatives_below:
        return None
    return ordered / (total_positives * negatives_below)
